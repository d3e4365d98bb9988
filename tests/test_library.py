"""The bundled formula library: it loads, its closed forms are right, its errors are clear."""


import pytest
import sympy

from mfu_sym.errors import FormulaError
from mfu_sym.library import COMPONENTS, load_library
from mfu_sym.paths import data_path

LIB = load_library()
s, W, t = (LIB.symbol(n) for n in ("seq_len", "window", "t"))


def test_every_formula_is_documented_and_cited():
    assert LIB.formulas
    for f in LIB.formulas.values():
        assert f.component in COMPONENTS
        assert f.description and f.reference.where
        assert f.reference.cite in LIB.references


@pytest.mark.parametrize("name", ["causal", "full", "half"])
def test_mask_total_is_the_sum_of_its_per_position_keys(name):
    mask = LIB.masks[name]
    assert sympy.simplify(sympy.summation(mask.keys, (t, 1, s)) - mask.total) == 0


def test_sliding_window_total_symbolically_on_each_side_of_the_window():
    mask = LIB.masks["sliding_window"]
    # s <= W: every query sees t keys. s > W: t keys up to W, then W each.
    short = sympy.summation(t, (t, 1, s))
    long = sympy.summation(t, (t, 1, W)) + sympy.summation(W, (t, W + 1, s))
    pieces = mask.total.args
    assert sympy.simplify(pieces[0][0] - short) == 0 and pieces[0][1] == (s <= W)
    assert sympy.simplify(pieces[1][0] - long) == 0


def test_sliding_window_total_equals_brute_force_sum():
    mask = LIB.masks["sliding_window"]
    for window in range(1, 9):
        for length in range(1, 30):
            brute = sum(min(i, window) for i in range(1, length + 1))
            assert mask.total.subs({s: length, W: window}) == brute
            assert sum(mask.keys.subs({t: i, W: window}) for i in range(1, length + 1)) == brute


def _override(tmp_path, text, name="extra.yaml"):
    (tmp_path / name).write_text(text)
    return load_library([str(tmp_path)])


FORMULA = """
formulas:
  - name: {name}
    component: mlp
    forward: {forward}
    description: test
    reference: {{cite: {cite}, where: here}}
"""


@pytest.mark.parametrize("fields, message", [
    (dict(name="x_new", forward="2 * d_modle", cite="kaplan2020"), "did you mean d_model"),
    (dict(name="x_new", forward="__import__('os').system('true')", cite="kaplan2020"), "not allowed"),
    (dict(name="x_new", forward="d_model.real", cite="kaplan2020"), "attribute access"),
    (dict(name="x_new", forward="d_model ** 1000", cite="kaplan2020"), "too large"),
    (dict(name="x_new", forward="2 * d_model", cite="nobody2099"), "unknown reference 'nobody2099'"),
    (dict(name="q_proj", forward="2 * d_model", cite="kaplan2020"), "duplicate formula 'q_proj'"),
    (dict(name="Bad-Name", forward="2", cite="kaplan2020"), "not a valid name"),
    (dict(name="x_new", forward="keys * keys", cite="kaplan2020"), "linear in keys"),
])
def test_bad_formula_files(tmp_path, fields, message):
    with pytest.raises(FormulaError, match=message) as info:
        _override(tmp_path, FORMULA.format(**fields))
    assert "extra.yaml" in str(info.value)


@pytest.mark.parametrize("text, message", [
    ("formulas: [1, 2]", "expected a mapping"),
    ("formulas: {a: 1}", "expected a list"),
    ("- 1\n- 2\n", "expected a mapping of sections"),
    ("stuff: []", "unknown section"),
    ("formulas:\n  - {name: x_new, component: mlp, forward: 2, reference: {cite: kaplan2020, where: x}}", "description: missing"),
    ("formulas:\n  - {name: x_new, component: gpu, forward: 2, description: d, reference: {cite: kaplan2020, where: x}}", "expected one of embedding"),
    ("formulas:\n  - {name: x_new, component: mlp, description: d, reference: {cite: kaplan2020, where: x}}", "needs forward FLOPs, params"),
    ("formulas:\n  - {name: x_new, component: mlp, forward: 2, colour: red, description: d, reference: {cite: kaplan2020, where: x}}", "unknown field"),
    ("formulas:\n  - {name: x_new, component: mlp, forward: 2, description: d}", "reference: missing"),
    ("!!python/object/apply:os.system ['true']", "invalid YAML"),
    ("formulas: [", "invalid YAML"),
    ("symbols:\n  - {name: pi, latex: p, kind: run, description: d}", "collides"),
])
def test_malformed_formula_files(tmp_path, text, message):
    with pytest.raises(FormulaError, match=message):
        _override(tmp_path, text)


def test_a_same_named_file_replaces_the_bundled_one(tmp_path):
    source = data_path("formulas") / "mlp.yaml"
    text = source.read_text().replace("forward: 3 * 2 * d_model * d_ff", "forward: 3 * 2 * d_model * d_ff + 1")
    lib = _override(tmp_path, text, name="mlp.yaml")
    assert lib.formulas["mlp_gated"].forward == LIB.formulas["mlp_gated"].forward + 1


def test_missing_formula_directory(tmp_path):
    with pytest.raises(FormulaError, match="not a directory"):
        load_library([str(tmp_path / "nowhere")])
