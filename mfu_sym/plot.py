"""Plots: where the FLOPs go as the sequence grows, and MFU against throughput.

matplotlib is an optional extra (`pip install 'mfu-sym[plot]'`), imported only when a
figure is drawn. Figures are built on matplotlib's object API with the Agg canvas (no
pyplot, no global backend switch), so they save the same from the command line, a
script or a notebook, where a returned Figure displays inline.

The numbers come first and stay testable without matplotlib: `breakdown_series` gives
each component's exact training FLOPs per token at each sequence length, and the
crossover where the attention core's FLOPs equal the MLP's (analysis.crossovers, for
the model's mask); `mfu_series` gives MFU as a function of throughput.
"""

import math
from dataclasses import dataclass

import sympy

from .errors import MfuSymError, UsageError

FORMATS = (".png", ".svg", ".pdf")
DEFAULT_RANGE = (128, 131072)  # sequence lengths: from short to long context
POINTS_PER_OCTAVE = 4


class MissingExtra(MfuSymError, ImportError):
    """An optional dependency (matplotlib) is not installed."""


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtra(None, "plot", "matplotlib is not installed: pip install 'mfu-sym[plot]' "
                                         "(or pip install matplotlib)") from None
    return Figure, FigureCanvasAgg


def _figure(**kwargs):
    Figure, FigureCanvasAgg = _matplotlib()
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _plain(text):
    """Text from a file, drawn as it is: matplotlib would read `$...$` as math (and fail
    on a malformed formula)."""
    return str(text).replace("$", r"\$")


def save(fig, path):
    """Write `fig` to `path` (.png, .svg or .pdf, chosen by the suffix)."""
    path = str(path)
    suffix = path[path.rfind("."):].lower() if "." in path else ""
    if suffix not in FORMATS:
        raise UsageError(path, "output", f"unknown image format {suffix or '(no extension)'!r} "
                                         f"(expected {', '.join(FORMATS)})")
    from .output import target
    with target(path) as temporary:
        try:
            fig.savefig(str(temporary), dpi=150, bbox_inches="tight", format=suffix[1:])
        except OSError as exc:
            raise UsageError(path, None, f"cannot write: {exc.strerror or exc}") from None
    return path


def convention_label(model):
    c = model.conventions
    label = f"preset {c.preset}, mask {c.mask}, {c.attention_kernel} attention"
    if c.overridden:
        label += f" (set: {', '.join(c.overridden)})"
    return label


def _unit(value):
    """(scale, "TFLOP") for an axis of FLOPs up to `value`."""
    from .render.units import prefix
    scale, name = prefix(value, largest="P", smallest="k")
    return scale, name + "FLOP"


# ------------------------------------------------------------------ breakdown

@dataclass(frozen=True)
class BreakdownSeries:
    """Training FLOPs per token by component, exact, at each sequence length."""

    model_name: str
    conventions: str
    seq_lens: tuple         # of int, increasing
    per_token: dict         # component -> tuple of exact sympy numbers (training FLOPs / token)
    crossover: dict | None  # {"exact", "approx"}: attention core = MLP, for the model's mask
    mask: str

    @property
    def total(self):
        return tuple(sum(values) for values in zip(*self.per_token.values()))

    def share(self, component):
        """The component's share of training FLOPs at each length (floats)."""
        return tuple(float(v / t) for v, t in zip(self.per_token[component], self.total))


def seq_lengths(low, high, per_octave=POINTS_PER_OCTAVE):
    """Integers from `low` to `high`, evenly spaced on a log scale, both ends included."""
    if isinstance(low, bool) or isinstance(high, bool) or not (isinstance(low, int) and isinstance(high, int)):
        raise UsageError(None, "seq_range", f"{low!r}, {high!r} (expected two integers)")
    if low < 1 or high <= low:
        raise UsageError(None, "seq_range", f"{low}..{high} (expected 1 <= MIN < MAX)")
    steps = max(2, math.ceil(math.log2(high / low) * per_octave))
    points = {round(low * (high / low) ** (i / steps)) for i in range(steps + 1)}
    return tuple(sorted(points | {low, high}))


def default_range(model):
    """128 to 128k tokens, or to the model's own context when that is longer."""
    low, high = DEFAULT_RANGE
    return low, max(high, model.arch.seq_len or 0)


