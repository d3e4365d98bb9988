"""The attnb families without torch: the model YAML describes them (the xielu_mlp
feed-forward kind, LayerNorm with bias, parallel blocks, post-norms, per-head q/k norms,
window layer groups) with the same counts as their Hugging Face configs; what the readers
refuse, they refuse with the field's name. The exactness against transformers is in
tests/crosscheck/test_attnb.py."""

from pathlib import Path

import pytest
from click.testing import CliRunner

import mfu_sym
from cli_helpers import counts_in_both_formats, write_model
from mfu_sym.cli import main
from mfu_sym.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
IDS = {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
BASE = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, vocab_size=96,
            intermediate_size=40, **IDS)
SIZES = dict(d_model=64, n_layers=4, n_heads=4, n_kv_heads=2, d_ff=40, vocab_size=96)
MIXED = ["sliding_attention", "full_attention", "full_attention", "sliding_attention"]

# (config.json, the same model in the project's YAML format)
PAIRS = {
    "apertus": (
        {"model_type": "apertus", **BASE},
        {**SIZES, "mlp": "plain", "qk_norm": "per_head", "layers": [{"count": 4, "ffn": "xielu_mlp"}]}),
    "apertus-gelu": (
        {"model_type": "apertus", **BASE, "hidden_act": "gelu", "attention_bias": True},
        {**SIZES, "mlp": "plain", "qk_norm": "per_head", "attention_bias": "all"}),
    "starcoder2": (
        {"model_type": "starcoder2", **BASE, "sliding_window": 5},
        {**SIZES, "mlp": "plain", "norm": "layernorm", "attention_bias": "all", "mlp_bias": True,
         "tied_embeddings": True, "window": 5, "layers": [{"count": 4, "mixer": "sliding_attention"}]}),
    "stablelm-parallel": (
        {"model_type": "stablelm", **BASE, "use_parallel_residual": True, "qk_layernorm": True, "use_qkv_bias": True},
        {**SIZES, "norm": "layernorm", "norm_placement": "parallel", "qk_norm": "per_head_unshared",
         "attention_bias": "qkv"}),
    "exaone4": (
        {"model_type": "exaone4", **BASE, "sliding_window": 5},
        {**SIZES, "norm_placement": "post", "qk_norm": "per_head", "window": 5, "full_attention_every": 4}),
    "ministral": (
        {"model_type": "ministral", **BASE, "head_dim": 24, "sliding_window": 6, "layer_types": MIXED},
        {**SIZES, "d_head": 24, "window": 6,
         "layers": [{"count": 1, "mixer": "sliding_attention"}, {"count": 2, "mixer": "attention"},
                    {"count": 1, "mixer": "sliding_attention"}]}),
    "seed_oss": (
        {"model_type": "seed_oss", **BASE, "head_dim": 24, "attention_out_bias": True, "mlp_bias": True},
        {**SIZES, "d_head": 24, "attention_bias": "all", "mlp_bias": True}),
    "helium": (
        {"model_type": "helium", **BASE, "head_dim": 16, "attention_bias": True},
        {**SIZES, "d_head": 16, "attention_bias": "qkv"}),
}



@pytest.mark.parametrize("name", list(PAIRS))
def test_the_yaml_format_describes_the_same_model(tmp_path, name):
    config, model_yaml = PAIRS[name]
    from_config, from_yaml = counts_in_both_formats(tmp_path, config, model_yaml)
    assert from_config == from_yaml


def test_xielu_adds_two_parameters_a_layer_and_no_flops(tmp_path):
    plain = mfu_sym.load(write_model(tmp_path, {**SIZES, "mlp": "plain"}, "a.yaml"))
    xielu = mfu_sym.load(write_model(tmp_path, {**SIZES, "mlp": "plain",
                                                     "layers": [{"count": 4, "ffn": "xielu_mlp"}]}, "b.yaml"))
    assert int(xielu.evaluate(xielu.params())) - int(plain.evaluate(plain.params())) == 2 * 4
    flops = [model.report(seq_len=7)["flops"] for model in (xielu, plain)]
    assert [(f["forward"], f["backward"], f["training"]) for f in flops] == [
        (flops[1]["forward"], flops[1]["backward"], flops[1]["training"])] * 2


