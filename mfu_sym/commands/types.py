"""Numeric option types shared by the commands. click's FloatRange lets `nan` through
(every comparison with NaN is false) and accepts 1e308; these do not."""

import math
from decimal import Decimal, InvalidOperation

import click

MAX_RATE = 1e18  # tokens/s, seconds, factors: far above any real run, far below float overflow
MAX_EXPONENT = 100  # decimal exponent of an exact budget (mirrors planning.MAX_EXPONENT)


class PositiveNumber(click.ParamType):
    """A finite number > 0 and at most `maximum` (a float: a measured rate or time)."""

    name = "number"

    def __init__(self, maximum=MAX_RATE, minimum=1e-12):
        self.maximum, self.minimum = maximum, minimum

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number) or number <= 0:
            self.fail(f"{value!r} is not a positive finite number", param, ctx)
        if not self.minimum <= number <= self.maximum:
            self.fail(f"{value!r} is out of range (expected {self.minimum:g} to {self.maximum:g})", param, ctx)
        return number


class Fraction01(click.ParamType):
    """A finite number in (0, 1]: an assumed MFU."""

    name = "fraction"

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not (math.isfinite(number) and 0 < number <= 1):
            self.fail(f"{value!r} is not a fraction in (0, 1] (0.4 means 40%)", param, ctx)
        return number


class ExactNumber(click.ParamType):
    """A positive decimal such as 15.6e12, kept as text so the library reads it exactly
    (Decimal, never a binary float): 15.6e12 tokens is the integer 15,600,000,000,000."""

    name = "number"

    def convert(self, value, param, ctx):
        text = str(value).strip().replace("_", "")
        if len(text) > 200:
            self.fail("a number of more than 200 characters", param, ctx)
        try:
            number = Decimal(text)
        except (InvalidOperation, ValueError):
            self.fail(f"{value!r} is not a number (expected e.g. 15.6e12)", param, ctx)
        if not number.is_finite() or number <= 0:
            self.fail(f"{value!r} is not a positive finite number", param, ctx)
        if abs(number.adjusted()) > MAX_EXPONENT:
            self.fail(f"{value!r} is out of range (expected 1e-{MAX_EXPONENT} to 1e{MAX_EXPONENT})", param, ctx)
        return text


POSITIVE = PositiveNumber()
EXACT = ExactNumber()
FRACTION = Fraction01()

# Integer options: sizes and counts up to 2**53 (every one stays exact, and a product of
# a few of them stays far from where a float ratio of them overflows).
MAX_INT = 2**53
SIZE = click.IntRange(1, MAX_INT)
COUNT = click.IntRange(0, MAX_INT)
