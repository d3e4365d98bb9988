"""Mamba-1 and gated short-convolution layers without transformers: the model format
(layers: groups with the mamba and short_conv kinds, flat size keys, features), the
disputed scan (mamba_scan) and conv (conv_outputs) counts, decode with state caches, and
every refusal of the HF readers (formulas/hf_families_mamba.yaml, hf_layers/mamba.py).
Against transformers itself: tests/crosscheck/test_mamba.py."""

import math

import pytest
import sympy

import mfu_sym
from cli_helpers import write_model as _write
from cli_helpers import load_model as _load
from mfu_sym import stack
from mfu_sym.inference import Inference

from cli_helpers import assert_one_error_line, run, run_json

# A Jamba-like hybrid in the model format: Mamba and attention layers, dense and MoE.
HYBRID = {
    "name": "hybrid", "d_model": 64, "vocab_size": 96, "n_heads": 4, "n_kv_heads": 2, "d_ff": 48,
    "n_experts": 4, "top_k": 2, "d_expert": 48, "mamba_d_inner": 128, "mamba_d_state": 8, "mamba_d_conv": 3,
    "mamba_dt_rank": 4, "mamba_dt_norms": True,
    "layers": [{"count": 1, "mixer": "mamba", "ffn": "moe"}, {"count": 1, "mixer": "attention", "ffn": "dense"},
               {"count": 1, "mixer": "mamba", "ffn": "dense"}, {"count": 1, "mixer": "attention", "ffn": "moe"}],
}
# The same model as a Jamba config.json: attention at odd layers, MoE at even ones.
JAMBA = {"model_type": "jamba", "hidden_size": 64, "num_hidden_layers": 4, "vocab_size": 96,
         "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 48, "num_experts": 4,
         "num_experts_per_tok": 2, "attn_layer_period": 2, "attn_layer_offset": 1, "expert_layer_period": 3,
         "expert_layer_offset": 0, "mamba_d_state": 8, "mamba_d_conv": 3, "mamba_expand": 2, "mamba_dt_rank": 4}
MAMBA = {"model_type": "mamba", "hidden_size": 72, "num_hidden_layers": 2, "vocab_size": 96, "state_size": 8,
         "expand": 2, "conv_kernel": 4}
LFM2 = {"model_type": "lfm2", "hidden_size": 64, "num_hidden_layers": 3, "vocab_size": 96, "num_attention_heads": 4,
        "num_key_value_heads": 2, "intermediate_size": 96, "block_multiple_of": 16, "conv_L_cache": 3,
        "layer_types": ["conv", "full_attention", "conv"]}




def _counts(model, seq_len=7, batch=2):
    report = model.report(seq_len=seq_len, batch=batch)
    return report["params"], report["flops"]["forward"], report["flops"]["training"]


# ---------------------------------------------------------------- the model format

def test_a_yaml_hybrid_is_the_jamba_config(tmp_path):
    """The format's layers: groups with mamba layers give exactly what the HF reader gives
    for the same Jamba (the reader is checked against transformers in the crosscheck)."""
    ours = _load(tmp_path, {**HYBRID, "layers": [
        {"count": 1, "mixer": "mamba", "ffn": "moe"}, {"count": 1, "mixer": "attention", "ffn": "dense"},
        {"count": 1, "mixer": "mamba", "ffn": "dense"}, {"count": 1, "mixer": "attention", "ffn": "moe"}]})
    theirs = _load(tmp_path, JAMBA, "config.json")
    assert _counts(ours) == _counts(theirs)
    assert ours.arch.layers == theirs.arch.layers


def test_a_yaml_lfm2(tmp_path):
    ours = _load(tmp_path, {"name": "lfm2", "d_model": 64, "vocab_size": 96, "n_heads": 4, "n_kv_heads": 2,
                            "d_ff": 64, "qk_norm": "per_head", "tied_embeddings": True, "short_conv_kernel": 3,
                            "layers": [{"count": 1, "mixer": "short_conv"}, {"count": 1, "mixer": "attention"},
                                       {"count": 1, "mixer": "short_conv"}]})
    assert _counts(ours) == _counts(_load(tmp_path, LFM2, "config.json"))


