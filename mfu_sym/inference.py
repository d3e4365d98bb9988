"""Inference: prefill, decode steps, the KV cache, bytes moved and the roofline.

Everything is a sympy expression over the model's symbols and the run's: `prompt_len`
(P), `context` (C), `batch` (b), `weight_bits` and `kv_bits` (bits per stored element).

  prefill          b x the model's forward over P tokens, under the model's mask.
  decode step      b x the forward of the token at position C: every per-token cost as
                   the conventions count it (the formulas, or 2 per parameter under a
                   params-based preset such as 6n), attention over keys(C) = C keys
                   (min(C, W) on sliding-window layers) whatever --mask says: a step
                   with a cache computes exactly the keys it holds. Naive MLA adds
                   kv_b_proj re-applied to the C - 1 cached latents
                   (formulas/inference.yaml), as transformers runs it.
  generation       prefill(P) + the decode steps at contexts P+1, ..., C, summed in closed
                   form: sum over t of a + b * keys(t) = a (C - P) + b (total(C) - total(P)),
                   `total` being the mask's closed-form sum (formulas/masks.yaml).
  KV cache         b x per layer: elements per position (memory.yaml: 2 h_kv d_h, or MLA's
                   latent kv_lora_rank + qk_rope_head_dim) x positions held, C on full
                   layers and min(C, W) on window layers, x kv_bits / 8.
  weights          all parameters x weight_bits / 8 (MoE: every expert is resident).
  bytes of a step  weights read + the KV cache read (the positions each layer attends to:
                   DSA holds every position but reads its top-k). Weights read: every parameter once,
                   except that an embedding table is read only at the looked-up rows (one
                   per token, at most the table) unless the LM head shares it; MoE routed
                   experts: the expected number of distinct experts b tokens touch,
                   E (1 - (1 - k/E)^b), under uniform independent top-k routing (exactly k
                   at b = 1), or all E (`experts="all"`). The new token's K/V is counted
                   with the cache; activations and logits are not counted.
  roofline         time >= max(FLOPs / peak, bytes / bandwidth) (Williams et al. 2009);
                   tokens/s <= b / that time.

    >>> inf = Inference(mfu_sym.load("examples/llama3_8b.yaml"), dtype="bf16")
    >>> inf.kv_cache_bytes_per_token()      # symbolic; inf.report(context=8192) for numbers
"""

import functools
from dataclasses import replace
from fractions import Fraction

import sympy

from .errors import UsageError
from .memory import load_data
from .cost import at_position, decode_cost, position_sum
from .experts import DIGITS, EXACT_BITS, expected_experts
from .expr import to_sympy
from .mfu import fraction
from .conventions import MLA_FORMS
from .model import Model

EXPERTS_TOUCHED = ("expected", "all")


def _kept(method):
    """A symbolic method whose expression an Inference computes once per arguments and
    keeps: an Inference is not changed once built, and a report asks for the same
    expressions several times (the weights read by a step, the prefill)."""
    name = method.__name__

    @functools.wraps(method)
    def kept(self, *args, **kwargs):
        key = (name, args, tuple(sorted(kwargs.items())))
        try:
            return self._kept[key]
        except KeyError:
            value = self._kept[key] = method(self, *args, **kwargs)
            return value
    return kept


