"""MFU and HFU: measured throughput against an accelerator's peak.

PaLM's definition (Chowdhery et al. 2022, arXiv:2204.02311, Appendix B): model FLOPs
utilization is "the ratio of the achieved throughput in tokens per second to the
theoretical peak throughput R = P / (6N + 12LHQT)", P the total peak of the accelerators.
Here the denominator's FLOPs per token come from the model under the conventions in force
(any preset), so

    MFU = tokens/s x model FLOPs per token / (devices x peak FLOP/s per device)
    HFU = the same with hardware FLOPs: model FLOPs plus activation recomputation

The peak is the dense figure of the chosen dtype (the MFU denominator everywhere MFU is
published); the 2:4-sparse figure only on request, and then the result says so.

FLOP counts stay exact (sympy Integer or Rational) up to the final division; floats
appear only where a measured rate or time enters. Three ways in:

- `measure(...)`: one throughput or step time (what `mfu-sym mfu` prints);
- `logs.from_log(...)`: every step of a JSON-lines or CSV training log, with a summary;
- `MFUMeter`: a per-step meter for a training loop (no sympy work per step, no torch).

The peak (`PeakChoice`, `choose_peak`) and the warnings about it (`peak_warnings`) live
in hardware.py; they are imported here too, where callers have long found them.
"""

import math
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from .conventions import STRUCTURAL_SWITCHES, applicable_switches  # noqa: F401  (mfu.applicable_switches)
from .errors import UsageError
from .exact import _is_exact_real, _is_rational, fraction  # noqa: F401  (mfu.fraction: used across the package)
from .peaks import PeakChoice, choose_peak, peak_warnings  # noqa: F401  (choose_peak: mfu.choose_peak)

# Below this an MFU usually means a units mistake (per-device tokens/s, sequences/s).
IMPLAUSIBLY_LOW = 0.01


# ------------------------------------------------------------------ arithmetic

# Measured inputs beyond these are units mistakes, and would overflow a float ratio.
MAX_MEASURE = 1e18   # tokens/s, tokens, seconds, devices
MIN_SECONDS = 1e-12


def positive(value, name, integer=False, maximum=MAX_MEASURE):
    """A finite number > 0 (an int > 0 when `integer`) and at most `maximum`, else UsageError."""
    kind = "a positive integer" if integer else "a positive number"
    numeric = isinstance(value, (int, float, Fraction)) or _is_rational(value) or _is_exact_real(value)
    if isinstance(value, bool) or not numeric:
        raise UsageError(None, name, f"{value!r} is not {kind}")
    try:
        number = float(value)
    except OverflowError:
        raise UsageError(None, name, f"{value!r} is out of range (at most {maximum:g})") from None
    if integer and not number.is_integer():
        raise UsageError(None, name, f"{value!r} is not {kind}")
    if not math.isfinite(number) or value <= 0:
        raise UsageError(None, name, f"{value!r} is not {kind}")
    if maximum is not None and number > maximum:
        raise UsageError(None, name, f"{value!r} is out of range (at most {maximum:g})")
    return value


def utilization(tokens_per_sec, flops_per_token, devices, peak_flops):
    """tokens/s x FLOPs per token / (devices x peak), computed exactly and rounded once."""
    positive(tokens_per_sec, "tokens_per_sec")
    positive(flops_per_token, "flops_per_token", maximum=None)
    positive(devices, "devices", integer=True)
    positive(peak_flops, "peak_flops", maximum=None)
    return float(fraction(tokens_per_sec) * fraction(flops_per_token)
                 / (int(devices) * fraction(peak_flops)))


def utilizations(tokens_per_sec, flops_per_token, devices, peak_flops):
    """`utilization` of every rate in an array, each exactly as `utilization` gives it
    (the exact product rounded once), the constant FLOPs / (devices x peak) built once:
    a numpy float64 array."""
    positive(flops_per_token, "flops_per_token", maximum=None)
    positive(devices, "devices", integer=True)
    positive(peak_flops, "peak_flops", maximum=None)
    return scaled(tokens_per_sec, fraction(flops_per_token) / (int(devices) * fraction(peak_flops)))