def test_a_pure_mamba_has_no_heads_and_no_mlp(tmp_path):
    model = _load(tmp_path, {"name": "m", "d_model": 72, "vocab_size": 96, "tied_embeddings": True,
                             "mamba_d_inner": 144, "mamba_d_state": 8, "mamba_d_conv": 4, "mamba_dt_rank": 5,
                             "layers": [{"count": 2, "mixer": "mamba", "ffn": "none"}]})
    assert _counts(model) == _counts(_load(tmp_path, MAMBA, "config.json"))
    assert model.arch.n_heads == 0 and model.arch.d_ff == 0


@pytest.mark.parametrize("change, field, message", [
    ({"mamba_d_state": None}, "mamba_d_state", "the stack has mamba layers"),
    ({"mamba_d_state": 0}, "mamba_d_state", "not positive"),
    ({"short_conv_kernel": 3}, "short_conv_kernel", "no layer of the model uses it"),
    ({"mamba_dt_norms": "yes"}, "mamba_dt_norms", "expected one of false, true"),
    ({"layers": [{"count": 4, "mixer": "attention", "ffn": "dense"}], "mamba_d_inner": None, "mamba_d_state": None,
      "mamba_d_conv": None, "mamba_dt_rank": None, "n_experts": None, "top_k": None, "d_expert": None},
     "mamba_dt_norms", "no layer of the model has it"),
    ({"layers": [{"count": 4, "mixer": "mamba3", "ffn": "dense"}]}, "layers[0].mixer", "'mamba3'"),
])
def test_the_format_refuses(tmp_path, change, field, message):
    data = {k: v for k, v in {**HYBRID, **change}.items() if v is not None}
    result = run("derive", _write(tmp_path, data), "--seq-len", 8)
    assert_one_error_line(result, field, message)


# ---------------------------------------------------------------- the disputed terms

def _scan_forward(tmp_path, choice):
    model = _load(tmp_path, JAMBA, "config.json", variants={"mamba_scan": choice})
    row = next(r for r in model.breakdown() if r["formula"].startswith("mamba_scan"))
    return row["formula"], model.evaluate(row["forward"], seq_len=7), model.evaluate(row["count"])


@pytest.mark.parametrize("choice, per_state_element", [("products", 4), ("dao_9", 9), ("readout", 2), ("none", 0)])
def test_each_scan_choice_counts_its_multiple_of_the_state(tmp_path, choice, per_state_element):
    d_in, state = JAMBA["mamba_expand"] * JAMBA["hidden_size"], JAMBA["mamba_d_state"]
    formula, forward, layers = _scan_forward(tmp_path, choice)
    assert formula == f"mamba_scan_{choice}" and layers == 2
    assert forward == per_state_element * d_in * state * 7


def test_the_variants_command_lists_the_scan_with_its_sources():
    rows = {r["name"]: r for r in run_json("variants")}
    choices = {c["name"]: c for c in rows["mamba_scan"]["choices"]}
    assert rows["mamba_scan"]["default"] == "products"
    assert set(choices) == {"products", "dao_9", "readout", "none"}
    assert "state-spaces/mamba/issues/110" in choices["dao_9"]["reference"]["link"]


def test_a_scan_variant_on_a_model_without_mamba_is_refused(tmp_path):
    result = run("derive", _write(tmp_path, LFM2, "config.json"), "--seq-len", 8, "--variant", "mamba_scan=dao_9")
    assert result.exit_code != 0 and "mamba_scan" in result.output


def test_the_cli_takes_the_scan_variant(tmp_path):
    path = _write(tmp_path, JAMBA, "config.json")
    default = run_json("derive", path, "--seq-len", 8)
    nine = run_json("derive", path, "--seq-len", 8, "--variant", "mamba_scan=dao_9")
    d_in, state = 128, 8
    assert nine["flops"]["forward"] - default["flops"]["forward"] == 2 * 5 * d_in * state * 8


