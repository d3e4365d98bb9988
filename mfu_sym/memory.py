"""Training memory per device: weights, gradients, optimizer states and activations.

The facts are data (formulas/memory.yaml, formulas/activations.yaml and formulas/dtypes.yaml,
read by memory_data.py, activations_data.py and dtypes.py): storage widths, optimizer
states, ZeRO stages, the tensors the implementation saves for backward, and Korthikanti et
al.'s activation constants (arXiv:2205.05198 §4-5, Table 2). This module composes training
memory per device as sympy expressions over the model's symbols:

    weights      weight_bits / 8 * shard(weights)
    gradients    grad_bits / 8   * shard(gradients)
    optimizer    K               * shard(optimizer)     K = states * state_bits / 8 (+ 4 master)
    activations  implementation (default): the saved tensors of every layer kind
                 (activations.py); korthikanti: layers_held * per-layer constant

where shard(x) is ceiling(N / (tp * pp)), or ceiling(N / (tp * pp * dp)) when the ZeRO
stage partitions x; expert parallelism keeps 1/ep of the routed experts (N_e) on a device:
ceiling((N - N_e + N_e / ep) / (tp * pp)). With bf16 and Adam that is ZeRO's 16 bytes per
parameter.

    >>> m = TrainingMemory(mfu_sym.load("examples/llama3_8b.yaml"), optimizer="adam")
    >>> m.report(seq_len=4096, batch=1)["total"]      # exact bytes per device
"""


import sympy

from .errors import FormulaError, UsageError
from .expr import to_sympy

from .memory_data import PARTS, ZERO_STAGES, load_data

# how activations are counted: the tensors the implementation saves (default: it follows
# the model's own attention, MLP and dtype), or Korthikanti et al.'s GPT-3 constants
ACTIVATIONS = ("implementation", "korthikanti")


# ------------------------------------------------------------------ training memory

def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(None, name, f"{value!r} is not a positive integer")
    return value


