"""Exact numbers from what users type: an int, a Fraction, a sympy Rational or decimal
text ("1.25", "15.6e12"; a float is read through its shortest decimal form), never a
binary float's value. sympy is imported where a number is made, not at import."""

from fractions import Fraction

from .errors import UsageError


def exact_positive(value, name):
    """A positive exact number from an int, Fraction, sympy Rational or decimal text
    ("1.25"; a float is read through its shortest decimal form)."""
    return exact_number(value, name)


def exact_number(value, name, positive=True):
    """An exact number (positive where `positive`) from an int, Fraction, sympy Rational or
    decimal text."""
    from decimal import Decimal, InvalidOperation

    import sympy  # here: mfu.py (and so the CLI's start-up) imports this module
    if isinstance(value, bool):
        raise UsageError(None, name, f"{value!r} is not a number")
    if isinstance(value, (int, Fraction)) or getattr(value, "is_Rational", False):
        number = sympy.Rational(value)
    else:
        try:
            decimal = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise UsageError(None, name, f"{value!r} is not a number") from None
        if not decimal.is_finite() or abs(decimal.adjusted()) > 100:
            raise UsageError(None, name, f"{value!r} is not a finite number between 1e-100 and 1e100")
        number = sympy.Rational(*decimal.as_integer_ratio())
    if positive and number <= 0:
        raise UsageError(None, name, f"{value} is not positive")
    return number


def _is_rational(value):
    return getattr(value, "is_Rational", False) is True


def _is_exact_real(value):
    """A sympy real number that is not rational: an expectation over a length distribution
    (exp, erf of exact arguments)."""
    return getattr(value, "is_number", False) is True and getattr(value, "is_real", False) is True


def fraction(value):
    """An exact Fraction of an int, float (its exact binary value), Fraction or sympy Rational;
    an irrational sympy number to 40 significant digits (a ratio is a float in the end)."""
    if _is_rational(value):
        return Fraction(int(value.p), int(value.q))
    if _is_exact_real(value):
        return Fraction(str(value.evalf(40)))
    return Fraction(value)
