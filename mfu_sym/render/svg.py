"""Charts as inline SVG text, written by hand: no matplotlib (an optional extra), no
fonts or images fetched, nothing but elements a browser draws. Used by the HTML report.

Two kinds: `bars` (horizontal bars, one per item, each a `<rect class="bar">`) and
`lines` (lines over a log-2 x axis, for quantities against the sequence length, or a
linear one, for MFU against throughput). Every label passes through `html_text`; the
numbers drawn are floats of the exact values the tables print.
"""

import math

from .escape import html_text
from .units import prefix

# Colour-blind-safe qualitative palette (Okabe and Ito 2008), then greys.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
           "#999999", "#666666")
FONT = 'font-family="system-ui, sans-serif"'


def colour(index):
    return PALETTE[index % len(PALETTE)]


def _n(value):
    """A coordinate: short, finite text."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _text(x, y, text, anchor="start", size=12, extra=""):
    return (f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" font-size="{size}"{extra}>'
            f"{html_text(text)}</text>")


def _open(width, height, title, label):
    return [f'<svg width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{html_text(label)}" {FONT}>',
            f"<title>{html_text(title)}</title>",
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']


def bars(items, title, axis_label, width=760):
    """Horizontal bars: `items` are (label, value >= 0, colour, text written after the bar).
    Returns SVG text with one `<rect class="bar">` per item."""
    row, left, right, top = 26, 190, 190, 34
    height = top + row * len(items) + 40
    biggest = max((float(v) for _, v, _, _ in items), default=0.0) or 1.0
    span = width - left - right
    out = _open(width, height, title, title)
    out.append(_text(left, 20, title, size=13, extra=' font-weight="bold"'))
    for i, (label, value, fill, note) in enumerate(items):
        y = top + i * row
        length = span * float(value) / biggest
        out.append(_text(left - 8, y + 16, label, anchor="end"))
        out.append(f'<rect class="bar" x="{left}" y="{_n(y + 3)}" width="{_n(max(length, 0.5))}" height="{row - 8}" '
                   f'fill="{fill}"><title>{html_text(f"{label}: {note}")}</title></rect>')
        out.append(_text(left + length + 6, y + 16, note, size=11))
    base = top + row * len(items)
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#333333"/>')
    out.append(_text(left + span / 2, base + 24, axis_label, anchor="middle", size=11))
    out.append("</svg>")
    return "\n".join(out)


def _log2_ticks(low, high):
    powers = [2 ** k for k in range(math.ceil(math.log2(low)), math.floor(math.log2(high)) + 1)]
    step = max(1, math.ceil(len(powers) / 9))
    return powers[::step] or [low, high]


def _linear_ticks(high, count=5):
    """Round ticks from 0 to at least `high`."""
    if high <= 0:
        return [0.0, 1.0]
    raw = high / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * i for i in range(math.ceil(high / step - 1e-9) + 1)]


def length_label(n):
    """4096 -> '4k', 131072 -> '128k', 1048576 -> '1M', 100 -> '100'."""
    n = int(n)
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20}M"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024}k"
    return f"{n:,}"


def _tick_label(value):
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4g}"


def lines(series, title, x_label, y_label, *, log_x=True, y_max=None, markers=(), points=(), width=760,
          height=380):
    """Lines over x. `series`: (label, colour, xs, ys, dashed); `markers`: (x, label)
    drawn as vertical dashed lines; `points`: (x, y, label) drawn as dots. log_x: a log-2
    axis labelled in powers of two (sequence lengths), else linear from 0. The y axis runs
    from 0 to `y_max` (default: the largest y, rounded up to a tick)."""
    left, right, top, bottom = 78, 190, 34, 52
    xs_all = [float(x) for _, _, xs, _, _ in series for x in xs]
    low, high = min(xs_all), max(xs_all)
    top_y = y_max if y_max is not None else max(float(y) for _, _, _, ys, _ in series for y in ys)
    y_ticks = _linear_ticks(top_y)
    top_y = y_ticks[-1]
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x):
        if log_x:
            return left + plot_w * (math.log2(x) - math.log2(low)) / (math.log2(high) - math.log2(low))
        return left + plot_w * (x - low) / (high - low)

    def py(y):
        return top + plot_h * (1 - float(y) / top_y)

    out = _open(width, height, title, title)
    out.append(_text(left, 20, title, size=13, extra=' font-weight="bold"'))
    for tick in y_ticks:
        y = py(tick)
        out.append(f'<line x1="{left}" y1="{_n(y)}" x2="{left + plot_w}" y2="{_n(y)}" stroke="#dddddd"/>')
        out.append(_text(left - 6, y + 4, _tick_label(tick), anchor="end", size=11))
    x_ticks = _log2_ticks(low, high) if log_x else _linear_ticks(high)
    for tick in x_ticks:
        if not low <= tick <= high:
            continue
        x = px(tick)
        out.append(f'<line x1="{_n(x)}" y1="{top}" x2="{_n(x)}" y2="{top + plot_h}" stroke="#eeeeee"/>')
        out.append(_text(x, top + plot_h + 16, length_label(tick) if log_x else _tick_label(tick),
                         anchor="middle", size=11))
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333333"/>')
    out.append(_text(left + plot_w / 2, height - 12, x_label, anchor="middle", size=12))
    out.append(_text(16, top + plot_h / 2, y_label, anchor="middle", size=12,
                     extra=f' transform="rotate(-90 16 {_n(top + plot_h / 2)})"'))
    for i, (x, label) in enumerate(markers):
        if low <= float(x) <= high:
            mx = px(float(x))
            out.append(f'<line class="marker" x1="{_n(mx)}" y1="{top}" x2="{_n(mx)}" y2="{top + plot_h}" '
                       'stroke="#333333" stroke-dasharray="4 3"/>')
            right_half = mx > left + plot_w / 2  # label inside the plot, on the side with room
            out.append(_text(mx - 4 if right_half else mx + 4, top + 14 + 14 * i, label,
                             anchor="end" if right_half else "start", size=10))
    for i, (label, fill, xs, ys, dashed) in enumerate(series):
        path = " ".join(f"{_n(px(float(x)))},{_n(py(y))}" for x, y in zip(xs, ys))
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        out.append(f'<polyline class="series" points="{path}" fill="none" stroke="{fill}" stroke-width="2"{dash}>'
                   f"<title>{html_text(label)}</title></polyline>")
        ly = top + 8 + 18 * i
        out.append(f'<line x1="{left + plot_w + 12}" y1="{ly}" x2="{left + plot_w + 36}" y2="{ly}" stroke="{fill}" '
                   f'stroke-width="2"{dash}/>')
        out.append(_text(left + plot_w + 42, ly + 4, label, size=11))
    for x, y, label in points:
        out.append(f'<circle class="point" cx="{_n(px(float(x)))}" cy="{_n(py(y))}" r="4" fill="#000000"/>')
        out.append(_text(px(float(x)) + 7, py(y) - 6, label, size=11))
    out.append("</svg>")
    return "\n".join(out)


def flops_scale(value):
    """(scale, "TFLOP") for an axis of FLOPs up to `value`."""
    scale, name = prefix(value, largest="P", smallest="k")
    return scale, name + "FLOP"