def breakdown_series(model, seq_range=None, per_octave=POINTS_PER_OCTAVE):
    """Each component's training FLOPs per token (as the model's conventions count them)
    against sequence length, exact, and the attention-vs-MLP crossover for its mask."""
    from .analysis import crossovers
    from .compiled import at_points
    low, high = seq_range or default_range(model)
    lengths = seq_lengths(int(low), int(high), per_octave)
    s = model.seq_len
    per_token = {}
    for name in model.components:
        per_sequence = model.training(name).xreplace(model.values)
        if per_sequence == 0:
            continue
        count = at_points(per_sequence, s)  # compiled: exact, microseconds a point
        per_token[name] = tuple(sympy.Rational(value.numerator, value.denominator * n)
                                for value, n in ((count(n), n) for n in lengths))
    mask = model.conventions.mask
    return BreakdownSeries(model.arch.name, convention_label(model), lengths, per_token,
                           crossovers(model).get(mask), mask)


def breakdown(model, path=None, seq_range=None, series=None):
    """Stacked areas of training FLOPs per token by component against sequence length
    (log scale), above each component's share; the crossover marked. Returns the Figure
    (and writes it to `path` when given)."""
    series = series or breakdown_series(model, seq_range)
    fig = _figure(figsize=(9, 7.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    x = series.seq_lens
    names = list(series.per_token)
    scale, unit = _unit(max(float(t) for t in series.total))
    top.stackplot(x, [[float(v) / scale for v in series.per_token[n]] for n in names], labels=names, alpha=0.85)
    bottom.stackplot(x, [[100 * v for v in series.share(n)] for n in names], alpha=0.85)
    top.set_xscale("log", base=2)
    top.set_xlim(x[0], x[-1])
    ticks = _length_ticks(x[0], x[-1])
    bottom.set_xticks(ticks, [_length_label(t) for t in ticks])
    bottom.minorticks_off()
    top.set_ylabel(f"training FLOPs per token ({unit})")
    bottom.set_ylabel("share of training FLOPs (%)")
    bottom.set_ylim(0, 100)
    bottom.set_xlabel("sequence length s (tokens, log scale)")
    for ax in (top, bottom):
        ax.grid(True, which="major", alpha=0.3)
    cross = series.crossover
    if cross is not None and x[0] <= cross["approx"] <= x[-1]:
        for ax in (top, bottom):
            ax.axvline(cross["approx"], color="black", linestyle="--", linewidth=1)
        top.annotate(f"attention core = MLP\ns = {cross['approx']:,.0f}", xy=(cross["approx"], 0.97),
                     xycoords=("data", "axes fraction"), xytext=(-6, 0), textcoords="offset points",
                     ha="right", va="top", fontsize=9)
    else:
        where = "never" if cross is None else f"at s = {cross['approx']:,.0f}, outside the range"
        top.text(0.01, 0.97, f"attention core = MLP: {where}", transform=top.transAxes, va="top", fontsize=9)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9, title="component")
    top.set_title(f"{_plain(series.model_name)}: training FLOPs per token by component\n{series.conventions}")
    if path is not None:
        save(fig, path)
    return fig


def _length_ticks(low, high):
    """Powers of two in [low, high], at most about eight of them."""
    powers = [2**k for k in range(math.ceil(math.log2(low)), math.floor(math.log2(high)) + 1)]
    step = max(1, math.ceil(len(powers) / 8))
    return powers[::step] or [low, high]


def _length_label(n):
    return f"{n // 1024}k" if n >= 1024 and n % 1024 == 0 else f"{n:,}"


# ------------------------------------------------------------------ MFU

@dataclass(frozen=True)
class MfuLine:
    label: str
    flops_per_token: object  # exact: model FLOPs per token (training)
    hardware: bool          # True: HFU (hardware FLOPs), False: MFU


@dataclass(frozen=True)
class MfuSeries:
    model_name: str
    seq_len: int
    peak: object            # mfu.PeakChoice
    gpus: int
    lines: tuple            # of MfuLine
    marks: tuple            # of (tokens_per_sec, mfu) for the first line

    def utilization(self, line, tokens_per_sec):
        from .mfu import utilization
        return utilization(tokens_per_sec, line.flops_per_token, self.gpus, self.peak.flops)

    @property
    def full_throughput(self):
        """Tokens/s at which the first line reaches 100%."""
        return self.gpus * self.peak.flops / float(self.lines[0].flops_per_token)


def mfu_series(model, hardware, dtype="bf16", gpus=1, seq_len=None, compare=(), marks=(), sparse=False):
    """MFU as a function of global throughput: one line for the model's conventions, one
    per preset in `compare`, HFU where recomputation adds hardware FLOPs; `marks` are
    measured throughputs (tokens/s) to mark on the first line."""
    from .analysis import with_preset
    from .mfu import per_token, utilization
    from .peaks import choose_peak
    from .hardware import load_hardware
    peak = choose_peak(hardware, dtype, sparse, registry=load_hardware(root=model.library.root))
    model_flops, hardware_flops, report = per_token(model, seq_len)
    length = int(report["run"]["seq_len"])
    lines = [MfuLine(f"MFU, {convention_label(model)}", model_flops, False)]
    if hardware_flops != model_flops:
        lines.append(MfuLine(f"HFU, recompute {model.conventions.recompute}", hardware_flops, True))
    for preset in compare:
        other = with_preset(model, preset)
        lines.append(MfuLine(f"MFU, preset {preset}", per_token(other, length)[0], False))
    points = tuple((float(t), utilization(t, model_flops, gpus, peak.flops)) for t in marks)
    return MfuSeries(model.arch.name, length, peak, int(gpus), tuple(lines), points)


def mfu(model, hardware, path=None, dtype="bf16", gpus=1, seq_len=None, compare=(), marks=(), series=None):
    """MFU (%) against throughput (tokens/s) on `gpus` x `hardware` at its dense peak of
    `dtype`, one line per convention. Returns the Figure (written to `path` when given)."""
    series = series or mfu_series(model, hardware, dtype, gpus, seq_len, compare, marks)
    fig = _figure(figsize=(8.5, 5.5), layout="constrained")
    ax = fig.subplots()
    top = series.full_throughput
    if series.marks:
        top = max(top, 1.1 * max(t for t, _ in series.marks))
    scale, unit = _throughput_unit(top)
    xs = [top * i / 100 for i in range(101)]
    for line in series.lines:
        ys = [100 * series.utilization(line, x) if x > 0 else 0.0 for x in xs]
        ax.plot([x / scale for x in xs], ys, linestyle="--" if line.hardware else "-", label=line.label)
    for tokens, value in series.marks:
        ax.plot([tokens / scale], [100 * value], "o", color="black")
        ax.annotate(f"{100 * value:.1f}%", (tokens / scale, 100 * value), xytext=(6, -12),
                    textcoords="offset points", fontsize=9)
    ax.axhline(100, color="grey", linewidth=0.8)
    ax.set_xlim(0, top / scale)
    ax.set_ylim(0, None)
    tokens = f"{unit} tokens/s".strip()
    ax.set_xlabel(f"throughput ({tokens}, all {series.gpus} devices)" if series.gpus > 1
                  else f"throughput ({tokens})")
    ax.set_ylabel("utilization (% of peak FLOP/s)")
    ax.grid(True, alpha=0.3)
    if series.gpus > 1:
        # the same throughput per device, in its own unit
        device_scale, device_unit = _throughput_unit(top / series.gpus)
        ratio = scale / series.gpus / device_scale
        per_device = ax.secondary_xaxis("top", functions=(lambda v: v * ratio, lambda v: v / ratio))
        per_device.set_xlabel(f"per device ({device_unit} tokens/s)".replace("( ", "("))
    ax.legend(loc="upper left", fontsize=9)
    peak = series.peak
    ax.set_title(f"{_plain(series.model_name)}: MFU against throughput, s = {series.seq_len:,}\n"
                 f"{series.gpus} x {peak.device.name}, {peak.dtype} {peak.kind} peak "
                 f"{peak.tflops:,g} {peak.unit} per device")
    if path is not None:
        save(fig, path)
    return fig


def _throughput_unit(value):
    """(scale, "M") for an axis of tokens/s up to `value`: a prefix once it gives 10 or more."""
    from .render.units import prefix
    return prefix(value, largest="G", smallest="k", above=10)
