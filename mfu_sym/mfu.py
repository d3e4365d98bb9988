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
- `from_log(...)`: every step of a JSON-lines or CSV training log, with a summary;
- `MFUMeter`: a per-step meter for a training loop (no sympy work per step, no torch).
"""

import csv
import json
import math
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from .errors import LogError, UsageError
from .files import DataError, decode_json

# Dtypes whose peak is not the denominator of published MFU (PaLM, Llama 3 and
# torchtitan all divide by the BF16 dense peak; torchtitan refuses an FP8 MFU).
LOW_PRECISION = ("fp8", "fp6", "fp4")
# Non-tensor-core rates: matmuls of a training run do not run here.
VECTOR_RATES = ("fp32", "fp64")
INTEGER_RATES = ("int8",)
# The dtype published MFU divides by, for comparing a low-precision peak against it.
REFERENCE_DTYPE = "bf16"
# Below this an MFU usually means a units mistake (per-device tokens/s, sequences/s).
IMPLAUSIBLY_LOW = 0.01

LOG_KINDS = ("tokens-per-sec", "step-time")
_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
_CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}


# ------------------------------------------------------------------ the peak

@dataclass(frozen=True)
class PeakChoice:
    """The peak an MFU divides by: one device, one dtype, dense or sparse."""

    device: object          # hardware.Device
    dtype: str              # canonical name (bf16, fp8, ...)
    sparse: bool
    flops: float            # FLOP/s (OP/s for int8) of one device
    tflops: float           # the figure as hardware.yaml gives it
    sources: tuple          # of hardware.Source
    unconfirmed: bool
    detail: str | None

    @property
    def kind(self):
        return "sparse" if self.sparse else "dense"

    @property
    def unit(self):
        return "TOPS" if self.dtype in INTEGER_RATES else "TFLOP/s"

    def describe(self):
        """One line: which figure, and why it is (or is not) the MFU denominator."""
        if self.sparse:
            dense = self.device.peak(self.dtype).dense_tflops
            return (f"{self.dtype} SPARSE (2:4 structured sparsity; dense is {dense:,g}), "
                    f"not the usual MFU denominator")
        return f"{self.dtype} dense (without sparsity), the MFU denominator"

    def to_dict(self):
        return {
            "device": self.device.key, "name": self.device.name, "dtype": self.dtype,
            "sparse": self.sparse, "kind": self.kind, "tflops": self.tflops, "unit": self.unit,
            "flops_per_device": self.flops, "unconfirmed": self.unconfirmed, "detail": self.detail,
            "sources": [s.to_dict() for s in self.sources],
        }


def choose_peak(hardware, dtype="bf16", sparse=False, registry=None):
    """The peak of `hardware` (a name users type, or a hardware.Device) for `dtype`:
    dense unless `sparse`. Unknown names, missing dtypes and missing sparse figures raise
    HardwareError naming the choices."""
    from .hardware import Device, load_hardware
    device = hardware if isinstance(hardware, Device) else (registry or load_hardware()).resolve(hardware)
    peak = device.peak(dtype)
    flops = device.peak_flops(peak.dtype, sparse=sparse)
    return PeakChoice(device, peak.dtype, bool(sparse), flops,
                      peak.sparse_tflops if sparse else peak.dense_tflops,
                      peak.sources, peak.unconfirmed, peak.detail)


# ------------------------------------------------------------------ arithmetic

# Measured inputs beyond these are units mistakes, and would overflow a float ratio.
MAX_MEASURE = 1e18   # tokens/s, tokens, seconds, devices
MIN_SECONDS = 1e-12


def _positive(value, name, integer=False, maximum=MAX_MEASURE):
    """A finite number > 0 (an int > 0 when `integer`) and at most `maximum`, else UsageError."""
    kind = "a positive integer" if integer else "a positive number"
    numeric = isinstance(value, (int, float, Fraction)) or _is_rational(value)
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


def _is_rational(value):
    return getattr(value, "is_Rational", False) is True


def _fraction(value):
    """An exact Fraction of an int, float (its exact binary value), Fraction or sympy Rational."""
    if _is_rational(value):
        return Fraction(int(value.p), int(value.q))
    return Fraction(value)


def utilization(tokens_per_sec, flops_per_token, devices, peak_flops):
    """tokens/s x FLOPs per token / (devices x peak), computed exactly and rounded once."""
    _positive(tokens_per_sec, "tokens_per_sec")
    _positive(flops_per_token, "flops_per_token", maximum=None)
    _positive(devices, "devices", integer=True)
    _positive(peak_flops, "peak_flops", maximum=None)
    return float(_fraction(tokens_per_sec) * _fraction(flops_per_token)
                 / (int(devices) * _fraction(peak_flops)))


def tokens_per_second(batch, seq_len, step_time):
    """Global throughput of a step of `batch` sequences of `seq_len` tokens."""
    _positive(batch, "batch", integer=True)
    _positive(seq_len, "seq_len", integer=True)
    _positive(step_time, "step_time")
    if step_time < MIN_SECONDS:
        raise UsageError(None, "step_time", f"{step_time!r} s is out of range (at least {MIN_SECONDS:g} s)")
    return _positive(int(batch) * int(seq_len) / float(step_time), "tokens_per_sec (batch x seq_len / step time)")


def per_token(model, seq_len=None):
    """Exact training FLOPs per token at `seq_len`: (model FLOPs, hardware FLOPs, the
    report that names the conventions). Model FLOPs are the report's training FLOPs, as
    the preset counts them; hardware FLOPs are model.hardware_training(): forward,
    backward and whatever activation recomputation executes (equal with recompute none)."""
    report = model.report(seq_len=seq_len, batch=1)
    length = report["run"]["seq_len"]
    model_flops = report["flops"]["per_token"]["training"]
    hardware_flops = model.evaluate(model.hardware_training(), seq_len=int(length)) / length
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
    out = []
    if mfu is not None and mfu > 1:
        out.append(("mfu-high", f"MFU {mfu:.1%} exceeds 100%: the FLOPs are likely double-counted (e.g. a "
                                f"per-device token rate multiplied by all devices, or --gpus too small) or "
                                f"the peak is wrong"))
    if hfu is not None and hfu > 1 and (mfu is None or hfu != mfu):
        out.append(("hfu-high", f"HFU {hfu:.1%} exceeds 100%: check the recompute setting and the peak"))
    if mfu is not None and 0 < mfu < IMPLAUSIBLY_LOW:
        out.append(("mfu-low", f"MFU {mfu:.3%} is below {IMPLAUSIBLY_LOW:.0%}: check that the throughput is "
                               f"global (all devices) and counts tokens, not sequences"))
    return out


def peak_warnings(peak):
    """Warnings about the dtype / peak pairing alone."""
    out = []
    name = peak.device.name
    if peak.sparse:
        out.append(f"the peak is {name}'s 2:4-SPARSE {peak.dtype} figure ({peak.tflops:,g} {peak.unit}); "
                   f"published MFU divides by the dense peak, so this MFU is about half of the "
                   f"dense-peak MFU")
    if peak.dtype in LOW_PRECISION:
        reference = next((p for p in peak.device.peaks if p.dtype == REFERENCE_DTYPE), None)
        ratio = (f", {peak.flops / reference.flops(peak.sparse):g}x the {REFERENCE_DTYPE} peak"
                 if reference is not None and (reference.has_sparse or not peak.sparse) else "")
        out.append(f"the {peak.dtype} peak ({peak.tflops:,g} {peak.unit}{ratio}) is not the usual "
                   f"denominator: published MFU divides by the {REFERENCE_DTYPE} dense peak "
                   f"(PaLM, Llama 3, torchtitan), so quote the peak with this MFU")
    if peak.dtype in INTEGER_RATES:
        out.append(f"the {peak.dtype} peak counts integer operations (TOPS), not floating-point "
                   f"FLOPs: an MFU of floating-point training against it is not meaningful")
    if peak.dtype in VECTOR_RATES:
        out.append(f"{peak.dtype} is the non-tensor (vector) rate of {name}; if the matmuls run on "
                   f"tensor cores (tf32, bf16, fp16), divide by that dtype's peak instead")
    if peak.unconfirmed:
        out.append(f"the {peak.dtype} peak of {name} is marked unconfirmed in hardware.yaml "
                   f"(no primary source was seen)")
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

    @property
    def achieved_flops(self):
        """Model FLOP/s achieved: (total, per device)."""
        total = float(_fraction(self.tokens_per_sec) * _fraction(self.flops_per_token))
        return total, total / self.devices

    @property
    def achieved_hardware_flops(self):
        total = float(_fraction(self.tokens_per_sec) * _fraction(self.hardware_flops_per_token))
        return total, total / self.devices

    def to_dict(self):
        from .export import exact
        total, each = self.achieved_flops
        hw_total, hw_each = self.achieved_hardware_flops
        return {
            "model": self.model_name,
            "hardware": self.peak.to_dict(),
            "devices": self.devices,
            "run": {"seq_len": self.seq_len, "batch": self.batch, "step_time": self.step_time,
                    "tokens_per_sec": self.tokens_per_sec,
                    "tokens_per_sec_per_device": self.tokens_per_sec / self.devices},
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


def measure(model, peak, devices=1, *, tokens_per_sec=None, step_time=None, batch=None, seq_len=None):
    """MFU and HFU of `model` at one throughput: either `tokens_per_sec` (global, all
    devices) or `step_time` seconds for `batch` sequences (global) of `seq_len` tokens.
    `peak` is a PeakChoice (see choose_peak)."""
    if (tokens_per_sec is None) == (step_time is None):
        raise UsageError(None, "throughput", "give exactly one of tokens_per_sec and step_time")
    _positive(devices, "gpus", integer=True)
    model_flops, hardware_flops, report = per_token(model, seq_len)
    length = int(report["run"]["seq_len"])
    if step_time is not None:
        if batch is None:
            raise UsageError(None, "batch", "a step time needs the global batch (sequences per step)")
        tokens_per_sec = tokens_per_second(batch, length, step_time)
    else:
        _positive(tokens_per_sec, "tokens_per_sec")
        if batch is not None:
            _positive(batch, "batch", integer=True)
    mfu = utilization(tokens_per_sec, model_flops, devices, peak.flops)
    hfu = utilization(tokens_per_sec, hardware_flops, devices, peak.flops)
    return Measurement(report["model"], peak, int(devices), length, batch,
                       float(step_time) if step_time is not None else None, float(tokens_per_sec),
                       model_flops, hardware_flops, report["conventions"], mfu, hfu,
                       hfu_note(model, model_flops, hardware_flops), tuple(warnings_for(peak, mfu, hfu)))


# ------------------------------------------------------------------ training logs

@dataclass(frozen=True)
class LogRecord:
    index: int      # 1-based among the records that have the column
    line: int       # line in the file (CSV: the header is line 1)
    value: float


@dataclass(frozen=True)
class Log:
    """The values of one column of a training log, as arrays (a million steps cost
    memory for two arrays, not a million objects)."""

    path: str
    column: str
    lines: object       # numpy int64: line of each value in the file
    values: object      # numpy float64: the positive values
    skipped: int        # records without the column (or with an empty value)

    @property
    def records(self):
        return tuple(LogRecord(i + 1, int(line), float(value))
                     for i, (line, value) in enumerate(zip(self.lines, self.values)))


def read_log(path, column):
    """The positive values of `column` in a training log: JSON lines (.jsonl, .ndjson,
    .json; a .json file may also be one array of objects) or CSV (.csv, .tsv). Records that
    lack the column, or leave it empty or null, are skipped and counted (evaluation lines
    in a mixed log); a value that is not a positive finite number is an error naming its
    line. The file is streamed, so a long log costs memory only for its values."""
    import numpy as np
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _JSON_SUFFIXES and suffix not in _CSV_SUFFIXES:
        raise LogError(path, None, f"unknown log format {suffix or '(no extension)'!r} (expected "
                                   f"{', '.join(_JSON_SUFFIXES + tuple(_CSV_SUFFIXES))})")
    if not path.exists():
        raise LogError(path, None, "no such file")
    if not path.is_file():
        raise LogError(path, None, "not a regular file")
    reader = _csv_values if suffix in _CSV_SUFFIXES else _json_values
    lines, values, seen = [], [], {}
    skipped = rows = 0
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            for line, raw in reader(handle, path, column, _CSV_SUFFIXES.get(suffix), seen):
                rows += 1
                if raw is None or (isinstance(raw, str) and not raw.strip()):
                    skipped += 1
                    continue
                lines.append(line)
                values.append(_log_value(raw, path, line, column))
    except UnicodeDecodeError:
        raise LogError(path, None, "not UTF-8 text") from None
    except OSError as exc:
        raise LogError(path, None, f"cannot read: {exc.strerror or exc}") from None
    if not rows:
        raise LogError(path, None, "empty log (expected one record per training step)")
    if not values:
        if column not in seen:
            from .render import printable
            names = [printable(str(k))[:40] for k in list(seen)[:20]]
            columns = ", ".join(names) + (" ..." if len(seen) > 20 else "") if names else "(none)"
            raise LogError(path, column, f"no such column (the log has: {columns})")
        raise LogError(path, column, f"every record leaves {column!r} empty")
    return Log(str(path), column, np.asarray(lines, dtype=np.int64), np.asarray(values, dtype=np.float64), skipped)


_SEEN_KEYS = 100  # keys remembered for the "no such column" message


def _json_values(handle, path, column, _delimiter, seen):
    for line, row in _json_rows(handle, path):
        if len(seen) < _SEEN_KEYS:
            for key in row:
                seen.setdefault(key, None)
        yield line, row.get(column)


def _json_rows(handle, path):
    first = handle.read(1)
    while first and first.isspace():
        first = handle.read(1)
    if first == "[":  # one JSON array of objects
        try:
            data = decode_json(first + handle.read())
        except json.JSONDecodeError as exc:
            raise LogError(path, None, f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
        except DataError as exc:
            raise LogError(path, None, f"invalid JSON: {exc}") from None
        except RecursionError:
            raise LogError(path, None, "invalid JSON: nested too deeply") from None
        if not isinstance(data, list):
            raise LogError(path, None, "expected a JSON array of objects, or one JSON object per line")
        for i, row in enumerate(data, 1):
            if not isinstance(row, dict):
                raise LogError(path, f"record {i}", "expected a JSON object per step")
            yield i, row
        return
    handle.seek(0)
    for number, text in enumerate(handle, 1):
        if not text.strip():
            continue
        try:
            row = decode_json(text)
        except json.JSONDecodeError as exc:
            raise LogError(path, f"line {number}", f"invalid JSON: {exc.msg}") from None
        except DataError as exc:
            raise LogError(path, f"line {number}", f"invalid JSON: {exc}") from None
        except RecursionError:
            raise LogError(path, f"line {number}", "invalid JSON: nested too deeply") from None
        if not isinstance(row, dict):
            raise LogError(path, f"line {number}", "expected a JSON object per line")
        yield number, row


def _csv_values(handle, path, column, delimiter, seen):
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        for key in header[:_SEEN_KEYS]:
            seen.setdefault(key, None)
        index = header.index(column) if column in header else None
        width = len(header)
        for row in reader:
            if len(row) > width:
                raise LogError(path, f"line {reader.line_num}", f"{len(row)} fields but the header names {width}")
            if not any(cell.strip() for cell in row):
                continue
            yield reader.line_num, (row[index] if index is not None and index < len(row) else None)
    except csv.Error as exc:
        raise LogError(path, f"line {reader.line_num}", f"invalid CSV: {exc}") from None


def _log_value(raw, path, line, column):
    if type(raw) is float and 0 < raw <= MAX_MEASURE:  # the common case, at once
        return raw
    where = f"line {line}"
    shown = repr(raw) if len(repr(raw)) <= 40 else repr(raw)[:37] + "..."
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise LogError(path, where, f"{column} is {shown}, not a number")
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        raise LogError(path, where, f"{column} is {shown}, not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise LogError(path, where, f"{column} is {shown} (expected a positive finite number)")
    if value > MAX_MEASURE:
        raise LogError(path, where, f"{column} is {shown} (expected at most {MAX_MEASURE:g})")
    return value


def summarize(values):
    """median, p10, p90 (linear interpolation, numpy's default), mean, min, max."""
    import numpy as np
    values = np.asarray(list(values) if not hasattr(values, "__len__") else values, dtype=np.float64)
    p10, median, p90 = np.percentile(values, [10, 50, 90])
    return {"median": float(median), "p10": float(p10), "p90": float(p90),
            "mean": math.fsum(values.tolist()) / len(values), "min": float(values.min()),
            "max": float(values.max()), "steps": int(len(values))}


@dataclass(frozen=True)
class LogSeries:
    """MFU per step of a training log, warm-up excluded, and its summary. Per-step
    figures are arrays (`columns`); `steps` gives them as one dict per step."""

    model_name: str
    peak: PeakChoice
    devices: int
    seq_len: int
    batch: int | None
    log: Log
    kind: str
    warmup: int
    flops_per_token: object
    hardware_flops_per_token: object
    conventions: dict
    columns: dict       # index, line, value, tokens_per_sec, mfu, hfu -> numpy arrays
    summary: dict       # mfu, hfu, tokens_per_sec -> summarize()
    hfu_note: str | None = None
    warnings: tuple = field(default=())

    @property
    def steps(self):
        keys = ("index", "line", "value", "tokens_per_sec", "mfu", "hfu")
        return tuple(dict(zip(keys, row)) for row in zip(*[self.columns[k].tolist() for k in keys]))

    def to_dict(self, per_step=True):
        from .export import exact
        out = {
            "model": self.model_name,
            "hardware": self.peak.to_dict(),
            "devices": self.devices,
            "run": {"seq_len": self.seq_len, "batch": self.batch},
            "log": {"path": self.log.path, "column": self.log.column, "kind": self.kind,
                    "records": len(self.log.values), "skipped_without_value": self.log.skipped,
                    "warmup_excluded": self.warmup, "steps_used": len(self.columns["mfu"])},
            "flops_per_token": {"model": exact(self.flops_per_token),
                                "hardware": exact(self.hardware_flops_per_token)},
            "peak_flops_per_sec": {"total": self.peak.flops * self.devices, "per_device": self.peak.flops},
            "summary": self.summary,
            "hfu_note": self.hfu_note,
            "conventions": self.conventions,
            "warnings": list(self.warnings),
        }
        if per_step:
            out["steps"] = list(self.steps)
        return out


def from_log(model, peak, devices, path, column, kind="tokens-per-sec", *, warmup=0, batch=None, seq_len=None):
    """MFU per step of the log at `path`: `column` holds global tokens/s (kind
    "tokens-per-sec") or seconds per step (kind "step-time", which needs `batch`). The
    first `warmup` records with a value are excluded from the per-step list and summary.
    Each step's MFU is its throughput times one exact constant (FLOPs per token / (devices
    x peak)), rounded to a float once."""
    import numpy as np
    if kind not in LOG_KINDS:
        raise UsageError(None, "log_kind", f"{kind!r} (expected one of {', '.join(LOG_KINDS)})")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise UsageError(None, "warmup", f"{warmup!r} is not a non-negative integer")
    _positive(devices, "gpus", integer=True)
    if kind == "step-time":
        if batch is None:
            raise UsageError(None, "batch", "a step-time log needs the global batch (sequences per step)")
        _positive(batch, "batch", integer=True)
    model_flops, hardware_flops, report = per_token(model, seq_len)
    length = int(report["run"]["seq_len"])
    log = read_log(path, column)
    if warmup >= len(log.values):
        raise LogError(path, column, f"all {len(log.values)} steps are in the warm-up "
                                     f"(--warmup {warmup}); expected fewer warm-up steps than steps")
    values = log.values[warmup:]
    if kind == "tokens-per-sec":
        tps = values
    else:
        if values.min() < MIN_SECONDS:
            line = int(log.lines[warmup:][values.argmin()])
            raise LogError(path, f"line {line}", f"{column} is {values.min()!r} s (expected at least {MIN_SECONDS:g})")
        tps = (int(batch) * length) / values
    denominator = int(devices) * _fraction(peak.flops)
    model_scale = float(_fraction(model_flops) / denominator)
    hardware_scale = float(_fraction(hardware_flops) / denominator)
    columns = {"index": np.arange(warmup + 1, len(log.values) + 1), "line": log.lines[warmup:],
               "value": values, "tokens_per_sec": tps, "mfu": tps * model_scale, "hfu": tps * hardware_scale}
    summary = {key: summarize(columns[key]) for key in ("mfu", "hfu", "tokens_per_sec")}
    found = []
    for key, label, note in (("mfu", "MFU", "the FLOPs are likely double-counted or the peak is wrong"),
                             ("hfu", "HFU", "check the recompute setting and the peak")):
        over = columns[key] > 1
        if key == "hfu":
            over &= columns["hfu"] != columns["mfu"]
        if over.any():
            first = int(np.argmax(over))
            found.append(f"{int(over.sum())} of {len(values)} steps have {label} above 100% (first: line "
                            f"{int(columns['line'][first])}, {columns[key][first]:.1%}): {note}")
    if summary["mfu"]["median"] < IMPLAUSIBLY_LOW:
        found.append(f"median MFU {summary['mfu']['median']:.3%} is below {IMPLAUSIBLY_LOW:.0%}: check "
                        f"that the column is global tokens/s (or seconds per step) and --gpus")
    if log.skipped:
        found.append(f"records without a {column!r} value were skipped: {log.skipped}")
    found.extend(peak_warnings(peak))
    return LogSeries(report["model"], peak, int(devices), length, batch, log, kind, warmup,
                     model_flops, hardware_flops, report["conventions"], columns, summary,
                     hfu_note(model, model_flops, hardware_flops), tuple(found))


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
        _positive(gpus, "gpus", integer=True)
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
        # Other sequence lengths (packing, curricula): the exact per-token formulas, compiled.
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
            _positive(seq_len, "seq_len", integer=True)
            model_flops, hardware_flops = self._compiled(int(seq_len))
            value = self._cache[seq_len] = (float(model_flops), float(hardware_flops))
        return value

    def update(self, tokens, seconds, seq_len=None):
        """Record one step of `tokens` (global) in `seconds`; returns its MFU as a float."""
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (tokens, seconds))
        if not (numbers and 0 < tokens <= MAX_MEASURE and MIN_SECONDS <= seconds <= MAX_MEASURE
                and math.isfinite(seconds) and math.isfinite(tokens)):
            raise UsageError(None, "update", f"tokens={tokens!r}, seconds={seconds!r} "
                                             f"(expected positive finite numbers)")
        if seq_len is None:
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

    def __repr__(self):
        last = "none" if self.last is None else f"{self.last:.2%}"
        return (f"MFUMeter({self.peak.device.key} x {self.gpus}, {self.peak.dtype} {self.peak.kind}, "
                f"seq_len {self.seq_len}, last {last})")
