"""Kimi Delta Attention and lightning attention without transformers: the model format's
`layers:` with the new kinds and flat size keys, the closed forms against the algorithms
they sum (chunk by chunk, block by block), the decode forms and state caches, the
disputed-term variants (Megatron-Bridge's KDA count reproduced term by term), and every
refusal of the model format. The counts against what transformers executes are in
tests/crosscheck/test_kda.py."""

import json
import math

import pytest
import sympy

import mfu_sym
from mfu_sym.errors import ConfigError
from mfu_sym.inference import Inference

from cli_helpers import write_model as _write
from cli_helpers import run, run_json

# Kimi-Linear-48B-A3B's sizes (examples/hf/kimi_linear_48b_a3b/config.json) in the model
# format: 27 layers, MLA on the 1-based layers 4, 8, ..., 24, 27, KDA elsewhere, the first
# layer's MLP dense.
KIMI = {
    "name": "Kimi-Linear-48B-A3B", "d_model": 2304, "vocab_size": 163840, "n_heads": 32, "d_ff": 9216,
    "n_experts": 256, "top_k": 8, "d_expert": 1024, "d_shared": 1024,
    "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
    "kda_heads": 32, "kda_head_dim": 128, "kda_conv_kernel": 4, "kda_chunk": 64,
    "layers": [{"count": 1, "mixer": "kimi_delta_attention", "ffn": "dense"},
               {"count": 2, "mixer": "kimi_delta_attention"}, {"count": 1, "mixer": "mla"}]
              + [{"count": 3, "mixer": "kimi_delta_attention"}, {"count": 1, "mixer": "mla"}] * 5
              + [{"count": 2, "mixer": "kimi_delta_attention"}, {"count": 1, "mixer": "mla"}],
}
MINIMAX = {
    "name": "lightning small", "d_model": 64, "vocab_size": 96, "n_heads": 4, "n_kv_heads": 2, "d_head": 8,
    "n_experts": 4, "top_k": 2, "d_expert": 40, "lightning_block": 5,
    "layers": [{"count": 3, "mixer": "lightning_attention", "ffn": "moe"}, {"count": 1, "mixer": "attention"}],
}
HF_KIMI = "examples/hf/kimi_linear_48b_a3b/config.json"



def _numbers(model, seq_len=4096):
    report = model.report(seq_len=seq_len, batch=1)
    return report["params"]["total"], report["flops"]["forward"], report["flops"]["backward"]


# ------------------------------------------------------------------ the model format


def test_the_model_format_reads_kimi_linear_as_its_config_does(tmp_path):
    yaml_model = mfu_sym.load(_write(tmp_path, KIMI))
    hf_model = mfu_sym.load(HF_KIMI)
    assert yaml_model.arch.layers == hf_model.arch.layers
    for seq_len in (1, 63, 64, 65, 4096, 4097):
        assert _numbers(yaml_model, seq_len) == _numbers(hf_model, seq_len)


def test_the_model_format_reads_lightning_layers(tmp_path):
    model = mfu_sym.load(_write(tmp_path, MINIMAX))
    assert model.arch.size("lightning_block") == 5
    assert set(model.variants_read(model.arch)) == {"lightning_core"}
    assert "linear_attention" in model.components and "attention_core" in model.components


def test_kda_output_gate_full_rank_is_a_model_feature(tmp_path):
    low = mfu_sym.load(_write(tmp_path, KIMI))
    full = mfu_sym.load(_write(tmp_path, {**KIMI, "kda_output_gate": "full_rank"}, "full.yaml"))
    h, heads, d, layers = 2304, 32, 128, 20
    assert full.evaluate(full.params() - low.params()) == layers * (h * heads * d - (h * d + d * heads * d))


REFUSED = [
    ({"kda_heads": None}, "kda_heads", "missing"),
    ({"kda_chunk": 0}, "kda_chunk", "not positive"),
    ({"lightning_block": 256}, "lightning_block", "no layer of the model uses it"),
    ({"kda_output_gate": "half_rank"}, "kda_output_gate", "expected one of low_rank, full_rank"),
    ({"layers": [{"count": 2, "mixer": "kda"}]}, "layers[0].mixer", "'kda' (expected one of"),
]


@pytest.mark.parametrize("change, field, message", REFUSED)
def test_the_model_format_refuses(tmp_path, change, field, message):
    data = {k: v for k, v in {**KIMI, **change}.items() if v is not None}
    with pytest.raises(ConfigError) as error:
        mfu_sym.load(_write(tmp_path, data))
    assert error.value.field == field and message in str(error.value)


def test_lightning_needs_its_block(tmp_path):
    data = {k: v for k, v in MINIMAX.items() if k != "lightning_block"}
    with pytest.raises(ConfigError, match="lightning_block: missing"):
        mfu_sym.load(_write(tmp_path, data))