# A float product is trusted when its residual stays this far inside the half gap to its
# neighbour; the float error of the residual is below 2**-50 of that gap, so the margin is
# generous, and a value inside it (a tie, or within 2**-20 of one) is computed exactly.
_MARGIN = 2.0 ** -20
_SAFE = (2.0 ** -200, 2.0 ** 200)  # magnitudes where the error bounds hold (no overflow, no subnormals)


def scaled(values, constant):
    """float(Fraction(v) * constant) for each float v of `values`: each product of a float
    and an exact rational, correctly rounded (round half to even), as a numpy float64
    array. `constant` is anything fraction() takes; it is positive.

    A float multiply by float(constant) can be an ulp off (two roundings). Here the exact
    product is p + e + v*c_lo (p the float product, e its error by Dekker's TwoProduct,
    c_lo the constant's remainder), so each element's distance to the nearest float is
    known to about 2**-50 of an ulp: p or its neighbour is taken when it is provably the
    nearest, and the rest (ties, near-ties, extreme magnitudes) go through Fraction."""
    import numpy as np
    exact = fraction(constant)
    v = np.array(values, dtype=np.float64, copy=True).ravel()
    hi = float(exact)
    lo = float(exact - Fraction(hi))
    out = np.empty_like(v)
    if not (_SAFE[0] < hi < _SAFE[1]):
        return _scaled_exactly(v, exact, out, np.arange(len(v)))
    with np.errstate(all="ignore"):
        p = v * hi
        e = _two_product_error(v, hi, p)
        residual = e + v * lo                   # the exact product minus p, to ~2**-50 ulp
        up = np.nextafter(p, np.inf)
        down = np.nextafter(p, -np.inf)
        half_up, half_down = (up - p) / 2, (p - down) / 2
        safe = (np.abs(v) > _SAFE[0]) & (np.abs(v) < _SAFE[1]) & np.isfinite(residual)
        keep = safe & (residual < half_up * (1 - _MARGIN)) & (-residual < half_down * (1 - _MARGIN))
        out[:] = p
        # the neighbour on the residual's side: its own residual is residual - (neighbour - p)
        step_up = safe & ~keep & (residual > 0)
        step_down = safe & ~keep & (residual < 0)
        rest_up = residual - (up - p)           # <= 0
        rest_down = residual + (p - down)       # >= 0
        gap_below_up = (up - p) / 2             # half gap from `up` down to p
        gap_above_down = (p - down) / 2
        gap_above_up = (np.nextafter(up, np.inf) - up) / 2
        gap_below_down = (down - np.nextafter(down, -np.inf)) / 2
        good_up = step_up & (-rest_up < gap_below_up * (1 - _MARGIN)) & (rest_up < gap_above_up * (1 - _MARGIN))
        good_down = step_down & (rest_down < gap_above_down * (1 - _MARGIN)) & (
            -rest_down < gap_below_down * (1 - _MARGIN))
    out[good_up] = up[good_up]
    out[good_down] = down[good_down]
    doubtful = np.flatnonzero(~(keep | good_up | good_down))
    return _scaled_exactly(v, exact, out, doubtful)


def _scaled_exactly(v, exact, out, indices):
    for i in indices.tolist():
        value = float(v[i])
        out[i] = float(Fraction(value) * exact) if math.isfinite(value) else value * float(exact)
    return out


