"""render/units.py, the one number formatter: a table of (input, expected text) per
function, each format exactly as the commands print it."""

import pytest
from sympy import Integer, Rational

from mfu_sym.render import units


@pytest.mark.parametrize("value, text", [
    (1234567, "1,234,567"),
    (Integer(0), "0"),
    (Integer(-1234), "-1,234"),
    (Integer(10**20), "100,000,000,000,000,000,000"),
    (Rational(7, 2), "7/2 (~3.5)"),
    (Rational(10**7, 3), "10,000,000/3 (~3,333,333)"),
])
def test_grouped(value, text):
    assert units.grouped(value) == text


@pytest.mark.parametrize("value, text", [
    (Integer(8192), "8,192"),
    (Rational(8193, 2), "4,096.5"),
    (Rational(-1, 8), "-0.125"),
    (Rational(3, 20), "0.15"),
    (Rational(1, 3), "1/3"),
    (Rational(12345678, 7), "12,345,678/7"),
])
def test_decimal(value, text):
    assert units.decimal(value) == text


@pytest.mark.parametrize("value, json", [
    (Integer(5), 5), (7, 7), (Rational(1, 3), "1/3"), (Rational(-9, 4), "-9/4"),
])
def test_exact(value, json):
    assert units.exact(value) == json


@pytest.mark.parametrize("value, unit, text", [
    (1.5e15, "FLOP", "1.5 PFLOP"),
    (Integer(421_651_971_833_856), "FLOP", "421.7 TFLOP"),
    (2.5e20, "FLOP", "250 EFLOP"),
    (3.8e25, "FLOP", "38 YFLOP"),          # Llama 3 405B's budget (arXiv:2407.21783)
    (3.2e14, "FLOP/s", "320 TFLOP/s"),
    (1000, "FLOP", "1 kFLOP"),
    (999_960, "FLOP", "1 MFLOP"),          # rounds up to the next prefix, never "1,000 kFLOP"
    (999_940, "FLOP", "999.9 kFLOP"),
    (512, "FLOP", "512 FLOP"),             # below 1,000: no prefix
    (999.5, "FLOP/s", "999.5 FLOP/s"),
])
def test_flops(value, unit, text):
    assert units.flops(value, unit) == text


@pytest.mark.parametrize("value, text", [
    (16_060_522_496, "16.06 GB"),
    (Integer(131_072), "131.1 kB"),
    (1000, "1 kB"),
    (2e15, "2,000 TB"),                    # TB is the largest prefix
    (512, "512 B"),
])
def test_nbytes(value, text):
    assert units.nbytes(value) == text


@pytest.mark.parametrize("value, text", [
    (3.2, "3.2 s"),
    (12345.0, "12,345 s"),                 # seconds are the largest unit: the whole part stays
    (0.0123, "12.3 ms"),
    (2.5e-5, "25 us"),
    (1.735e-5, "17.35 us"),
    (5e-9, "5 ns"),
    (1e-10, "1e-10 s"),                    # below a nanosecond
])
def test_seconds(value, text):
    assert units.seconds(value) == text


@pytest.mark.parametrize("value, text", [
    (61_492.3, "61,492"), (1979.0, "1,979"), (295.24, "295.2"), (100, "100"), (99.99, "99.99"),
    (4.8, "4.8"), (1.10396, "1.104"), (0.0123456, "0.01235"), (9.99996, "10"), (-3.5, "-3.5"), (0, "0"),
])
def test_significant(value, text):
    assert units.significant(value) == text


@pytest.mark.parametrize("value, sign, text", [
    (0.156123, False, "15.61%"), (1.0432, False, "104.32%"), (0.4, False, "40.00%"), (0, False, "0.00%"),
    (0.1252, True, "+12.52%"), (-0.06124, True, "-6.12%"),
    (-0.000031, True, "-0.0031%"),         # below 0.01%: two significant digits, not "-0.00%"
    (0.0000312, True, "+0.0031%"),
])
def test_percent(value, sign, text):
    assert units.percent(value, sign=sign) == text


@pytest.mark.parametrize("value, unit, text", [
    (2250, "TFLOP/s", "2,250 TFLOP/s (2.25 PFLOP/s)"),
    (1000, "TFLOP/s", "1,000 TFLOP/s (1 PFLOP/s)"),
    (989.5, "TFLOP/s", "989.5 TFLOP/s"),
    (4500, "TOPS", "4,500 TOPS"),      # integer rates get no PFLOP/s
])
def test_tflops(value, unit, text):
    assert units.tflops(value, unit) == text


def test_si_between_chosen_prefixes():
    assert units.si(2.5e9, "B", largest="M", smallest="M") == "2,500 MB"
    assert units.si(10, "B", largest="M", smallest="M", rest="{value:g} {unit}") == "10 B"


@pytest.mark.parametrize("value, kwargs, expected", [
    (3.2e14, {"largest": "P"}, (1e12, "T")),
    (999, {"largest": "P"}, (1, "")),
    (5e16, {"largest": "P"}, (1e15, "P")),             # nothing above the largest
    (9e6, {"largest": "G", "above": 10}, (1e3, "k")),   # a prefix once it gives 10 or more
    (1e7, {"largest": "G", "above": 10}, (1e6, "M")),
    (99, {"largest": "G", "above": 10}, (1, "")),
])
def test_prefix(value, kwargs, expected):
    assert units.prefix(value, **kwargs) == expected
