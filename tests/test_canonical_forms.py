"""The printed forms: `collect_in` writes each formula as sympy.factor would have written its
coefficients, without the cost of factoring sums that cannot split; what is printed equals
the engine's expression; a Model builds each expression once."""

import collections
from pathlib import Path

import pytest
import sympy
from click.testing import CliRunner

import mfu_sym
import mfu_sym.model as model_module
from mfu_sym.cli import main
from mfu_sym.model import collect_in, readable

ROOT = Path(__file__).resolve().parent.parent
YAML = sorted(ROOT.glob("examples/*.yaml"))
EXAMPLES = YAML + sorted(ROOT.glob("examples/hf/*/config.json"))
a, b, c, d, h, w, x = sympy.symbols("a b c d h w x", positive=True, integer=True)


def equal(first, second):
    """Exact symbolic equality, piece by piece for a Piecewise."""
    difference = sympy.piecewise_fold(first - second)
    pieces = difference.args if isinstance(difference, sympy.Piecewise) else ((difference, True),)
    return all(sympy.expand(piece) == 0 or sympy.cancel(piece) == 0 for piece, _ in pieces)


def factored(expression, symbol):
    """The reference: collected in `symbol`, every coefficient through sympy.factor (the
    form printed before, and how sympy itself writes a factored coefficient)."""
    expression = sympy.piecewise_fold(expression)
    if isinstance(expression, sympy.Piecewise):
        return sympy.Piecewise(*[(factored(e, symbol), cond) for e, cond in expression.args])
    return sympy.collect(sympy.expand(expression), symbol, func=sympy.factor)


@pytest.mark.parametrize("coefficient", [
    a / h + b,                      # a common denominator: (a + b*h)/h
    a / 3 + 2 * b / 3,              # (a + 2*b)/3
    -a - b,
    2 * w - 2 * w**2,               # -2*w*(w - 1): factor's sign, not 2*w*(1 - w)
    x * a - x * b,
    -6 * a + 4 * b,                 # -2*(3*a - 2*b)
    a * h**2 + b * h**3,
    (a + b) * (c - d) * x * 3,      # a multilinear sum that splits into disjoint sums
    6 * (a + b) * (c + d) * (w - 1),
    (a + b) * (c + d) * (w - 1) + c,  # one that does not
    (a + b)**2, a**2 - b**2,         # not multilinear: factored
    x * a + x * sympy.floor(a / 2 + b / 2),  # a function's argument is left as it is
], ids=str)
def test_a_coefficient_reads_as_sympy_factor_writes_it(coefficient):
    coefficient = sympy.expand(coefficient)
    assert str(readable(coefficient)) == str(sympy.factor(coefficient))
    assert sympy.expand(readable(coefficient) - coefficient) == 0


def test_long_sums_are_not_factored(monkeypatch):
    """Past FACTOR_TERMS terms no factoring is tried (it costs up to seconds and no formula
    of the library splits there); the sum keeps its common factor and factor's sign."""
    symbols = sympy.symbols("y0:20", positive=True)
    coefficient = sympy.expand(-6 * a * (sum(symbols) - 2 * a))
    calls = []
    monkeypatch.setattr(model_module.sympy, "factor", lambda *args, **kw: calls.append(args))
    out = readable(coefficient)
    assert not calls
    assert out.as_coeff_Mul()[0] == -6 and sympy.expand(out - coefficient) == 0


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name if p.name == "config.json" else p.stem)
def test_printed_formula_is_the_forward_expression(path):
    """Every component of every example, Piecewise ones (sliding windows, chunks, DSA's
    top-k) included: the printed form is the forward FLOPs, exactly."""
    model = mfu_sym.load(path)
    for name in model.components:
        assert equal(model.formula(name), model.forward(name)), name
    s = model.seq_len
    assert equal(collect_in(model.training() / s, s), model.training() / s)


@pytest.mark.parametrize("path", [p for p in YAML if p.stem in ("gemma3_27b", "minimax_text_01", "deepseek_v3",
                                                                 "mixtral_8x7b")] +
                         [ROOT / "examples/hf" / name / "config.json"
                          for name in ("llama4_scout_17b_16e", "deepseek_v32", "qwen3_next_80b_a3b",
                                       "kimi_linear_48b_a3b", "bamba_9b")],
                         ids=lambda p: p.parent.name if p.name == "config.json" else p.stem)
def test_printed_formula_reads_as_before(path):
    """The text is what factoring every coefficient printed: windows and chunks (Piecewise),
    hybrids whose coefficients split ((n_heads + n_kv_heads)*(n_layers - n_lightning_layers))."""
    model = mfu_sym.load(path)
    for name in model.components:
        assert str(model.formula(name)) == str(factored(model.forward(name), model.seq_len)), name


def test_a_model_keeps_its_expressions():
    model = mfu_sym.load(ROOT / "examples/gemma3_27b.yaml")
    assert model.formula("attention_core") is model.formula("attention_core")
    assert model.training("mlp") is model.training("mlp")
    assert model.forward() is model.forward() and model.forward("mlp") != model.forward()
    # a term outside the model (breakdown's one-layer copies) is not served another's cost
    total = sum((row["count"] * row["forward"] for row in model.breakdown()), sympy.Integer(0))
    assert equal(total, model.forward())
    with pytest.raises(mfu_sym.errors.UsageError):
        model.forward("no_such_component")


@pytest.mark.parametrize("command", [["latex"], ["latex", "--format", "markdown"], ["report"], ["analyze"],
                                     ["derive"], ["infer", "--context", "4096"]])
def test_no_expression_is_collected_twice(monkeypatch, command):
    """One command on DeepSeek-V3 collects each expression once (Model.formula is kept;
    components whose FLOPs are 0 aside)."""
    import mfu_sym.analysis
    import mfu_sym.inference  # noqa: F401
    import mfu_sym.render.document
    import mfu_sym.render.html
    seen = collections.Counter()
    original = model_module.collect_in

    def counting(expression, symbol):
        if not sympy.sympify(expression).is_Number:
            seen[sympy.srepr(expression), symbol] += 1
        return original(expression, symbol)
    for module in (model_module, mfu_sym.analysis, mfu_sym.render.document, mfu_sym.render.html):
        monkeypatch.setattr(module, "collect_in", counting)
    result = CliRunner().invoke(main, [command[0], str(ROOT / "examples/deepseek_v3.yaml"), *command[1:]])
    assert result.exit_code == 0, result.output
    assert seen and max(seen.values()) == 1, [k for k, n in seen.items() if n > 1][:1]