def _two_product_error(a, b, p):
    """Dekker's TwoProduct: the exact a*b - p, with p = fl(a*b) (Veltkamp's split of both
    factors; exact in round-to-nearest binary64 without overflow or underflow)."""
    split = 134217729.0  # 2**27 + 1
    t = a * split
    a_hi = t - (t - a)
    a_lo = a - a_hi
    t = b * split
    b_hi = t - (t - b)
    b_lo = b - b_hi
    return ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def tokens_per_second(batch, seq_len, step_time):
    """Global throughput of a step of `batch` sequences of `seq_len` tokens."""
    positive(batch, "batch", integer=True)
    positive(seq_len, "seq_len", integer=True)
    positive(step_time, "step_time")
    if step_time < MIN_SECONDS:
        raise UsageError(None, "step_time", f"{step_time!r} s is out of range (at least {MIN_SECONDS:g} s)")
    return positive(int(batch) * int(seq_len) / float(step_time), "tokens_per_sec (batch x seq_len / step time)")


def per_token(model, seq_len=None, documents=None):
    """Exact training FLOPs per token at `seq_len`: (model FLOPs, hardware FLOPs, the
    report that names the conventions). Model FLOPs are the report's training FLOPs, as
    the preset counts them; hardware FLOPs are model.hardware_training(): forward,
    backward and whatever activation recomputation executes (equal with recompute none).
    With packed `documents`, per real (document) token."""
    report = model.report(seq_len=seq_len, batch=1, documents=documents)
    tokens = report["run"]["tokens"]
    model_flops = report["flops"]["per_token"]["training"]
    hardware_flops = report["flops"]["hardware_training"] / tokens
    return model_flops, hardware_flops, report


def hfu_note(model, model_flops, hardware_flops):
    """Why HFU equals MFU, when it does (None when they differ)."""
    if hardware_flops != model_flops:
        return None
    mode = getattr(model.conventions, "recompute", "none")
    if mode == "none":
        return "HFU = MFU: no activation recomputation; see --recompute"
    return f"HFU = MFU: this convention counts the {mode} recomputation in its model FLOPs"


# ------------------------------------------------------------------ warnings

def warnings_for(peak, mfu=None, hfu=None):
    """Plain-language warnings about a result and the peak it divides by."""
    return [text for _, text in result_warnings(mfu, hfu)] + peak_warnings(peak)


def result_warnings(mfu=None, hfu=None):
    """(kind, text) of each warning about an MFU / HFU value: "mfu-high", "hfu-high",
    "mfu-low"."""
    from .render.units import percent
    out = []
    if mfu is not None and mfu > 1:
        out.append(("mfu-high", f"MFU {percent(mfu)} exceeds 100%: the FLOPs are likely double-counted (e.g. a "
                                f"per-device token rate multiplied by all devices, or --gpus too small) or "
                                f"the peak is wrong"))
    if hfu is not None and hfu > 1 and (mfu is None or hfu != mfu):
        out.append(("hfu-high", f"HFU {percent(hfu)} exceeds 100%: check the recompute setting and the peak"))
    if mfu is not None and 0 < mfu < IMPLAUSIBLY_LOW:
        out.append(("mfu-low", f"MFU {percent(mfu)} is below {IMPLAUSIBLY_LOW:.0%}: check that the throughput is "
                               f"global (all devices) and counts tokens, not sequences"))
    return out


# ------------------------------------------------------------------ one measurement