def test_xielu_mlp_shares_the_stack_with_dense_layers(tmp_path):
    mixed = mfu_sym.load(write_model(tmp_path, {**SIZES, "mlp": "plain", "layers": [
        {"count": 1, "ffn": "xielu_mlp"}, {"count": 3, "ffn": "dense"}]}, "m.yaml"))
    plain = mfu_sym.load(write_model(tmp_path, {**SIZES, "mlp": "plain"}, "p.yaml"))
    assert int(mixed.evaluate(mixed.params())) - int(plain.evaluate(plain.params())) == 2


def test_xielu_mlp_needs_a_plain_mlp(tmp_path):
    with pytest.raises(ConfigError, match="plain"):
        mfu_sym.load(write_model(tmp_path, {**SIZES, "layers": [{"count": 4, "ffn": "xielu_mlp"}]}, "m.yaml"))


@pytest.mark.parametrize("name", ["examples/hf/helium_1_preview_2b", "examples/hf/stablelm_2_1_6b_chat",
                                  "examples/hf/starcoder2_15b", None])
def test_configs_run_from_the_command_line(tmp_path, name):
    path = str(ROOT / name / "config.json") if name else str(
        write_model(tmp_path, {"model_type": "exaone4", **BASE, "sliding_window": 5}, "config.json"))
    for command in (["derive", path, "--format", "json"], ["infer", path, "--context", "64", "--format", "json"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0, result.output


# ------------------------------------------------------------------ refusals (messages)


@pytest.mark.parametrize("config, field, message", [
    ({"model_type": "exaone4", **BASE, "sliding_window": None}, "sliding_window", "pattern of 0"),
    ({"model_type": "exaone4", **BASE, "sliding_window": None, "layer_types": MIXED}, "sliding_window",
     "layer_types has sliding_attention"),
    ({"model_type": "exaone4", **BASE, "sliding_window_pattern": "LLLG"}, "sliding_window_pattern", "integer"),
    ({"model_type": "ministral", **BASE, "head_dim": 16, "sliding_window": None}, "sliding_window",
     "sliding-window mask at every"),
    ({"model_type": "ministral", **BASE}, "head_dim", "missing"),
    ({"model_type": "seed_oss", **BASE, "attention_bias": False, "attention_out_bias": True},
     "attention_out_bias", "o_proj bias without"),
    ({"model_type": "starcoder2", **BASE, "sliding_window": 4, "layer_types": ["full_attention"] * 4},
     "layer_types", "decode cache"),
    ({"model_type": "starcoder2", **BASE, "layer_types": MIXED}, "layer_types", "decode cache"),
    ({"model_type": "starcoder2", **BASE, "attention_chunk_size": 4}, "attention_chunk_size", "decode cache"),
    ({"model_type": "gemma", **BASE, "sliding_window": 4}, "sliding_window", "decode cache"),
    ({"model_type": "apertus", **BASE, "layer_types": ["sliding_attention"] * 4}, "layer_types", "decode cache"),
    ({"model_type": "arcee", **BASE, "attention_chunk_size": 4}, "attention_chunk_size", "decode cache"),
    ({"model_type": "apertus", **BASE, "hidden_act": None}, "hidden_act", "name of an activation"),
    ({"model_type": "apertus", **BASE, "hidden_act": "prelu"}, "hidden_act", "learnable parameter"),
    ({"model_type": "helium", **BASE, "head_dim": 24}, "head_dim", "o_proj with hidden_size inputs"),
    ({"model_type": "stablelm", **BASE, "num_attention_heads": 6, "num_key_value_heads": 6},
     "num_attention_heads", "raises unless"),
    ({"model_type": "arcee", **BASE, "num_attention_heads": 6, "num_key_value_heads": 6},
     "num_attention_heads", "validates that"),
    ({"model_type": "gemma", **BASE, "use_bidirectional_attention": True}, "use_bidirectional_attention",
     "not supported"),
])
def test_refusals_name_the_field(tmp_path, config, field, message):
    with pytest.raises(ConfigError, match=message) as error:
        mfu_sym.load(write_model(tmp_path, config, "config.json"))
    assert error.value.field == field


def test_the_ministral_default_slides_every_layer(tmp_path):
    model = mfu_sym.load(write_model(tmp_path, {"model_type": "ministral", **BASE, "head_dim": 16}, "config.json"))
    assert model.arch.layer_types == ("sliding_attention",) * 4 and model.arch.window == 4096


def test_starcoder2_without_a_window_has_none(tmp_path):
    model = mfu_sym.load(write_model(tmp_path, {"model_type": "starcoder2", **BASE,
                                                          "layer_types": ["full_attention"] * 4}, "config.json"))
    assert model.arch.n_window_layers == 0