@pytest.mark.parametrize("data, kernel, channels", [(JAMBA, 3, 128), (LFM2, 3, 64)])
def test_a_padded_conv_pays_its_padding_once_a_sequence(tmp_path, data, kernel, channels):
    """nn.Conv1d(padding=K-1) computes seq_len + K - 1 outputs: K - 1 more a sequence
    (an empty sequence costs nothing), and at decode 2 outputs a token."""
    layers = 2
    causal = _load(tmp_path, data, "config.json")
    padded = _load(tmp_path, data, "config.json", variants={"conv_outputs": "padded"})
    for seq_len in (1, 2, 9):
        extra = padded.evaluate(padded.forward("ssm"), seq_len=seq_len) - causal.evaluate(causal.forward("ssm"),
                                                                                          seq_len=seq_len)
        assert extra == layers * 2 * kernel * channels * (kernel - 1)
    # per position: the padding with the first token; the positions add up to the sequence
    first = padded.evaluate(padded.forward_at(1, "ssm")) - causal.evaluate(causal.forward_at(1, "ssm"))
    assert first == layers * 2 * kernel * channels * (kernel - 1)
    assert sum(padded.evaluate(padded.forward_at(t)) for t in range(1, 6)) == padded.evaluate(padded.forward(), seq_len=5)
    step = Inference(padded).report(6, batch=1)["decode_step"]["flops"] - \
        Inference(causal).report(6, batch=1)["decode_step"]["flops"]
    assert step == layers * 2 * kernel * channels


def test_symbolic_positions_of_a_padded_conv(tmp_path):
    padded = _load(tmp_path, JAMBA, "config.json", variants={"conv_outputs": "padded"})
    t = padded.t
    expression = padded.forward_at(component="ssm")
    assert isinstance(sympy.piecewise_fold(expression), sympy.Piecewise)
    assert [padded.evaluate(expression.subs(t, n)) for n in (1, 2)] == \
        [padded.evaluate(padded.forward_at(n, "ssm")) for n in (1, 2)]


# ---------------------------------------------------------------- decode and the caches

def test_a_mamba_decode_keeps_states_not_positions(tmp_path):
    inference = Inference(_load(tmp_path, MAMBA, "config.json"), dtype="fp32")
    short, long = inference.report(2, batch=1), inference.report(100_000, batch=1)
    d_in, layers = 144, 2
    assert short["kv_cache"]["per_token"] == 0
    assert short["kv_cache"]["state_elements_per_sequence"] == layers * d_in * (4 + 8)
    assert short["decode_step"]["flops"] == long["decode_step"]["flops"]
    assert short["kv_cache"]["total"] == long["kv_cache"]["total"]


def test_a_hybrid_caches_keys_on_its_attention_layers_only(tmp_path):
    inference = Inference(_load(tmp_path, JAMBA, "config.json"), dtype="fp32")
    report = inference.report(10, batch=1)
    assert report["kv_cache"]["elements_per_token"] == 2 * 2 * 2 * 16  # 2 layers, K and V, 2 heads of 16
    assert report["kv_cache"]["state_elements_per_sequence"] == 2 * 128 * (3 + 8)


# ---------------------------------------------------------------- HF configs

def test_auto_dt_rank_and_the_mamba_width(tmp_path):
    arch = _load(tmp_path, MAMBA, "config.json").arch
    assert dict(arch.sizes) == {"mamba_d_inner": 144, "mamba_d_state": 8, "mamba_d_conv": 4,
                                "mamba_dt_rank": math.ceil(72 / 16)}
    given = _load(tmp_path, {**MAMBA, "time_step_rank": 7, "intermediate_size": 999}, "config.json").arch
    assert dict(given.sizes)["mamba_dt_rank"] == 7 and dict(given.sizes)["mamba_d_inner"] == 144


def test_keywords_lfm2_pops_win_over_their_attributes(tmp_path):
    """Lfm2Config.__post_init__: intermediate_size = kwargs.pop("block_ff_dim", ...),
    tie_word_embeddings = kwargs.pop("tie_embedding", ...)."""
    base = _load(tmp_path, {**LFM2, "intermediate_size": 144}, "config.json")
    popped = _load(tmp_path, {**LFM2, "intermediate_size": 8, "block_ff_dim": 144, "tie_word_embeddings": True,
                              "tie_embedding": False}, "config.json")
    assert popped.arch.d_ff == base.arch.d_ff == 96  # int(2 * 144 / 3) = 96, a multiple of 16
    assert popped.arch.tied_embeddings is False
    assert not popped.arch.notes