@dataclass(frozen=True)
class Measurement:
    """MFU and HFU of one throughput, with everything that produced them."""

    model_name: str
    peak: PeakChoice
    devices: int
    seq_len: int
    batch: int | None
    step_time: float | None
    tokens_per_sec: float
    flops_per_token: object           # exact sympy number: model FLOPs
    hardware_flops_per_token: object  # exact sympy number: model + recompute FLOPs
    conventions: dict
    mfu: float
    hfu: float
    hfu_note: str | None = None
    warnings: tuple = field(default=())
    documents: dict | None = None     # packed documents: spec, tokens_per_pack (real), padding_per_pack
    vision: dict | None = None        # a vision-language sample's images and FLOPs (vision_run)
    given: str = "tokens_per_sec"     # the input: tokens_per_sec, tokens_per_sec_per_device or step_time
    tokens_per_sec_per_device_given: float | None = None
    applies: frozenset = frozenset(STRUCTURAL_SWITCHES)  # structural switches that apply (applicable_switches)

    @property
    def achieved_flops(self):
        """Model FLOP/s achieved: (total, per device)."""
        total = float(fraction(self.tokens_per_sec) * fraction(self.flops_per_token))
        return total, total / self.devices

    @property
    def achieved_hardware_flops(self):
        total = float(fraction(self.tokens_per_sec) * fraction(self.hardware_flops_per_token))
        return total, total / self.devices

    def to_dict(self):
        from .render.json import exact_tree
        from .render.units import exact
        total, each = self.achieved_flops
        hw_total, hw_each = self.achieved_hardware_flops
        return {
            "model": self.model_name,
            "hardware": self.peak.to_dict(),
            "devices": self.devices,
            "run": {"input": self.given,
                    "seq_len": self.seq_len, "batch": self.batch, "step_time": self.step_time,
                    "tokens_per_sec": self.tokens_per_sec,
                    "tokens_per_sec_per_device": self.tokens_per_sec / self.devices,
                    **({"documents": self.documents} if self.documents else {}),
                    **({"vision": exact_tree(self.vision)} if self.vision else {})},
            "flops_per_token": {"model": exact(self.flops_per_token),
                                "hardware": exact(self.hardware_flops_per_token)},
            "achieved_flops_per_sec": {"total": total, "per_device": each},
            "achieved_hardware_flops_per_sec": {"total": hw_total, "per_device": hw_each},
            "peak_flops_per_sec": {"total": self.peak.flops * self.devices, "per_device": self.peak.flops},
            "mfu": self.mfu,
            "hfu": self.hfu,
            "hfu_note": self.hfu_note,
            "conventions": self.conventions,
            "warnings": list(self.warnings),
        }


def measure(model, peak, devices=1, *, tokens_per_sec=None, step_time=None, batch=None, seq_len=None,
            documents=None, vision=None, tokens_per_sec_per_device=None):
    """MFU and HFU of `model` at one throughput: either `tokens_per_sec` (global, all
    devices), `tokens_per_sec_per_device` (one device's: the global rate is it times
    `devices`, exactly) or `step_time` seconds for `batch` sequences (global) of `seq_len` tokens.
    `peak` is a PeakChoice (see choose_peak). With packed `documents` the tokens are the
    documents' (real) tokens, padding excluded. With `vision` (multimodal.sample_cost) a
    sample's FLOPs are its decoder's and its images' encoder's, billed per sample: the
    token rate is samples/s times the sample's seq_len decoder tokens."""
    if sum(v is not None for v in (tokens_per_sec, tokens_per_sec_per_device, step_time)) != 1:
        raise UsageError(None, "throughput",
                         "give exactly one of tokens_per_sec, tokens_per_sec_per_device and step_time")
    positive(devices, "gpus", integer=True)
    given = ("step_time" if step_time is not None else "tokens_per_sec" if tokens_per_sec is not None
             else "tokens_per_sec_per_device")
    if tokens_per_sec_per_device is not None:
        positive(tokens_per_sec_per_device, "tokens_per_sec_per_device")
        tokens_per_sec = fraction(tokens_per_sec_per_device) * int(devices)  # exact: rounded once, below
    from .documents import documents_run, tokens_per_pack
    model_flops, hardware_flops, report = per_token(model, seq_len, documents)
    length = int(report["run"]["seq_len"])
    if vision is not None:
        from .multimodal import per_token as per_sample_token
        model_flops, hardware_flops = per_sample_token(vision)
    if step_time is not None:
        if batch is None:
            raise UsageError(None, "batch", "a step time needs the global batch (sequences per step)")
        tokens_per_sec = tokens_per_second(batch, tokens_per_pack(report), step_time)
    else:
        positive(tokens_per_sec, "tokens_per_sec")
        if batch is not None:
            positive(batch, "batch", integer=True)
    mfu = utilization(tokens_per_sec, model_flops, devices, peak.flops)
    hfu = utilization(tokens_per_sec, hardware_flops, devices, peak.flops)
    return Measurement(report["model"], peak, int(devices), length, batch,
                       float(step_time) if step_time is not None else None, float(tokens_per_sec),
                       model_flops, hardware_flops, report["conventions"], mfu, hfu,
                       hfu_note(model, model_flops, hardware_flops), tuple(warnings_for(peak, mfu, hfu)),
                       documents_run(report), vision_run(vision), given,
                       float(tokens_per_sec_per_device) if tokens_per_sec_per_device is not None else None,
                       applicable_switches(model))