def test_a_variant_the_model_does_not_read_is_refused(tmp_path):
    result = run("derive", _write(tmp_path, KIMI), "--seq-len", "8", "--variant", "lightning_core=recurrent")
    assert result.exit_code == 2 and "lightning_core: the model has no layer that counts this term" in result.output
    assert "kda_output_gate_count, linear_core" in result.output


def test_the_cli_counts_with_the_kda_variants(tmp_path):
    path = _write(tmp_path, KIMI)
    chunked = run_json("derive", path, "--seq-len", "4096")
    recurrent = run_json("derive", path, "--seq-len", "4096", "--variant", "linear_core=recurrent_8")
    assert recurrent["conventions"]["variants"]["linear_core"] == "recurrent_8"
    assert chunked["flops"]["components"]["linear_attention"]["forward"] > \
        recurrent["flops"]["components"]["linear_attention"]["forward"]


# ------------------------------------------------------------------ the closed forms


def _kda_core_by_chunks(seq_len, heads, d, chunk):
    """transformers' chunk_kimi_delta_attention, product by product, chunk by chunk."""
    total = 0
    for _ in range(math.ceil(seq_len / chunk)):
        akk = 2 * chunk * chunk * d  # decay-weighted K K^T
        solve = sum(2 * i * i for i in range(1, chunk))  # row i times the i x i block above it
        values = 2 * 2 * chunk * chunk * d  # A (beta V), A (beta K decay)
        reads = 2 * 2 * chunk * d * d  # (Q decay) S, (A K decay) S
        intra = 2 * chunk * chunk * d + 2 * chunk * chunk * d  # Q K^T decayed, times the new values
        update = 2 * chunk * d * d  # K^T new values
        total += heads * (akk + solve + values + reads + intra + update)
    return total


def _lightning_core_by_blocks(seq_len, heads, d, block):
    total, start = 0, 0
    while start < seq_len:
        b = min(block, seq_len - start)
        total += heads * (2 * b * b * d + 2 * b * b * d + 2 * b * d * d + 2 * d * b * d)
        start += b
    return total


@pytest.mark.parametrize("seq_len", [1, 5, 63, 64, 65, 128, 129, 1000])
def test_the_chunked_kda_core_sums_its_chunks(tmp_path, seq_len):
    model = mfu_sym.load(_write(tmp_path, KIMI))
    core = model.library.formulas["kda_core_chunked"]
    values = {**model.values, model.seq_len: seq_len}
    assert core.forward.xreplace(values) == _kda_core_by_chunks(seq_len, 32, 128, 64)
    # backward: 2x, less the first chunk's state-gradient reads and the last chunk's unused update
    assert core.backward["eager"].xreplace(values) == 2 * _kda_core_by_chunks(seq_len, 32, 128, 64) - 8 * 32 * 64 * 128 ** 2


@pytest.mark.parametrize("seq_len", [1, 4, 5, 6, 10, 11, 256, 257])
def test_the_blocked_lightning_core_sums_its_blocks(tmp_path, seq_len):
    model = mfu_sym.load(_write(tmp_path, MINIMAX))
    core = model.library.formulas["lightning_core_blocked"]
    values = {**model.values, model.seq_len: seq_len}
    assert core.forward.xreplace(values) == _lightning_core_by_blocks(seq_len, 4, 8, 5)
    first, last = min(seq_len, 5), seq_len - 5 * (math.ceil(seq_len / 5) - 1)
    assert core.backward["eager"].xreplace(values) == (2 * _lightning_core_by_blocks(seq_len, 4, 8, 5)
                                                       - 4 * 8 * 8 * (2 * first + 4 * last))


@pytest.mark.parametrize("name", ["kda_core_chunked", "kda_conv_padded", "lightning_core_blocked"])
def test_a_per_sequence_formula_is_zero_for_an_empty_sequence(name):
    formula = mfu_sym.load_library().formulas[name]
    seq_len = mfu_sym.load_library().symbol("seq_len")
    assert formula.per == "sequence"
    for expression in [formula.forward] + list(formula.backward.values()):
        assert expression.subs(seq_len, 0) == 0, expression


def test_the_sum_over_positions_is_the_whole_sequence(tmp_path):
    """forward_at(t) of a per-sequence cost is f(t) - f(t - 1): summed over positions it
    is the sequence's count, padding and chunks included."""
    model = mfu_sym.load(_write(tmp_path, {**KIMI, "kda_chunk": 4, "kda_conv_kernel": 3}),
                         variants={"conv_outputs": "padded"})
    total = sum(model.evaluate(model.forward_at(t, "linear_attention")) for t in range(1, 11))
    assert total == model.evaluate(model.forward("linear_attention"), seq_len=10)


# ------------------------------------------------------------------ decode and caches


