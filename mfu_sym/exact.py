"""Exact numbers from what users type: an int, a Fraction, a sympy Rational or decimal
text ("1.25", "15.6e12"; a float is read through its shortest decimal form), never a
binary float's value."""

import sympy

from .errors import UsageError


def exact_positive(value, name):
    """A positive exact number from an int, Fraction, sympy Rational or decimal text
    ("1.25"; a float is read through its shortest decimal form)."""
    return exact_number(value, name)


def exact_number(value, name, positive=True):
    """An exact number (positive where `positive`) from an int, Fraction, sympy Rational or
    decimal text."""
    from decimal import Decimal, InvalidOperation
    from fractions import Fraction
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
