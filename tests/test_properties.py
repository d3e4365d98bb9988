"""Property-based tests (hypothesis): the parser never crashes, whatever the text, and
the engine's invariants hold for random architectures."""

import string

import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfu_sym.conventions import Conventions
from mfu_sym.errors import FormulaError
from mfu_sym.expr import parse
from mfu_sym.model import Model
from mfu_sym.spec import from_mapping

a, b = sympy.symbols("a b", positive=True, integer=True)
NAMES = {"a": a, "b": b}

atoms = st.sampled_from(["a", "b", "c", "0", "1", "2", "17", "0.5", "True", "'x'", "__import__", "a.b"])
expressions = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**", "//", "%", "<", "and", "@", ","]), inner)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["Min", "Max", "floor", "ceiling", "Piecewise", "eval", "exec", "open"]),
                  st.lists(inner, max_size=3)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        inner.map(lambda e: f"-{e}"),
        inner.map(lambda e: f"({e}, True)"),
        inner.map(lambda e: f"lambda: {e}"),
    ),
    max_leaves=25,
)


def _parses_or_refuses(text):
    try:
        result = parse(text, NAMES)
    except FormulaError:
        return
    assert isinstance(result, sympy.Basic)
    assert result.free_symbols <= {a, b}


@settings(max_examples=6000, deadline=None, suppress_health_check=list(HealthCheck))
@given(expressions)
def test_parser_on_grammar_shaped_text(text):
    _parses_or_refuses(text)


@settings(max_examples=6000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(alphabet=string.printable, max_size=80))
def test_parser_on_arbitrary_text(text):
    _parses_or_refuses(text)


@st.composite
def architectures(draw):
    heads = draw(st.integers(1, 8))
    kv = draw(st.sampled_from([h for h in range(1, heads + 1) if heads % h == 0]))
    d_head = draw(st.integers(1, 16))
    layers = draw(st.integers(1, 4))
    fields = dict(name="random", d_model=draw(st.integers(1, 64)), n_layers=layers, n_heads=heads,
                  n_kv_heads=kv, d_head=d_head, d_ff=draw(st.integers(1, 64)), vocab_size=draw(st.integers(1, 100)),
                  mlp=draw(st.sampled_from(["gated", "plain"])), tied_embeddings=draw(st.booleans()),
                  attention_bias=draw(st.sampled_from(["none", "qkv", "all"])))
    if draw(st.booleans()):
        fields["window"] = draw(st.integers(1, 12))
        fields["layer_types"] = [draw(st.sampled_from(["full_attention", "sliding_attention"])) for _ in range(layers)]
        if "sliding_attention" not in fields["layer_types"]:
            del fields["window"]
    if draw(st.booleans()):
        experts = draw(st.integers(1, 6))
        fields.update(n_experts=experts, top_k=draw(st.integers(1, experts)), d_expert=draw(st.integers(1, 32)))
    return from_mapping(fields, "random")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(architectures(), st.sampled_from(["causal", "full", "half"]), st.integers(1, 40), st.integers(1, 5))
def test_invariants(arch, mask, length, batch):
    model = Model(arch, Conventions.from_preset("exact", mask=mask))
    training, forward = model.training(), model.forward()
    value = lambda e, s, b=1: model.evaluate(model.batch * e, seq_len=s, batch=b)
    # FLOPs grow with the sequence length and the batch
    assert value(training, length + 1, batch) > value(training, length, batch)
    assert value(training, length, batch + 1) > value(training, length, batch)
    # matmul-only eager counting: training = 3 x forward
    assert sympy.simplify(training - 3 * forward) == 0
    # parameters do not depend on the sequence
    assert not model.params().has(model.seq_len)
    # per sequence = the sum of the per-position costs (exact causal masks only)
    if mask == "causal":
        assert value(forward, length) == sum(model.evaluate(model.forward_at(t)) for t in range(1, length + 1))