def vision_run(vision):
    """A vision-language sample, for the MFU output (None without images)."""
    if vision is None:
        return None
    return {"images": vision["images"], "image_size": vision["image_size"], "family": vision["family"],
            "image_tokens": vision["image_tokens"], "frozen_encoder": vision["frozen_encoder"],
            "flops_per_sample": {"decoder": vision["decoder"]["training"], "encoder": vision["encoder"]["training"],
                                 "total": vision["sample"]["training"]},
            "billing": vision["billing"]}



# ------------------------------------------------------------------ the meter

class MFUWarning(UserWarning):
    """An MFU that is likely wrong (above 100%, implausibly low) or a peak that is not
    the usual denominator (sparse, FP8, integer, vector rates)."""


class MFUMeter:
    """MFU of each training step, cheap enough to call every step.

    The model's training FLOPs per token are compiled once, at construction, into a plain
    float (and, for other sequence lengths, a function of seq_len made by
    sympy.lambdify); `update` is then a few float operations: no sympy, no torch.

        import time, mfu_sym
        meter = mfu_sym.MFUMeter("examples/llama3_8b.yaml", hardware="h100",
                                 dtype="bf16", gpus=8, seq_len=4096)
        for batch in loader:
            start = time.perf_counter()
            train_step(batch)                       # synchronize the device first
            mfu = meter.update(tokens=batch.numel(), seconds=time.perf_counter() - start)
            print(f"MFU {mfu:.1%}  smoothed {meter.smoothed:.1%}")

    `tokens` is the global count for the step (all devices), `seconds` its wall time.
    `model` is a path to a model file or a mfu_sym Model (built with any conventions;
    `recompute` gives `last_hfu`). `smoothing` is the weight of the past in the
    exponential moving average `smoothed` (0 keeps only the last value).
    """

    def __init__(self, model, hardware, dtype="bf16", gpus=1, seq_len=None, sparse=False,
                 smoothing=0.9, registry=None):
        import sympy
        if isinstance(model, (str, Path)):
            from .loader import load
            model = load(model)
        positive(gpus, "gpus", integer=True)
        if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) or not 0 <= smoothing < 1:
            raise UsageError(None, "smoothing", f"{smoothing!r} (expected a number in [0, 1))")
        self.model = model
        self.peak = choose_peak(hardware, dtype, sparse, registry)
        self.gpus = int(gpus)
        self.smoothing = float(smoothing)
        self.flops_per_token, self.hardware_flops_per_token, report = per_token(model, seq_len)
        self.seq_len = int(report["run"]["seq_len"])
        self.conventions = report["conventions"]
        self._denominator = self.gpus * self.peak.flops
        # Other sequence lengths (curricula; packed documents, each one a sequence): the exact
        # per-token formulas, compiled.
        # The recomputation share depends on seq_len, so model and hardware FLOPs both are.
        length = model.seq_len
        model_expr = model.training().xreplace(model.values) / length
        hardware_expr = model.hardware_training().xreplace(model.values) / length
        self._compiled = sympy.lambdify(length, (model_expr, hardware_expr), modules="math")
        self._cache = {self.seq_len: (float(self.flops_per_token), float(self.hardware_flops_per_token))}
        self._per_token, self._hardware_per_token = self._cache[self.seq_len]
        self.warnings = []  # every warning given, in order (each is also a MFUWarning)
        for text in peak_warnings(self.peak):
            self._warn(text)
        self.reset()

    def _warn(self, text, stacklevel=3):
        self.warnings.append(text)
        warnings.warn(text, MFUWarning, stacklevel=stacklevel)  # points at the caller's line

    def _check(self, mfu, hfu):
        """The CLI's warnings about a result, each kind given once (at the first step
        that shows it)."""
        if IMPLAUSIBLY_LOW <= mfu <= 1 and hfu <= 1:  # the usual case costs two comparisons
            return
        for kind, text in result_warnings(mfu, hfu):
            if kind not in self._given:
                self._given.add(kind)
                self._warn(f"step {self.steps + 1}: {text}", stacklevel=5)

    def reset(self):
        """Forget the history (e.g. after warm-up); warnings already given stay given."""
        self._given = getattr(self, "_given", set())
        self.last = None
        self.last_hfu = None
        self.smoothed = None
        self.steps = 0

    def flops_per_token_at(self, seq_len):
        """(model, hardware) FLOPs per token as floats at another sequence length, cached."""
        value = self._cache.get(seq_len)
        if value is None:
            positive(seq_len, "seq_len", integer=True)
            model_flops, hardware_flops = self._compiled(int(seq_len))
            value = self._cache[seq_len] = (float(model_flops), float(hardware_flops))
        return value

    def update(self, tokens, seconds, seq_len=None, documents=None):
        """Record one step of `tokens` (global) in `seconds`; returns its MFU as a float.
        `documents`: the lengths of the step's packed documents (all devices; their sum is
        `tokens`): the step's FLOPs are then summed per document, as varlen attention runs
        them (a document of length L costs what a sequence of length L does)."""
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (tokens, seconds))
        if not (numbers and 0 < tokens <= MAX_MEASURE and MIN_SECONDS <= seconds <= MAX_MEASURE
                and math.isfinite(seconds) and math.isfinite(tokens)):
            raise UsageError(None, "update", f"tokens={tokens!r}, seconds={seconds!r} "
                                             f"(expected positive finite numbers)")
        if documents is not None:
            per_token, hardware_per_token = self._per_document(tokens, seq_len, documents)
        elif seq_len is None:
            per_token, hardware_per_token = self._per_token, self._hardware_per_token
        else:
            per_token, hardware_per_token = self.flops_per_token_at(seq_len)
        rate = tokens / (seconds * self._denominator)
        value = rate * per_token
        self.last = value
        self.last_hfu = rate * hardware_per_token
        self._check(value, self.last_hfu)
        self.smoothed = value if self.smoothed is None else (
            self.smoothing * self.smoothed + (1.0 - self.smoothing) * value)
        self.steps += 1
        return value

    def _per_document(self, tokens, seq_len, documents):
        """(model, hardware) FLOPs per token of a step of packed documents."""
        if seq_len is not None:
            raise UsageError(None, "update", "give seq_len or documents, not both")
        try:
            lengths = [int(n) for n in documents]
        except (TypeError, ValueError):
            raise UsageError(None, "documents", "expected the documents' lengths (positive integers)") from None
        if not lengths or any(n <= 0 or n != m for n, m in zip(lengths, documents)):
            raise UsageError(None, "documents", "expected the documents' lengths (positive integers)")
        if sum(lengths) != tokens:
            raise UsageError(None, "documents", f"the documents hold {sum(lengths):,} tokens, not the step's "
                                                f"{tokens:,}")
        flops = hardware = 0.0
        for length in lengths:
            model_flops, hardware_flops = self.flops_per_token_at(length)
            flops += model_flops * length
            hardware += hardware_flops * length
        return flops / tokens, hardware / tokens

    def __repr__(self):
        last = "none" if self.last is None else f"{self.last:.2%}"
        return (f"MFUMeter({self.peak.device.key} x {self.gpus}, {self.peak.dtype} {self.peak.kind}, "
                f"seq_len {self.seq_len:,}, last {last})")