class Inference:
    """Prefill, decode, KV cache and roofline of one Model at given storage dtypes."""

    def __init__(self, model, *, dtype="bf16", kv_dtype=None, experts="expected", mla_prefill=None,
                 mla_decode=None):
        """`mla_prefill` and `mla_decode` ("naive" or "absorbed") count MLA layers in each
        phase; None: the model's convention (--mla). Serving engines run the prefill naive
        and the decode absorbed (DeepSeek-V2 §2.1.3; vLLM, SGLang)."""
        if experts not in EXPERTS_TOUCHED:
            raise UsageError(None, "experts_touched", f"{experts!r} (expected one of {', '.join(EXPERTS_TOUCHED)})")
        if model.arch.feature("bidirectional"):  # every position sees the ones after it
            raise UsageError(model.arch.source or None, "bidirectional", "the attention sees the positions after "
                             "the query: there is no causal decode step or KV cache to count (derive counts the "
                             "forward and training)")
        self._kept = {}
        self.model = model
        self.experts = experts
        self.data = load_data(model.library)
        self.weight_dtype = self.data.dtype(dtype, "dtype")
        self.kv_dtype = self.data.dtype(kv_dtype if kv_dtype is not None else dtype, "kv_dtype")
        conventions = model.conventions
        for name, form in (("mla_prefill", mla_prefill), ("mla_decode", mla_decode)):
            if form is not None and form not in MLA_FORMS:
                raise UsageError(None, name, f"{form!r} (expected one of {', '.join(MLA_FORMS)})")
        prefill = replace(conventions, mla=mla_prefill or conventions.mla)
        self.prefill_model = model if prefill == conventions else Model(model.arch, prefill, model.library)
        decode = replace(conventions, mask="causal", mla=mla_decode or conventions.mla)
        self.decode_model = model if decode == conventions else Model(model.arch, decode, model.library)
        conventions = decode
        lib = model.library
        sym = lib.symbol
        self.context, self.prompt_len, self.batch = sym("context"), sym("prompt_len"), sym("batch")
        self.weight_bits, self.kv_bits = sym("weight_bits"), sym("kv_bits")
        self._t, self._keys, self._seq_len = sym("t"), sym("keys"), sym("seq_len")
        terms = [(term, self._token_cost(term)) for term in self.decode_model.terms]
        if conventions.mla == "naive" and conventions.flops_from == "formulas":
            cached = lib.formulas["mla_kv_b_proj_cached"]
            terms += [(replace(term, formula=cached), cached.forward) for term in self.decode_model.terms
                      if term.formula.name == "mla_attention_core" and term.flops]
        self.decode_terms = tuple((term, cost) for term, cost in terms if cost != 0)
        caches = [(term, self.data.cache_for(term.formula.name)) for term in self.decode_model.terms]
        caches = [(term, cache) for term, cache in caches if cache is not None]
        missing = [t.formula.name for t in self.decode_model.terms
                   if t.formula.component == "attention_core" and t.formula.forward != 0
                   and self.data.cache_for(t.formula.name) is None]
        if missing:
            from .errors import FormulaError
            raise FormulaError(None, "kv_cache", f"no entry caches the layers of {', '.join(missing)}")
        self.kv_terms = tuple((t, c) for t, c in caches if c.kind == "per_position")
        self.state_terms = tuple((t, c) for t, c in caches if c.kind == "state")

    def _token_cost(self, term):
        """Forward FLOPs of one decode-step token in one of the term's places, in `keys`,
        under the decode model's conventions (the one cost rule, cost.decode_cost)."""
        return decode_cost(term, self.decode_model.conventions)

    # ---- per position and sums over positions (cost.py) -----------------------------
    def _keys_at(self, mask, position):
        return mask.keys.subs(self._t, position)

    def _held(self, term, cache=None):
        """The mask that says how many positions a per-position cache of `term` holds: its
        own, or causal (every position) for a term without one or a cache that holds
        every position (`held: all`: DSA attends to its top-k of them)."""
        if term.mask is None or (cache is not None and cache.held == "all"):
            return self.model.library.masks["causal"]
        return term.mask

    def _at(self, cost, mask, position):
        return at_position(cost, "token", mask, position, self._keys, self._t, self._seq_len)

    def _sum(self, cost, mask, low, high):
        """sum of cost(keys(t)) for t = low+1 .. high, in closed form."""
        return position_sum(cost, "token", mask, low, high, self._keys, self._seq_len)

    # ---- FLOPs ----------------------------------------------------------------------
    @_kept
    def prefill_flops(self):
        """b x the forward over prompt_len tokens under the model's own mask."""
        return self.batch * self.prefill_model.forward().subs(self._seq_len, self.prompt_len)

    @_kept
    def decode_flops_at(self, position=None):
        """Forward FLOPs of one sequence's decode step at context `position` (default C)."""
        position = self.context if position is None else position
        return sympy.Add(*[t.count * self._at(cost, t.mask, position) for t, cost in self.decode_terms])

    def decode_step_flops(self):
        return self.batch * self.decode_flops_at()

    @_kept
    def decode_flops_sum(self, low=None, high=None):
        """b x the decode steps at contexts low+1 .. high (default P+1 .. C)."""
        low = self.prompt_len if low is None else low
        high = self.context if high is None else high
        return self.batch * sympy.Add(*[t.count * self._sum(cost, t.mask, low, high)
                                        for t, cost in self.decode_terms])

    def generation_flops(self):
        return self.prefill_flops() + self.decode_flops_sum()

    # ---- bytes ----------------------------------------------------------------------
    def kv_elements_per_token(self):
        """Elements one position adds to the cache of one sequence, all layers."""
        return sympy.Add(*[term.count * kv.elements for term, kv in self.kv_terms])

    def kv_cache_bytes_per_token(self):
        return self.kv_elements_per_token() * self.kv_bits / 8

    @staticmethod
    def _layers(terms):
        """How many layers hold these caches (the caches of one layer share its count)."""
        return sympy.Add(*{term.count for term, _ in terms})

    def state_elements(self):
        """Elements of the fixed-size decode states of one sequence (recurrent and
        convolution states of linear-attention and state-space layers), all layers."""
        return sympy.Add(*[term.count * cache.elements for term, cache in self.state_terms])

    @_kept
    def kv_cache_bytes(self, position=None, read=False):
        """The decode cache of b sequences at context `position` (default C): full
        attention layers hold C positions, window layers min(C, W), chunked layers the
        positions of the current chunk; plus the fixed states of recurrent layers.
        `read`: the part a step reads, the positions each layer attends to (DSA holds
        every position but reads its top-k)."""
        position = self.context if position is None else position
        elements = sympy.Add(*[term.count * kv.elements * self._keys_at(self._held(term, None if read else kv),
                                                                         position)
                               for term, kv in self.kv_terms])
        return self.batch * (elements + self.state_elements()) * self.kv_bits / 8

    def kv_positions(self, position=None):
        """Positions one layer of each cached kind holds at context `position`."""
        position = self.context if position is None else position
        return {(term.mask.name if term.mask and kv.held == "keys" else kv.name):
                self._keys_at(self._held(term, kv), position) for term, kv in self.kv_terms}

    def weights_bytes(self):
        return self.model.params() * self.weight_bits / 8

    def experts_touched(self, tokens, zero=None):
        """Distinct routed experts per MoE layer that `tokens` tokens touch: expected under
        uniform independent top-k routing, E (1 - (1 - k/E)^tokens), or all E. In a layer
        whose pool also holds zero-computation experts (`zero`; default: whether the model
        has them) only the real ones count, as the zero_expert_routing variant routes."""
        sym = self.model.library.symbol
        n, k = sym("n_experts"), sym("top_k")
        if self.experts == "all":
            return n
        if zero is None:
            zero = bool(self.model.arch.size("n_zero_experts"))
        if zero:
            return self._real_experts_touched(tokens)
        return expected_experts(n, k, tokens)

    def _real_experts_touched(self, tokens):
        """Real experts touched when the pool holds n_zero_experts identities (blocks/moeb.py):
        uniform over the pool of E + Z, a real expert is missed by a token with probability
        1 - k/(E + Z), so E (1 - (1 - k/(E + Z))^tokens); none_zero: each token takes
        min(k, E) of the E; all_zero: max(0, k - Z) of them."""
        sym = self.model.library.symbol
        n, k, z = sym("n_experts"), sym("top_k"), sym("n_zero_experts")
        routing = self.model.conventions.variant("zero_expert_routing")
        if routing == "uniform":
            return expected_experts(n + z, k, tokens) * n / (n + z)
        return expected_experts(n, sympy.Min(k, n) if routing == "none_zero" else sympy.Max(0, k - z), tokens)

    @_kept
    def weights_read(self, tokens):
        """Weight elements a forward over `tokens` tokens reads (see the module docstring)."""
        model, arch = self.model, self.model.arch
        d_model = model.library.symbol("d_model")
        total = model.params()
        for term in model.terms:
            formula = term.formula
            if formula.component != "embedding" or formula.params == 0:
                continue
            if formula.name == "token_embedding" and arch.tied_embeddings:
                continue  # the LM head reads the whole table
            table = term.count * formula.params
            total += sympy.Min(tokens * d_model, table) - table
        n = model.library.symbol("n_experts")
        for term in model.terms:
            if term.formula.component != "experts" or term.formula.params == 0:
                continue
            experts = term.count * term.formula.params
            if term.formula.forward == 0:
                total -= experts  # weights no token runs (identity experts' slots) are never read
            else:
                total += experts * self.experts_touched(tokens, zero=term.expected) / n - experts
        return total

    def decode_step_bytes(self):
        """Bytes one decode step moves: weights read + the KV cache read."""
        return self.weights_read(self.batch) * self.weight_bits / 8 + self.kv_cache_bytes(read=True)

    def prefill_bytes(self):
        """Bytes a prefill moves at least: weights read + the KV cache it leaves."""
        return (self.weights_read(self.batch * self.prompt_len) * self.weight_bits / 8
                + self.kv_cache_bytes(self.prompt_len))

    def decode_bytes_sum(self):
        """Bytes of the decode steps at contexts P+1 .. C."""
        weights = (self.context - self.prompt_len) * self.weights_read(self.batch) * self.weight_bits / 8
        kv = sympy.Add(*[term.count * kv.elements * self._sum(self._keys, self._held(term), self.prompt_len,
                                                               self.context)
                         for term, kv in self.kv_terms])
        states = (self.context - self.prompt_len) * self.state_elements()
        return weights + self.batch * (kv + states) * self.kv_bits / 8

    def formulas(self):
        """The symbolic forms the CLI prints."""
        from .model import collect_in
        return {
            "weights_bytes": self.weights_bytes(),
            "kv_cache_bytes_per_token": self.kv_cache_bytes_per_token(),
            "kv_cache_bytes": self.kv_cache_bytes(),
            "prefill_flops": collect_in(self.prefill_flops(), self.prompt_len),
            "decode_step_flops": collect_in(self.decode_step_flops(), self.context),
            "decode_step_bytes": self.decode_step_bytes(),
            "generation_flops": self.generation_flops(),
        }

    # ---- numbers --------------------------------------------------------------------
    def values(self, context, prompt_len=None, batch=None):
        for name, value in (("context", context), ("prompt_len", prompt_len), ("batch", batch)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise UsageError(None, name, f"{value!r} is not a positive integer")
        prompt_len = context if prompt_len is None else prompt_len
        if prompt_len > context:
            raise UsageError(None, "prompt_len",
                             f"the prompt ({prompt_len:,} tokens) is longer than the context ({context:,})")
        batch = self.model.arch.batch if batch is None else batch
        return {**self.model.values, self.context: sympy.Integer(context), self.prompt_len: sympy.Integer(prompt_len),
                self.batch: sympy.Integer(batch), self.weight_bits: sympy.Integer(self.weight_dtype.bits),
                self.kv_bits: sympy.Integer(self.kv_dtype.bits)}

    def report(self, context, prompt_len=None, batch=None, hardware=None, gpus=1, peak_dtype=None,
               decode_tokens_per_sec=None, sweep_batch=False, speculative=None):
        """Exact FLOPs and bytes (bytes rounded up to whole bytes where packed 4-bit
        elements or expected expert counts make them fractional), and, with `hardware`
        (a name or a hardware.Device), the roofline; with `decode_tokens_per_sec` (global,
        all sequences), MBU and the decode MFU. `speculative` ({"draft_tokens": K,
        "acceptance": α or "accepted": E, "draft": "mtp" or "external"}) adds a speculative
        decode step (speculative.py) and its roofline."""
        values = self.values(context, prompt_len, batch)
        C, P, B = (int(values[s]) for s in (self.context, self.prompt_len, self.batch))

        def at(expression):
            value = to_sympy(expression).xreplace(values)
            if not value.is_Rational:
                raise UsageError(None, "evaluate", f"did not evaluate to a number: {value}")
            return value

        def whole(expression):
            return sympy.ceiling(at(expression))

        arch = self.model.arch
        decode_flops = at(self.decode_step_flops())
        weights_read = self.weights_read(self.batch) * self.weight_bits / 8
        decode_weights, decode_kv = whole(weights_read), whole(self.kv_cache_bytes(read=True))
        decode_bytes = decode_weights + decode_kv
        prefill_flops = at(self.prefill_flops())
        prefill_bytes = whole(self.prefill_bytes())
        report = {
            "model": arch.name,
            "run": {"context": C, "prompt_len": P, "batch": B, "dtype": self.weight_dtype.name,
                    "kv_dtype": self.kv_dtype.name, "weight_bytes_per_element": self.weight_dtype.bytes,
                    "kv_bytes_per_element": self.kv_dtype.bytes},
            "weights_bytes": whole(self.weights_bytes()),
            "params": at(self.model.params()),
            "kv_cache_bytes": whole(self.kv_cache_bytes()),
            "kv_cache_bytes_per_token": whole(self.kv_cache_bytes_per_token()),
            "kv_cache": {
                "per_token": whole(self.kv_cache_bytes_per_token()),
                "per_sequence": whole(self.kv_cache_bytes() / self.batch),
                "total": whole(self.kv_cache_bytes()),
                "elements_per_token": at(self.kv_elements_per_token()),
                "positions_per_layer": {k: at(v) for k, v in self.kv_positions().items()},
                "state_elements_per_sequence": at(self.state_elements()),
                "state_bytes_per_sequence": whole(self.state_elements() * self.kv_bits / 8),
                "layout": sorted({kv.name for _, kv in self.kv_terms + self.state_terms}),
                "kv_layers": int(at(self._layers(self.kv_terms))),
                "kv_layout": sorted({kv.name for _, kv in self.kv_terms}),
                "state_layers": int(at(self._layers(self.state_terms))),
                "state_layout": sorted({cache.name for _, cache in self.state_terms}),
            },
            "prefill": {"tokens": B * P, "flops": prefill_flops, "flops_per_token": prefill_flops / (B * P),
                        "bytes": prefill_bytes},
            "decode_step": {"context": C, "flops": decode_flops, "flops_per_token": decode_flops / B,
                            "bytes": decode_bytes, "bytes_weights": decode_weights, "bytes_kv": decode_kv,
                            "arithmetic_intensity": decode_flops / decode_bytes},
            "generation": {"prompt_len": P, "context": C, "decode_steps": C - P,
                           "prefill_flops": prefill_flops, "decode_flops": at(self.decode_flops_sum()),
                           "flops": at(self.generation_flops()), "decode_bytes": whole(self.decode_bytes_sum())},
            "formulas": {k: str(v) for k, v in self.formulas().items()},
            "conventions": {**self.model.conventions.describe(), **self.describe()},
        }
        if arch.n_experts:
            n, k = arch.n_experts, arch.top_k
            z = arch.size("n_zero_experts")  # zero-computation experts: fewer real ones may be touched
            report["decode_step"]["experts_touched"] = {
                "assumption": self.experts,
                "per_moe_layer": at(self.experts_touched(self.batch)),
                "min": max(0, k - z), "max": min(n, B * min(k, n)), "n_experts": n, "top_k": k,
            }
        if speculative is not None:
            from .speculative import speculative as speculate
            report["speculative"] = speculate(self, values, **speculative)
        if decode_tokens_per_sec is not None and hardware is None:
            raise UsageError(None, "decode_tokens_per_sec", "MBU needs the hardware's bandwidth (give hardware)")
        if sweep_batch and hardware is None:
            raise UsageError(None, "sweep_batch", "the roofline's knee needs the hardware (give hardware)")
        if hardware is not None:
            from .hardware import load_hardware
            registry = load_hardware(root=self.model.library.root)
            peak = choose_peak_for(hardware, peak_dtype or self.weight_dtype.name, registry)
            report["roofline"] = roofline(report, peak, gpus)
            if sweep_batch:
                report["batch_sweep"] = batch_sweep(self, C, peak, gpus)
            if decode_tokens_per_sec is not None:
                report["measured"] = measured(report, peak, gpus, decode_tokens_per_sec)
        return report

    def _has_mla(self):
        return any(group.mixer == "mla" for group in self.model.arch.layers)

    def describe(self):
        return {
            "decode_keys": "cached + 1 (min(C, W) on window layers), whatever the mask",
            "prefill_mask": self.model.conventions.mask,
            **({"mla_prefill": self.prefill_model.conventions.mla, "mla_decode": self.decode_model.conventions.mla}
               if self._has_mla() else {}),
            "kv_cache_positions": "C on full layers, min(C, W) on window layers (transformers keeps W - 1 "
                                  "after the step: the new token's K/V is not kept once it falls out)",
            "weights_read": "every parameter once per step; embedding tables only at the looked-up rows "
                            "unless tied to the LM head",
            "experts_touched": ("expected distinct experts under uniform independent top-k routing: "
                                "E(1 - (1 - k/E)^b), an exact fraction while E^b has at most "
                                f"{EXACT_BITS:,} bits, else to {DIGITS} significant digits"
                                if self.experts == "expected"
                                else "all routed experts (every expert touched by some token)"),
            "bytes_not_counted": "activations, logits, the attention scores",
            "weights_dtype": f"{self.weight_dtype.name} ({self.weight_dtype.bits} bits; {self.weight_dtype.reference})",
            "kv_dtype": f"{self.kv_dtype.name} ({self.kv_dtype.bits} bits; {self.kv_dtype.reference})",
        }


# ------------------------------------------------------------------ roofline

def choose_peak_for(hardware, peak_dtype, registry=None):
    """The dense peak of `peak_dtype` on `hardware` (a name or a hardware.Device); a dtype
    the device has no peak for is an error that names --peak-dtype."""
    from .devices import Device
    from .errors import HardwareError
    from .hardware import load_hardware
    from .peaks import choose_peak
    device = hardware if isinstance(hardware, Device) else (registry or load_hardware()).resolve(hardware)
    try:
        device.peak(peak_dtype)
    except HardwareError as exc:  # the device is known: what is wrong is the dtype
        raise UsageError(None, "peak_dtype", f"{exc.message} (give --peak-dtype, the dtype the "
                                             f"matmuls run in)") from None
    return choose_peak(device, peak_dtype)


def _check_gpus(gpus):
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus <= 0:
        raise UsageError(None, "gpus", f"{gpus!r} is not a positive integer")
    return gpus


def roofline(report, peak, gpus=1):
    """Lower bounds on the time of a decode step and of the prefill on `gpus` devices:
    compute time FLOPs / peak, memory time bytes / bandwidth; the larger binds (Williams
    et al. 2009). `peak` is a mfu.PeakChoice (the dense figure of one dtype)."""
    _check_gpus(gpus)
    device = peak.device
    flops_rate = Fraction(peak.flops) * gpus
    bandwidth = Fraction(device.bandwidth_bytes_per_s) * gpus

    def bound(flops, bytes_, tokens):
        compute = fraction(flops) / flops_rate
        memory = fraction(bytes_) / bandwidth
        time = max(compute, memory)
        return {"compute_s": float(compute), "memory_s": float(memory), "time_s": float(time),
                "bound": "memory" if memory >= compute else "compute",
                "tokens_per_sec": float(tokens / time),
                "arithmetic_intensity": float(fraction(flops) / fraction(bytes_))}

    decode, prefill = report["decode_step"], report["prefill"]
    batch = report["run"]["batch"]
    decode_bound = bound(decode["flops"], decode["bytes"], batch)
    decode_bound["tokens_per_sec_per_sequence"] = decode_bound["tokens_per_sec"] / batch
    prefill_bound = bound(prefill["flops"], prefill["bytes"], prefill["tokens"])
    extra = {}
    if "speculative" in report:
        spec = report["speculative"]
        extra["speculative_step"] = bound(spec["flops"], spec["bytes"], fraction(spec["tokens_per_step_all_sequences"]))
        extra["speculative_step"]["speedup_over_decode"] = (extra["speculative_step"]["tokens_per_sec"]
                                                            / decode_bound["tokens_per_sec"])
    return {
        "hardware": {"key": device.key, "name": device.name, "gpus": gpus, "peak_dtype": peak.dtype,
                     "peak_flops_per_sec": float(flops_rate), "bandwidth_bytes_per_sec": float(bandwidth),
                     "peak_sources": [s.cite() for s in peak.sources],
                     "bandwidth_sources": [s.cite() for s in device.source_for("bandwidth")],
                     "memory_bytes": device.memory_bytes * gpus},
        "ridge_point": float(flops_rate / bandwidth),
        "decode_step": decode_bound,
        "prefill": prefill_bound,
        **extra,
        "fits": bool(report["weights_bytes"] + report["kv_cache_bytes"] <= device.memory_bytes * gpus),
        "reference": "williams2009 (roofline); the peak is the dense figure, the bandwidth the datasheet's",
    }


KNEE_LIMIT = 2**24  # batch sizes searched for the knee: far beyond any device's memory


def batch_sweep(inference, context, peak, gpus=1, limit=KNEE_LIMIT):
    """The decode step's roofline over the batch size at context `context`: a row at each
    power of two up to the knee, and the knee itself, the smallest batch whose step is
    compute-bound (FLOPs / peak >= bytes / bandwidth). Compute time grows linearly in the
    batch, memory time by the KV cache (linear) and the weights read (concave: experts
    touched), so their difference is convex: once compute binds it keeps binding, and a
    bisection finds the knee exactly. None when no batch up to `limit` reaches it (the KV
    cache's bytes grow as fast as the FLOPs: the attention's intensity is below the ridge)."""
    _check_gpus(gpus)
    values = inference.values(context, batch=1)
    fixed = {k: v for k, v in values.items() if k != inference.batch}
    flops = to_sympy(inference.decode_step_flops()).xreplace(fixed)
    moved = to_sympy(inference.decode_step_bytes()).xreplace(fixed)
    resident = to_sympy(inference.weights_bytes() + inference.kv_cache_bytes()).xreplace(fixed)
    capacity = peak.device.memory_bytes * gpus
    rate = Fraction(peak.flops) * gpus
    bandwidth = Fraction(peak.device.bandwidth_bytes_per_s) * gpus

    def row(batch):
        at = {inference.batch: sympy.Integer(batch)}
        compute = fraction(flops.xreplace(at)) / rate
        memory = fraction(sympy.ceiling(moved.xreplace(at))) / bandwidth
        time = max(compute, memory)
        return {"batch": batch, "compute_s": float(compute), "memory_s": float(memory),
                "bound": "compute" if compute >= memory else "memory",
                "tokens_per_sec": float(batch / time), "compute_bound": compute >= memory,
                "fits": bool(sympy.ceiling(resident.xreplace(at)) <= capacity)}

    knee = None
    if row(limit)["compute_bound"]:
        low, high = 0, limit  # row(low) memory-bound (or 0), row(high) compute-bound
        if row(1)["compute_bound"]:
            high = 1
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if row(middle)["compute_bound"] else (middle, high)
        knee = high
    top = knee if knee is not None else limit
    rows = []
    for batch in sorted({2**i for i in range(top.bit_length()) if 2**i <= top} | ({knee} if knee else set())):
        rows.append(row(batch))
        if knee is None and not rows[-1]["fits"]:
            break  # no knee: the rows stop where the cache no longer fits
    for r in rows:
        del r["compute_bound"]
    return {"context": context, "rows": rows, "knee": knee, "limit": limit,
            "note": ("the smallest batch whose decode step is compute-bound" if knee is not None else
                     f"no batch up to {limit:,} makes the decode step compute-bound: the KV cache read grows with "
                     "the batch as fast as the FLOPs (attention's arithmetic intensity is below the ridge point)")}


def measured(report, peak, gpus, decode_tokens_per_sec):
    """MBU and the decode MFU at a measured decode throughput (tokens/s, all sequences):
    MBU = bytes per step x steps/s / bandwidth (Agarwal et al. 2023), MFU = tokens/s x
    FLOPs per token / peak."""
    from .mfu import utilization
    _check_gpus(gpus)
    decode = report["decode_step"]
    batch = report["run"]["batch"]
    bytes_per_token = Fraction(int(decode["bytes"]), batch)
    mbu = utilization(decode_tokens_per_sec, bytes_per_token, gpus, peak.device.bandwidth_bytes_per_s)
    mfu = utilization(decode_tokens_per_sec, decode["flops_per_token"], gpus, peak.flops)
    return {
        "decode_tokens_per_sec": float(decode_tokens_per_sec),
        "achieved_bandwidth_bytes_per_sec": float(Fraction(decode_tokens_per_sec) * bytes_per_token),
        "achieved_flops_per_sec": float(Fraction(decode_tokens_per_sec) * fraction(decode["flops_per_token"])),
        "mbu": mbu, "mfu": mfu,
        "step_time_s": float(batch / Fraction(decode_tokens_per_sec)),
        "reference": "agarwal2023 (MBU = achieved memory bandwidth / peak bandwidth)",
    }
