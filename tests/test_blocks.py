"""Blocks: every kind of layer is a Block (kinds.py), and what the core does with them:
chunked attention and its masks, layers that are one block alone, sizes and features
only where a layer reads them, per-sequence formulas with a decode form, state caches,
and the disputed-term variants (--variant, `mfu-sym variants`)."""

import math

import pytest
import sympy
import yaml

import mfu_sym
from mfu_sym import kinds
from mfu_sym.analysis import analyze, step_derivative
from mfu_sym.inference import Inference

from cli_helpers import write_model as _write
from cli_helpers import assert_one_error_line, run, run_json



BASE = {"d_model": 64, "n_heads": 4, "d_ff": 96, "vocab_size": 100}


def _chunked_pairs(s, c):
    """Keys the queries of one sequence see under chunked attention, by brute force."""
    return sum(t - c * ((t - 1) // c) for t in range(1, s + 1))


@pytest.mark.parametrize("s", [1, 7, 8, 9, 16, 23, 100])
def test_chunked_mask_total_is_the_sum_of_its_keys(s):
    library = mfu_sym.load_library()
    mask, sym = library.masks["chunked"], library.symbol
    c = 8
    total = mask.total.xreplace({sym("seq_len"): s, sym("attention_chunk"): c})
    assert total == _chunked_pairs(s, c)
    half = library.masks["half_chunk"].total.xreplace({sym("seq_len"): s, sym("attention_chunk"): c})
    assert half == sympy.Rational((s // c) * c * c + (s % c) ** 2, 2)  # MaxText: each chunk's square, halved


def test_a_chunked_model_counts_each_query_within_its_chunk(tmp_path):
    data = {**BASE, "n_layers": 4, "attention_chunk": 8,
            "layers": [{"count": 3, "mixer": "chunked_attention"}, {"count": 1, "mixer": "attention"}]}
    model = mfu_sym.load(_write(tmp_path, data))
    s = 20
    core = model.evaluate(model.forward("attention_core"), seq_len=s)
    per_key = 4 * 4 * 16  # scores and values: 2 * n_heads * d_head each
    assert core == per_key * (3 * _chunked_pairs(s, 8) + s * (s + 1) // 2)
    # decode at context 20: the chunked layers hold and see the 4 positions of the current chunk
    report = Inference(model).report(20)
    assert report["kv_cache"]["positions_per_layer"] == {"causal": 20, "chunked": 4}


def test_chunk_steps_in_the_analysis(tmp_path):
    data = {**BASE, "n_layers": 2, "attention_chunk": 8, "layers": [{"count": 2, "mixer": "chunked_attention"}]}
    model = mfu_sym.load(_write(tmp_path, data))
    s = model.seq_len
    training = model.training().xreplace(model.values)
    # between two chunk boundaries the count is a polynomial: the derivative is exact there
    for n in (9, 12, 15):
        derivative = step_derivative(training, s).xreplace({s: n})
        poly = training.xreplace({sympy.floor(s / 8): sympy.Integer(n // 8)})
        assert derivative == sympy.diff(poly, s).xreplace({s: n})
    result = analyze(model, seq_len=64)
    assert result["asymptotic"]["degree"] == 1  # chunked attention is linear in the sequence


def test_a_layer_may_be_one_block(tmp_path):
    """Layers with no mixer (an MLP alone): one norm and one residual add per block."""
    data = {"d_model": 64, "d_ff": 96, "vocab_size": 100, "n_layers": 2,
            "layers": [{"count": 2, "mixer": "none", "ffn": "dense"}]}
    model = mfu_sym.load(_write(tmp_path, data), nonmatmul=("residual_add",))
    assert model.evaluate(model.params()) == 2 * 100 * 64 + 2 * 3 * 64 * 96 + (2 + 1) * 64
    assert model.evaluate(model.forward("nonmatmul"), seq_len=10) == 2 * 64 * 10
    assert set(model.components) == {"embedding", "mlp", "norms", "lm_head", "nonmatmul"}


@pytest.mark.parametrize("data, field, message", [
    ({"d_model": 64, "vocab_size": 100, "n_layers": 2, "d_ff": 96}, "n_heads", "the stack has attention layers"),
    ({**BASE, "n_layers": 2, "d_ff": None, "layers": [{"count": 2}]}, "d_ff", "the stack has dense layers"),
    ({"d_model": 64, "d_ff": 96, "vocab_size": 100, "n_layers": 2, "n_kv_heads": 2,
      "layers": [{"count": 2, "mixer": "none"}]}, "n_kv_heads", "n_heads is not"),
    ({**BASE, "n_layers": 2, "layers": [{"count": 2, "mixer": "chunked_attention"}]}, "attention_chunk", "missing"),
    ({**BASE, "n_layers": 2, "attention_chunk": 8}, "attention_chunk", "no layer of the model uses it"),
    ({**BASE, "n_layers": 2, "attention_sinks": "yes"}, "attention_sinks", "expected one of false, true"),
    ({**BASE, "n_layers": 2, "attention_chunk": 0,
      "layers": [{"count": 2, "mixer": "chunked_attention"}]}, "attention_chunk", "not positive"),
    ({**BASE, "n_layers": 2, "layers": [{"count": 2, "mixer": "mamba9"}]}, "layers[0].mixer", "expected one of"),
])
def test_sizes_and_features_only_where_a_layer_reads_them(tmp_path, data, field, message):
    data = {k: v for k, v in data.items() if v is not None}
    assert_one_error_line(run("derive", _write(tmp_path, data), "--seq-len", 8), field, message)


def test_features_change_the_counts_they_name(tmp_path):
    plain = mfu_sym.load(_write(tmp_path, {**BASE, "n_layers": 2}))
    gated = mfu_sym.load(_write(tmp_path, {**BASE, "n_layers": 2, "attention_output_gate": True,
                                           "attention_sinks": True}, "g.yaml"))
    # the gate: a d_model -> n_heads * d_head projection a layer; sinks: n_heads parameters, no FLOPs
    assert gated.evaluate(gated.params() - plain.params()) == 2 * (64 * 64 + 4)
    assert gated.evaluate(gated.forward() - plain.forward(), seq_len=10) == 2 * 2 * 64 * 64 * 10


def test_every_kind_has_its_count_symbol_declared():
    library = mfu_sym.load_library()
    for (part, kind), name in kinds.count_symbols().items():
        assert library.symbols[name].kind == "architecture", (part, kind)
    for part in kinds.PARTS:
        for kind in kinds.kinds(part):
            block = kinds.get(part, kind)
            for name in block.sizes + block.optional_sizes:
                assert name in library.symbols, (kind, name)


# ---- formulas per sequence ----------------------------------------------------------

def _formula_dir(tmp_path, entry):
    directory = tmp_path / "f"
    directory.mkdir(exist_ok=True)
    (directory / "extra.yaml").write_text(yaml.safe_dump({"formulas": [entry]}))
    return directory


SEQUENCE = {"name": "padded_scan", "component": "mlp", "per": "sequence", "forward": "4 * d_model * ceiling(seq_len / 8)",
            "decode": "d_model", "description": "test", "reference": {"cite": "vaswani2017", "where": "test"}}


@pytest.mark.parametrize("change, field, message", [
    ({"decode": None}, "decode", "a per-sequence formula gives the FLOPs of one decode-step token"),
    ({"forward": "keys * d_model"}, "forward", "keys"),
    ({"per": "layer"}, "per", "expected one of token, sequence"),
])
def test_per_sequence_formulas_are_checked(tmp_path, change, field, message):
    entry = {k: v for k, v in {**SEQUENCE, **change}.items() if v is not None}
    result = run("derive", "examples/llama3_8b.yaml", "--seq-len", 8, "--formulas", _formula_dir(tmp_path, entry))
    assert result.exit_code == 1 and field in result.output and message in result.output, result.output


def test_per_sequence_costs_sum_as_differences():
    from mfu_sym.cost import at_position, position_sum
    s, t, keys = (sympy.Symbol(n, positive=True, integer=True) for n in ("seq_len", "t", "keys"))
    cost = 4 * sympy.ceiling(s / 8)
    assert position_sum(cost, "sequence", None, 0, s, keys, s).xreplace({s: 20}) == 12
    assert position_sum(cost, "sequence", None, 16, 20, keys, s) == 4  # the third chunk starts at 17
    assert [at_position(cost, "sequence", None, n, keys, t, s) for n in (8, 9, 10)] == [0, 4, 0]


# ---- variants ---------------------------------------------------------------------------

def test_the_variants_command_lists_each_choice_with_its_source():
    rows = {r["name"]: r for r in run_json("variants")}
    assert rows["linear_core"]["default"] == "chunked"
    choices = {c["name"]: c for c in rows["linear_core"]["choices"]}
    assert {"chunked", "recurrent_6", "recurrent_7", "recurrent_8", "megatron", "none"} <= set(choices)
    assert "torchtitan" in choices["recurrent_6"]["reference"]["link"]
    assert all(c["reference"]["link"].startswith("https://") for r in rows.values() for c in r["choices"])
    text = run("variants").output
    assert "conv_outputs" in text and "(default)" in text


@pytest.mark.parametrize("argument, message", [
    ("linear_core", "is not TERM=CHOICE"),
    ("=chunked", "is not TERM=CHOICE"),
])
def test_variant_usage_errors(argument, message):
    result = run("derive", "examples/llama3_8b.yaml", "--seq-len", 8, "--variant", argument)
    assert result.exit_code == 2 and message in result.output


def test_a_variant_given_twice_with_two_choices_is_refused():
    result = run("derive", "examples/llama3_8b.yaml", "--seq-len", 8,
                 "--variant", "linear_core=recurrent_6", "--variant", "linear_core=recurrent_8")
    assert result.exit_code == 2 and "given twice" in result.output


@pytest.mark.parametrize("argument, field, message", [
    ("no_such_term=x", "variant", "unknown disputed term 'no_such_term'"),
    ("linear_core=recurrent_9", "variant linear_core", "expected one of chunked"),
])
def test_unknown_variants_are_refused(argument, field, message):
    assert_one_error_line(run("derive", "examples/llama3_8b.yaml", "--seq-len", 8, "--variant", argument),
                          field, message)


def test_a_variant_no_layer_reads_is_refused():
    result = run("derive", "examples/llama3_8b.yaml", "--seq-len", 8, "--variant", "linear_core=recurrent_8")
    assert result.exit_code == 2 and "no layer that counts this term" in result.output


# ---- reconcile: term by term, and why ----------------------------------------------------

def test_reconcile_says_term_by_term_and_why():
    result = run_json("reconcile", "examples/gemma3_27b.yaml", "--preset", "megatron", "--against", "maxtext",
                      "--seq-len", 8192)
    terms = result["terms"]
    assert list(terms) == ["attention_core"]
    assert terms["attention_core"]["value"] == result["components"]["attention_core"]["value"]
    # Megatron-LM ignores the window: 52 window layers of 62 at S/2 instead of min(S, W)/2
    s, w, heads, d_head = 8192, 1024, 32, 128
    assert terms["attention_core"]["value"] == 52 * 6 * 2 * heads * d_head * s * (s - w) // 2
    switches = {row["switch"]: row for row in result["differences"]}
    assert "windows ignored" in switches["mask"]["base"] and "min(S, W)/2" in switches["mask"]["against"]
    assert math.isclose(result["ratio"], 1 + terms["attention_core"]["value"] / result["against"]["training"])


def _bidirectional_pairs(s, w):
    """Keys the queries see in a bidirectional window of w (|q - k| < w), by brute force."""
    return sum(1 for q in range(s) for k in range(s) if abs(q - k) < w)


@pytest.mark.parametrize("s", [1, 3, 5, 6, 13])
def test_the_bidirectional_window_total_is_the_brute_force_count(s):
    library = mfu_sym.load_library()
    mask, sym = library.masks["bidirectional_window"], library.symbol
    assert mask.total.xreplace({sym("seq_len"): s, sym("window"): 5}) == _bidirectional_pairs(s, 5)


def test_a_bidirectional_model_from_the_model_format(tmp_path):
    data = {**BASE, "n_layers": 2, "window": 3, "bidirectional": True,
            "layers": [{"count": 1, "mixer": "sliding_attention"}, {"count": 1, "mixer": "attention"}]}
    model = mfu_sym.load(_write(tmp_path, data))
    s = 10
    keys = _bidirectional_pairs(s, 3) + s * s
    assert model.evaluate(model.forward("attention_core"), seq_len=s) == 4 * 4 * 16 * keys
    full = mfu_sym.load(_write(tmp_path, data), mask="full")  # a convention's square applies as to any layer
    assert full.evaluate(full.forward("attention_core"), seq_len=s) == 4 * 4 * 16 * 2 * s * s
    refused = run("infer", _write(tmp_path, data), "--context", "16")
    assert_one_error_line(refused, "bidirectional", "the attention sees the positions after the query")


def test_bidirectional_chunked_layers_are_refused(tmp_path):
    data = {**BASE, "n_layers": 2, "attention_chunk": 4, "bidirectional": True,
            "layers": [{"count": 2, "mixer": "chunked_attention"}]}
    result = run("derive", _write(tmp_path, data), "--seq-len", "8")
    assert_one_error_line(result, "bidirectional", "not modelled for chunked attention layers")
