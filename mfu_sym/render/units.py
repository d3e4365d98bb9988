"""The one number formatter: every figure mfu-sym prints goes through here.

- exact numbers: `grouped` (1,234,567; a fraction as p/q with its value), `decimal`
  (a fraction with a terminating decimal written out exactly), `exact` (JSON: int or
  "p/q");
- measured or derived floats: `si` (the largest SI prefix reached: FLOPs, bytes,
  seconds; `prefix` gives the scale alone, for a plot's axis), `rounded` (whole above 100, four digits below), `tflops` (a peak as
  hardware.yaml gives it, with PFLOP/s beside it).

Each call site keeps its own format through the parameters (the text output is a
contract: scripts and tests read it). sympy is imported only by the exact formatters, so
`hardware list` starts without it.
"""

# Largest first; the small ones are for seconds.
_SCALE = {"E": 1e18, "P": 1e15, "T": 1e12, "G": 1e9, "M": 1e6, "k": 1e3, "": 1, "m": 1e-3, "u": 1e-6, "n": 1e-9}
_ORDER = tuple(_SCALE)


def exact(value):
    """A JSON-safe exact number: int when integral, "p/q" text otherwise (an expression:
    sympy's text)."""
    from ..expr import to_sympy
    value = to_sympy(value)
    if value.is_Integer:
        return int(value)
    if value.is_Rational:
        return f"{value.p}/{value.q}"
    return str(value)


def grouped(value):
    """1234567 -> '1,234,567'; a fraction keeps its exact form: '7/2 (~3.5)'."""
    from ..expr import to_sympy
    value = to_sympy(value)
    if value.is_Integer:
        return f"{int(value):,}"
    if not value.is_Rational:  # an expectation over a length distribution (exp, erf): exact in JSON
        number = float(value)
        return f"~{number:,.1f}" if abs(number) < 1e6 else f"~{number:,.0f}"
    return f"{exact(value)} (~{float(value):,.1f})"


def decimal(value):
    """An exact number as text: 1,234,567; a fraction with a terminating decimal (a
    power-of-two sequence length) as its exact decimal, 4,096.5; any other as p/q."""
    import sympy
    value = sympy.Rational(value)
    if value.q == 1:
        return f"{int(value):,}"
    q, twos, fives = value.q, 0, 0
    while q % 2 == 0:
        q, twos = q // 2, twos + 1
    while q % 5 == 0:
        q, fives = q // 5, fives + 1
    if q == 1:
        digits = max(twos, fives)
        scaled = abs(value.p) * 10**digits // value.q
        whole, frac = divmod(scaled, 10**digits)
        return f"{'-' if value < 0 else ''}{whole:,}.{frac:0{digits}d}"
    return f"{value.p:,}/{value.q:,}"


def prefix(value, largest="E", smallest="k", above=1):
    """(scale, prefix) of the largest SI prefix from `largest` down to `smallest` whose
    scale times `above` `value` reaches; (1, "") when none does. Plots scale an axis by it."""
    for name in _ORDER[_ORDER.index(largest):_ORDER.index(smallest) + 1]:
        if abs(value) >= above * _SCALE[name]:
            return _SCALE[name], name
    return 1, ""


def si(value, unit="", *, digits=".3f", largest="E", smallest="k", rest="{value:g}{unit}"):
    """`value` over the largest SI prefix it reaches, between `largest` and `smallest`,
    formatted with `digits`: si(1.5e15, "FLOP") is '1.500 PFLOP'. Below `smallest`,
    `rest` (a format of `value` and `unit`)."""
    value = float(value)
    for name in _ORDER[_ORDER.index(largest):_ORDER.index(smallest) + 1]:
        scale = _SCALE[name]
        if abs(value) >= scale:
            return f"{value / scale:{digits}} {name}{unit}"
    return rest.format(value=value, unit=unit)


def flops(value, unit="FLOP"):
    """'1.234 TFLOP' (or FLOP/s with unit="FLOP/s"); below 1,000: '512FLOP'."""
    return si(value, unit)


def nbytes(value):
    """'16.061 GB' (decimal prefixes, up to TB); below 1,000: '512 B'."""
    return si(value, "B", digits=",.3f", largest="T", rest="{value:g} B")


def seconds(value):
    """'1.234 ms', '12.5 us', '3.2 s' (four digits); below a nanosecond, '1e-10 s'."""
    return si(value, "s", digits=".4g", largest="", smallest="n", rest="{value:.3g} s")


def rounded(value):
    """A rate to read at a glance: whole from 100 up ('1,979'), four digits below ('4.8')."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.4g}"


def tflops(value, unit="TFLOP/s"):
    """A peak as hardware.yaml gives it: '2,250 TFLOP/s (2.25 PFLOP/s)'; 'TOPS' as is."""
    text = f"{value:,g} {unit}"
    if unit == "TFLOP/s" and value >= 1000:
        text += f" ({value / 1000:g} PFLOP/s)"
    return text
