"""The one number formatter: every figure mfu-sym prints goes through here, in one style.

- An exact count (FLOPs, parameters, bytes, tokens, lengths, steps) is written in full,
  grouped by thousands: 8,192. A fraction keeps its exact form with its value beside it:
  7/2 (~3.5) (`grouped`); `decimal` writes a terminating fraction out exactly; `exact`
  gives JSON's int or "p/q".
- A measured or derived quantity (a float: a rate, a time, a ratio, a scaled amount) has
  four significant digits, grouped, trailing zeros dropped, never an exponent
  (`significant`): 61,492 ; 295.2 ; 1.104. With a unit it takes the largest SI prefix it
  reaches (`si`, `flops`, `nbytes`, `seconds`): 421.7 TFLOP, 16.06 GB, 4.641 ms.
- A share or utilisation is a percentage with two decimals (`percent`): 15.61%, +12.52%;
  one below 0.01% keeps two significant digits instead of printing as zero.
- A figure quoted from the data (a peak as hardware.yaml gives it) is printed as given,
  grouped (`tflops`).

sympy is imported only by the exact formatters, so `hardware list` starts without it.
"""

DIGITS = 4  # significant digits of every measured or derived quantity

# Largest first; the small ones are for seconds.
_SCALE = {"Y": 1e24, "Z": 1e21, "E": 1e18, "P": 1e15, "T": 1e12, "G": 1e9, "M": 1e6, "k": 1e3, "": 1, "m": 1e-3, "u": 1e-6, "n": 1e-9}
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
    """1234567 -> '1,234,567'; a fraction keeps its exact form, grouped, with its value:
    '7/2 (~3.5)', '10,000,000/3 (~3,333,333)'."""
    from ..expr import to_sympy
    value = to_sympy(value)
    if value.is_Integer:
        return f"{int(value):,}"
    if not value.is_Rational:  # an expectation over a length distribution (exp, erf): exact in JSON
        return f"~{significant(value)}"
    return f"{value.p:,}/{value.q:,} (~{significant(value)})"


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


def prefix(value, largest="Y", smallest="k", above=1):
    """(scale, prefix) of the largest SI prefix from `largest` down to `smallest` whose
    scale times `above` `value` reaches; (1, "") when none does. Plots scale an axis by it."""
    for name in _ORDER[_ORDER.index(largest):_ORDER.index(smallest) + 1]:
        if abs(value) >= above * _SCALE[name]:
            return _SCALE[name], name
    return 1, ""


def _digits(value, digits):
    """(text, magnitude): `value` to `digits` significant digits, grouped, trailing zeros
    dropped; the magnitude (floor of log10) is that of the rounded value."""
    import math
    if value == 0 or not math.isfinite(value):
        return (f"{value:g}", 0)
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    rounded_value = round(value, decimals)
    if rounded_value != 0 and math.floor(math.log10(abs(rounded_value))) > magnitude:  # 9.9996 -> 10.00
        magnitude += 1
        decimals = max(0, decimals - 1)
    text = f"{rounded_value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return ("0" if text in ("-0", "") else text), magnitude


def significant(value, digits=DIGITS):
    """A measured or derived quantity: four significant digits, grouped, trailing zeros
    dropped (61,492; 295.2; 1.104; 0.01235); a whole part longer than four digits is kept
    whole."""
    return _digits(float(value), digits)[0]


def si(value, unit="", *, digits=DIGITS, largest="Y", smallest="k", rest=None):
    """`value` over the largest SI prefix it reaches, between `largest` and `smallest`, to
    `digits` significant digits: si(1.5e15, "FLOP") is '1.5 PFLOP'. Below `smallest`, the
    plain figure ('512 FLOP'), or `rest` (a format of `value` and `unit`)."""
    value = float(value)
    names = _ORDER[_ORDER.index(largest):_ORDER.index(smallest) + 1]
    for i, name in enumerate(names):
        scale = _SCALE[name]
        if abs(value) >= scale:
            text, magnitude = _digits(value / scale, digits)
            if magnitude >= 3 and i > 0:  # 999.96 k rounds to 1,000 k: the next prefix up
                name = names[i - 1]
                text, _ = _digits(value / _SCALE[name], digits)
            return f"{text} {name}{unit}"
    if rest is not None:
        return rest.format(value=value, unit=unit)
    return f"{significant(value, digits)} {unit}".rstrip()


def flops(value, unit="FLOP"):
    """'421.7 TFLOP' (or FLOP/s with unit="FLOP/s"); below 1,000: '512 FLOP'."""
    return si(value, unit)


def nbytes(value):
    """'16.06 GB' (decimal prefixes, up to TB); below 1,000: '512 B'."""
    return si(value, "B", largest="T")


def seconds(value):
    """'1.234 ms', '12.5 us', '3.2 s', '12,345 s'; below a nanosecond, '1e-10 s'."""
    return si(value, "s", largest="", smallest="n", rest="{value:.3g} {unit}")


def percent(value, sign=False):
    """A share or utilisation: '15.61%' ('+12.52%' with `sign`); a non-zero share below
    0.01% keeps two significant digits ('-0.0031%') rather than print as zero."""
    value = float(value)
    if value == 0 or abs(value) >= 0.0001:
        return f"{value:{'+' if sign else ''}.2%}"
    return ("+" if sign and value > 0 else "") + f"{significant(value * 100, 2)}%"


def tflops(value, unit="TFLOP/s"):
    """A peak as hardware.yaml gives it: '2,250 TFLOP/s (2.25 PFLOP/s)'; 'TOPS' as is."""
    text = f"{value:,g} {unit}"
    if unit == "TFLOP/s" and value >= 1000:
        text += f" ({value / 1000:g} PFLOP/s)"
    return text