@pytest.mark.parametrize("change, layers", [
    ({"layer_types": None}, ["attention"] * 3),  # no layer_types, no full_attn_idxs: every layer attends
    ({"layer_types": None, "full_attn_idxs": [0, 2]}, ["attention", "short_conv", "attention"]),
    ({"layer_types": ["attention", "conv", "conv"]}, ["attention", "short_conv", "short_conv"]),
])
def test_lfm2_layers(tmp_path, change, layers):
    data = {k: v for k, v in {**LFM2, **change}.items() if v is not None}
    arch = _load(tmp_path, data, "config.json").arch
    assert [mixer for mixer, _ in stack.layers(arch.layers)] == layers


def test_sizes_of_kinds_a_config_does_not_build_are_dropped(tmp_path):
    every_layer_attends = _load(tmp_path, {**JAMBA, "attn_layer_period": 1, "attn_layer_offset": 0,
                                           "mamba_conv_bias": False}, "config.json").arch
    assert every_layer_attends.sizes == () and every_layer_attends.features == ()
    no_conv = _load(tmp_path, {k: v for k, v in LFM2.items() if k != "layer_types"}, "config.json").arch
    assert "short_conv_kernel" not in dict(no_conv.sizes)


def test_one_expert_is_a_dense_jamba(tmp_path):
    arch = _load(tmp_path, {**JAMBA, "num_experts": 1}, "config.json").arch
    assert arch.n_experts == 0 and {ffn for _, ffn in stack.layers(arch.layers)} == {"dense"}


@pytest.mark.parametrize("config, field, message", [
    ({**JAMBA, "attn_layer_offset": 2}, "attn_layer_offset", "not smaller than attn_layer_period"),
    ({**JAMBA, "attn_layer_period": 0, "attn_layer_offset": 0}, "attn_layer_period", "not positive"),
    ({**JAMBA, "expert_layer_period": "2"}, "expert_layer_period", "not an integer"),
    ({**JAMBA, "mamba_dt_rank": "large"}, "mamba_dt_rank", "not a positive integer"),
    ({**JAMBA, "num_key_value_heads": None}, "num_key_value_heads", "null, but JambaConfig's model needs a size"),
    ({**JAMBA, "num_experts_per_tok": 5}, "top_k", "larger than n_experts"),
    ({**MAMBA, "time_step_rank": "auto-ish"}, "time_step_rank", "not a positive integer"),
    ({**MAMBA, "use_conv_bias": "yes"}, "use_conv_bias", "not true or false"),
    ({**LFM2, "layer_types": ["conv", "sliding_attention", "conv"]}, "layer_types[1]", "'sliding_attention'"),
    ({**LFM2, "layer_types": ["conv", "conv"]}, "layer_types", "expected one per layer"),
    ({**{k: v for k, v in LFM2.items() if k != "layer_types"}, "full_attn_idxs": "0,1"}, "full_attn_idxs",
     "expected a list"),
    ({**{k: v for k, v in LFM2.items() if k != "layer_types"}, "full_attn_idxs": [-1]}, "full_attn_idxs[0]",
     "not a layer index"),
    ({**LFM2, "block_ffn_dim_multiplier": None}, "block_ffn_dim_multiplier", "not a positive number"),
    ({**LFM2, "block_ffn_dim_multiplier": True}, "block_ffn_dim_multiplier", "not a positive number"),
    ({**LFM2, "block_auto_adjust_ff_dim": "no"}, "block_auto_adjust_ff_dim", "not true or false"),
    ({**LFM2, "intermediate_size": 1}, "intermediate_size", "not positive"),
    ({**LFM2, "conv_L_cache": 0}, "conv_L_cache", "not positive"),
])
def test_hf_refusals(tmp_path, config, field, message):
    result = run("derive", _write(tmp_path, config, "config.json"), "--seq-len", 8)
    assert_one_error_line(result, field, message)


def test_the_published_configs_say_what_transformers_ignores():
    """Keys the remote-code era wrote and transformers 5.23 stores unread are reported."""
    from pathlib import Path
    hf = Path(__file__).resolve().parent.parent / "examples" / "hf"
    notes = mfu_sym.load(hf / "jamba_v0_1" / "config.json").notes()
    assert any("mamba_inner_layernorms" in note and "n_ctx" in note for note in notes)
    assert any("n_layer" in note for note in mfu_sym.load(hf / "mamba_2_8b" / "config.json").notes())
