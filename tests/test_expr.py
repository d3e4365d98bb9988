"""The safe parser: tables of (text, expected) and (text, error)."""

import pytest
import sympy

from mfu_sym.errors import FormulaError
from mfu_sym.expr import parse

a, b = sympy.symbols("a b", positive=True, integer=True)
NAMES = {"a": a, "b": b}


@pytest.mark.parametrize("text, expected", [
    ("2 * a * b", 2 * a * b),
    ("a + b - 1", a + b - 1),
    ("a / 2", a / 2),
    ("a**2", a**2),
    ("b**-1", 1 / b),
    ("-a", -a),
    ("+a", a),
    ("(a + 1) * (b + 1)", (a + 1) * (b + 1)),
    ("Min(a, b)", sympy.Min(a, b)),
    ("Max(a, 3)", sympy.Max(a, 3)),
    ("floor(a / 2)", sympy.floor(a / 2)),
    ("ceiling(a / 2)", sympy.ceiling(a / 2)),
    ("Piecewise((a, a <= b), (b, True))", sympy.Piecewise((a, a <= b), (b, True))),
    ("7", sympy.Integer(7)),
    (7, sympy.Integer(7)),
])
def test_parses(text, expected):
    assert parse(text, NAMES) == expected


def test_division_is_exact():
    assert parse("1 / 3", NAMES) == sympy.Rational(1, 3)


@pytest.mark.parametrize("text, message", [
    ("__import__('os')", "not allowed"),
    ("a.real", "attribute access"),
    ("a[0]", "subscripting"),
    ("lambda: 1", "lambda"),
    ("open('x')", "function 'open' is not allowed"),
    ("a ** b", "exponent must be an integer literal"),
    ("a ** 99", "too large"),
    ("9 ** 9 ** 9", "exponent must be an integer literal"),
    ("0.5 * a", "write a fraction"),
    ("aa + 1", "did you mean a"),
    ("zzz", "unknown name 'zzz'"),
    ("a if b else 1", "conditional expression"),
    ("a < b", "comparison outside Piecewise"),
    ("a // 2", "FloorDiv"),
    ("a % 2", "Mod"),
    ("'text'", "literal 'text' is not allowed"),
    ("True", "literal True is not allowed"),
    ("Piecewise((a, a < b))", "must end with a (value, True)"),
    ("Piecewise(a)", "(value, condition) pairs"),
    ("Min()", "at least one argument"),
    ("Min(a, key=b)", "keyword arguments"),
    ("", "empty formula"),
    ("a +", "cannot parse"),
    ("-" * 100 + "a", "nested deeper"),
    ("(" * 300 + "a" + ")" * 300, "cannot parse"),
    ("a + " * 1000 + "a", "characters long"),
    ("1" * 40, "longer than 30 digits"),
    ("[a, b]", "a list"),
    ("floor(a, a)", "takes 1 argument, not 2"),  # found by the hypothesis fuzz
    ("1 / 0", "not finite"),
    ("a / (b - b)", "not finite"),
])
def test_refuses(text, message):
    with pytest.raises(FormulaError, match=__import__("re").escape(message)):
        parse(text, NAMES, source="f.yaml", field="forward")


def test_error_names_file_and_field():
    with pytest.raises(FormulaError) as info:
        parse("c", NAMES, source="attention.yaml", field="formulas[0].forward")
    assert str(info.value).startswith("attention.yaml: formulas[0].forward: unknown name 'c'")


def test_not_text():
    with pytest.raises(FormulaError, match="expected a formula as text"):
        parse(["a"], NAMES)