class TrainingMemory:
    """Training memory per device of a Model: weights, gradients, optimizer states and
    activations, symbolic and exact. The recompute mode is the model's convention
    (`Conventions.recompute`); `batch` is the micro-batch one device runs.

    `activations`: "implementation" (default; the tensors transformers saves, activations.py)
    or "korthikanti" (their GPT-3 constants). `kernel`: eager, sdpa or flash (default: the
    convention's attention_kernel); `act_dtype`: the activations' dtype (default `dtype`);
    `cp`, `ep`: context- and expert-parallel degrees; `dropout`: attention dropout > 0."""

    def __init__(self, model, *, dtype="bf16", grad_dtype=None, optimizer="adam",
                 tp=1, pp=1, dp=1, zero=0, sequence_parallel=False, activations="implementation",
                 kernel=None, act_dtype=None, cp=1, ep=1, dropout=False):
        self.model = model
        self.data = load_data(model.library)
        self.weight_dtype = self.data.dtype(dtype, "dtype")
        self.grad_dtype = self.data.dtype(grad_dtype if grad_dtype is not None else dtype, "grad_dtype")
        self.optimizer = self.data.optimizer(optimizer)
        self.tp, self.pp, self.dp = (_positive_int(v, n) for v, n in ((tp, "tp"), (pp, "pp"), (dp, "dp")))
        if isinstance(zero, bool) or zero not in ZERO_STAGES:
            raise UsageError(None, "zero", f"{zero!r} (expected a ZeRO stage: 0, 1, 2 or 3)")
        self.zero = zero
        self.sequence_parallel = bool(sequence_parallel)
        arch = model.arch
        if arch.n_heads % self.tp:
            raise UsageError(None, "tp", f"tensor-parallel degree ({self.tp}) must divide n_heads ({arch.n_heads})")
        if self.pp > arch.n_layers:
            raise UsageError(None, "pp", f"pipeline-parallel degree ({self.pp}) exceeds n_layers ({arch.n_layers})")
        self.recompute = model.conventions.recompute
        sym = model.library.symbol
        self.symbols = {name: sym(name) for name in
                        ("n_params", "weight_bits", "grad_bits", "optimizer_bytes", "tp", "pp", "dp", "cp", "ep",
                         "act_bits", "n_expert_params")}
        self.k = self.optimizer.bytes_per_param(self.weight_dtype.bits, self.data.master)
        self.convention = self._activation_convention(activations)
        self.kernel = kernel if kernel is not None else model.conventions.attention_kernel
        self.act_dtype = self.data.dtype(act_dtype if act_dtype is not None else dtype, "act_dtype")
        self.cp, self.ep = _positive_int(cp, "cp"), _positive_int(ep, "ep")
        if self.ep > 1 and not arch.n_experts:
            raise UsageError(None, "ep", f"expert-parallel degree ({self.ep}) given, but the model has no experts")
        if self.ep > 1 and (self.dp * self.cp) % self.ep:
            raise UsageError(None, "ep", f"expert-parallel degree ({self.ep}) must divide dp x cp "
                                         f"({self.dp * self.cp}): expert-parallel ranks are data- or "
                                         "context-parallel ranks (Megatron-Core)")
        self.dropout = bool(dropout)
        if self.convention == "korthikanti":
            self._check_korthikanti()
            # layer kinds the per-layer activation constants do not model (state-space, linear attention)
            from . import stack
            present = [kind for part in ("mixer", "ffn") for kind in stack.counts(arch.layers, part) if kind != "none"]
            self.unmodelled = tuple(k for k in dict.fromkeys(present) if k not in self.data.activations_kinds)
            self.saved = None
        else:
            from .activations import SavedActivations
            self.saved = SavedActivations(model, self.data.saved, kernel=self.kernel, act_bits=self.act_dtype.bits,
                                          recompute=self.recompute, tp=self.tp, cp=self.cp, ep=self.ep,
                                          sequence_parallel=self.sequence_parallel, dropout=self.dropout)
            self.unmodelled = self.saved.unmodelled

    @staticmethod
    def _activation_convention(name):
        if name not in ACTIVATIONS:
            raise UsageError(None, "activations", f"{name!r} (expected one of {', '.join(ACTIVATIONS)})")
        return name

    def _check_korthikanti(self):
        """Korthikanti et al.'s constants are one configuration: 16-bit activations, stored
        attention scores, no context or expert parallelism, dropout on."""
        given = [(self.kernel != "eager", "kernel", f"{self.kernel} (their constants store the eager attention "
                                                    "scores)"),
                 (self.cp != 1, "cp", f"{self.cp} (they model no context parallelism)"),
                 (self.act_dtype.bits != 16, "act_dtype", f"{self.act_dtype.name} (their constants are for "
                                                          "16-bit activations)"),
                 (self.dropout, "dropout", "given (their constants always include the dropout masks)")]
        for bad, field, why in given:
            if bad:
                raise UsageError(None, field, f"{why}: the korthikanti activation convention does not apply; "
                                              "use activations implementation")

    # ---- symbolic -------------------------------------------------------------------
    def partitioned(self, part):
        return part in self.data.zero[self.zero][0]

    def shard(self, part):
        """Parameters of `part` one device holds. Expert parallelism keeps 1/ep of the
        routed experts on a device; ZeRO then partitions them over the expert-data-parallel
        ranks (dp / ep), so a partitioned shard is N / (tp pp dp) either way."""
        partitioned = self.partitioned(part)
        shard = self.data.shards["partitioned" if partitioned else "replicated"]
        if self.ep == 1 or partitioned:
            return shard
        n, experts = self.symbols["n_params"], self.symbols["n_expert_params"]
        return shard.xreplace({n: n - experts + experts / self.symbols["ep"]})

    def formulas(self):
        """Bytes per device by part, over N (n_params) and the run's symbols: the compact
        form the CLI prints."""
        d = self.data
        out = {}
        for part in PARTS:
            shard = self.shard(part)
            out[part] = d.training[part].xreplace({d.shard: shard})
        if not self.unmodelled:
            if self.saved is not None:
                out["activations"] = self.saved.expression(d.layers_held, self.pp)
            else:
                per_layer = d.activations[(self.recompute, self.sequence_parallel)].bytes
                out["activations"] = d.layers_held * per_layer
        out["total"] = sympy.Add(*out.values())
        return out

    def expressions(self):
        """The same with N replaced by the model's parameter count: sympy expressions over
        the architecture's symbols."""
        params = {self.symbols["n_params"]: self.model.params(),
                  self.symbols["n_expert_params"]: self.model.params("experts")}
        return {k: v.xreplace(params) for k, v in self.formulas().items()}

    def run_values(self, seq_len=None, batch=None):
        values = dict(self.model.values)
        values.update(self.model.run_values(seq_len, batch))
        s = self.symbols
        values.update({s["tp"]: sympy.Integer(self.tp), s["pp"]: sympy.Integer(self.pp),
                       s["dp"]: sympy.Integer(self.dp),
                       s["weight_bits"]: sympy.Integer(self.weight_dtype.bits),
                       s["grad_bits"]: sympy.Integer(self.grad_dtype.bits),
                       s["optimizer_bytes"]: to_sympy(self.k),
                       s["cp"]: sympy.Integer(self.cp), s["ep"]: sympy.Integer(self.ep),
                       s["act_bits"]: sympy.Integer(self.act_dtype.bits),
                       s["n_params"]: self.model.params().xreplace(self.model.values),
                       s["n_expert_params"]: self.model.params("experts").xreplace(self.model.values)})
        return values

    # ---- numbers --------------------------------------------------------------------
    def report(self, seq_len=None, batch=None, device=None):
        """Exact bytes per device. Each part is rounded up to a whole byte (packed 4-bit
        weights, or a tensor-parallel split that does not divide) and says so."""
        values = self.run_values(seq_len, batch)
        run_seq = values[self.model.seq_len]
        if run_seq % self.cp:
            raise UsageError(None, "cp", f"context-parallel degree ({self.cp}) must divide seq_len ({run_seq})")
        formulas = self.formulas()
        parts, rounded = {}, []
        for name in PARTS + (() if self.unmodelled else ("activations",)):
            exact = formulas[name].xreplace(values)
            if not exact.is_Rational:
                raise FormulaError(None, name, f"did not evaluate to a number: {exact}")
            parts[name] = sympy.ceiling(exact)
            if parts[name] != exact:
                rounded.append(name)
        total = sum(parts.values(), sympy.Integer(0))
        d, model = self.data, self.model
        n_params = values[self.symbols["n_params"]]
        act = d.activations[(self.recompute, self.sequence_parallel)]
        saved = self.saved
        report = {
            "model": model.arch.name,
            "run": {"seq_len": int(values[model.seq_len]), "micro_batch": int(values[model.batch]),
                    "tokens_per_micro_batch": int(values[model.seq_len] * values[model.batch])},
            "parallelism": {"tp": self.tp, "pp": self.pp, "dp": self.dp, "zero": self.zero,
                            "sequence_parallel": self.sequence_parallel, "cp": self.cp, "ep": self.ep,
                            "devices": self.tp * self.pp * self.dp * self.cp},
            "precision": {"weights": self.weight_dtype.name, "gradients": self.grad_dtype.name,
                          "optimizer": self.optimizer.name, "optimizer_bytes_per_param": self.k,
                          "master_weights": self.weight_dtype.bits < d.master.below_bits,
                          "bytes_per_param": (sympy.Rational(self.weight_dtype.bits + self.grad_dtype.bits, 8)
                                              + self.k)},
            "params": {"total": n_params,
                       "per_device": {p: self.shard(p).xreplace(values) for p in PARTS}},
            "bytes": {**parts, "total": total},
            "rounded_up": rounded,
            "recompute": self.recompute,
            "activations_model": self._activations_model(),
            "layers_held": d.layers_held.xreplace(values),
            "activations_per_layer": (None if self.unmodelled or saved is not None
                                      else act.bytes.xreplace(values)),
            "formulas": {k: str(v) for k, v in formulas.items()},
            "references": {
                "weights_gradients_optimizer": str(d.training_note[1]),
                "optimizer": str(self.optimizer.reference),
                "master_weights": str(d.master.reference),
                "zero": str(d.zero[self.zero][1]),
                "shards": str(d.shards_note[1]),
                "activations": str(act.reference if saved is None else d.saved.reference),
                "layers_held": str(d.layers_note[1]),
            },
            "assumptions": [d.shards_note[0].strip(), d.layers_note[0].strip(),
                            (d.activations_omits if saved is None else d.saved.omits).strip(),
                            "Fixed overheads (CUDA context, allocator fragmentation, communication buffers) "
                            "are not counted."],
        }
        if saved is not None:
            report["references"].update(activations_implementation=str(d.saved.implementation_reference),
                                        activations_parallel=str(d.saved.parallel_reference))
            report["assumptions"] += [" ".join(d.saved.assumptions[k].split()) for k in ("tp", "cp", "ep", "pp")]
            if not self.unmodelled:
                report["activations_itemised"] = self._itemised(values)
        if self.unmodelled and saved is None:
            report["activations_not_modelled"] = (
                f"{', '.join(self.unmodelled)} layers: the per-layer activation constants (Korthikanti et al. "
                "2022) model attention and MLP layers only, so no activation figure is given and the total is "
                "weights, gradients and optimizer states alone (a lower bound)")
        elif self.unmodelled:
            report["activations_not_modelled"] = (
                f"{'; '.join(self.unmodelled)}: the saved-tensor model (formulas/activations.yaml) describes "
                "pre-norm softmax attention (full, sliding-window, and MLA in eager attention), dense and MoE "
                "layers only, so no activation figure is given and the total is weights, gradients and optimizer "
                "states alone (a lower bound)")
            report["assumptions"].insert(0, report["activations_not_modelled"])
        if device is not None:
            capacity = device.memory_bytes
            report["device"] = {"key": device.key, "name": device.name, "memory_bytes": capacity,
                                                "fraction_used": float(sympy.Rational(total, capacity)),
                                "fits": bool(total <= capacity)}
        return report

    def _activations_model(self):
        """How activations were counted, for the report."""
        out = {"convention": self.convention}
        if self.saved is not None:
            out.update(kernel=self.kernel, dtype=self.act_dtype.name, attention_dropout=self.dropout)
        return out

    def _itemised(self, values):
        """Per saved tensor and layer kind: layers, bytes a layer, bytes in all (before the
        pipeline's layers_held scaling), largest first."""
        rows = []
        for item in self.saved.items():
            each = item.bytes.xreplace(values)
            rows.append({"tensor": item.tensor, "group": item.group, "layers": item.where,
                         "count": int(item.count), "bytes_each": each, "bytes": item.count * each})
        return sorted(rows, key=lambda r: -r["bytes"])