def test_decode_is_the_recurrent_step_and_the_state_is_fixed(tmp_path):
    model = mfu_sym.load(_write(tmp_path, KIMI))
    inference = Inference(model, dtype="bf16")
    short, long = (inference.report(c, batch=1) for c in (1000, 100_000))
    heads, d, kernel, layers = 32, 128, 4, 20
    assert short["kv_cache"]["state_elements_per_sequence"] == layers * (heads * d * d + 3 * heads * d * kernel)
    assert long["kv_cache"]["state_elements_per_sequence"] == short["kv_cache"]["state_elements_per_sequence"]
    assert short["kv_cache"]["elements_per_token"] == 7 * (512 + 64)  # MLA layers only
    assert set(short["kv_cache"]["layout"]) == {"kda_conv_state", "kda_recurrent_state", "mla_latent"}
    # KDA layers cost the same at any context; only the MLA layers grow with it
    kda = model.library.formulas["kda_core_chunked"].decode
    assert kda.xreplace(model.values) == 6 * heads * d * d


def test_lightning_state_cache(tmp_path):
    report = Inference(mfu_sym.load(_write(tmp_path, MINIMAX)), dtype="fp32").report(9, batch=2)
    assert report["kv_cache"]["state_elements_per_sequence"] == 3 * 4 * 8 * 8
    assert report["kv_cache"]["elements_per_token"] == 2 * 2 * 8


# ------------------------------------------------------------------ the peers' counts


def test_megatron_bridge_kda_count_is_reproduced_by_three_variants():
    """Megatron-Bridge (flop_utils.py, KDA): 3 * 2 * [5 h H d + h H + h d + d H d + 3 K H d +
    4 H d^2] per token and KDA layer, the output gate counted full rank."""
    model = mfu_sym.load(HF_KIMI, variants={"linear_core": "recurrent_8", "conv_outputs": "causal",
                                            "kda_output_gate_count": "full_rank"})
    h, heads, d, kernel, layers, seq_len = 2304, 32, 128, 4, 20, 4096
    bridge = 3 * 2 * (5 * h * heads * d + h * heads + h * d + d * heads * d + 3 * kernel * heads * d
                      + 4 * heads * d * d)
    training = model.evaluate(model.training("linear_attention"), seq_len=seq_len, batch=1)
    assert training == layers * seq_len * bridge
    # the parameters stay the checkpoint's (low-rank gate)
    assert model.evaluate(model.params()) == mfu_sym.load(HF_KIMI).evaluate(mfu_sym.load(HF_KIMI).params())


@pytest.mark.parametrize("choice, per_state_element", [("recurrent_6", 6), ("recurrent_7", 7), ("recurrent_8", 8),
                                                       ("megatron", 8), ("none", 0)])
def test_per_token_kda_cores(choice, per_state_element):
    model = mfu_sym.load(HF_KIMI, variants={"linear_core": choice})
    core = model.library.formulas[f"kda_core_{choice}"]
    assert core.forward.xreplace(model.values) == per_state_element * 32 * 128 * 128


def test_the_chunked_core_costs_more_than_the_recurrent_counts_at_chunk_64():
    """Per token at C = 64, d = 128: 10 C d + 6 d^2 + (C-1)(2C-1)/3 = 182,869 per head, against
    the 6 / 8 d^2 = 98,304 / 131,072 of the recurrent views."""
    library = mfu_sym.load_library()
    model = mfu_sym.load(HF_KIMI)
    per_chunk = library.formulas["kda_core_chunked"].forward.xreplace({**model.values, model.seq_len: 64})
    assert per_chunk == 32 * (10 * 64 ** 2 * 128 + 6 * 64 * 128 ** 2 + 63 * 64 * 127 // 3)
    assert sympy.Rational(per_chunk, 64 * 32) > 8 * 128 ** 2


def test_lightning_core_variants(tmp_path):
    path = _write(tmp_path, MINIMAX)
    blocked, recurrent, none = (mfu_sym.load(path, variants={"lightning_core": c}) for c in
                                ("blocked", "recurrent", "none"))
    seq_len = 17
    per_token = 4 * 4 * 8 * 8
    core = lambda m: m.evaluate(m.forward("linear_attention"), seq_len=seq_len, batch=1)  # noqa: E731
    projections = core(none)
    assert core(recurrent) - projections == 3 * seq_len * per_token
    assert core(blocked) - projections == 3 * _lightning_core_by_blocks(seq_len, 4, 8, 5)


def test_json_report_names_the_variants(tmp_path):
    report = mfu_sym.load(HF_KIMI).report(seq_len=4096)
    assert report["conventions"]["variants"] == {"conv_outputs": "causal", "kda_output_gate_count": "as_built",
                                                 "linear_core": "chunked"}
    json.dumps(report, default=str)
