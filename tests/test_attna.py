"""The attna families without torch: the model YAML describes them (parallel blocks,
LayerNorm without bias, per-head q/k norms with per-head scales, sandwich and post norms,
window layer groups) with the same counts as their Hugging Face configs; the flagships run
from the command line; what the readers refuse, they refuse with the field's name; the
family table's `switches` entries are checked at load. The exactness against transformers
is in tests/crosscheck/test_attna.py."""

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import mfu_sym
from cli_helpers import counts_in_both_formats, write_model
from mfu_sym import data, hf
from mfu_sym.cli import main
from mfu_sym.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
FLAGSHIPS = ["glm4_9b_chat", "granite3_2b_instruct"]
IDS = {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
BASE = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, vocab_size=96,
            intermediate_size=40, **IDS)
SIZES = dict(d_model=64, n_layers=4, n_heads=4, n_kv_heads=2, d_ff=40, vocab_size=96)

# (config.json, the same model in the project's YAML format)
PAIRS = {
    "cohere-qk-norm": (
        {"model_type": "cohere", **BASE, "use_qk_norm": True, "attention_bias": True},
        {**SIZES, "mlp": "gated", "norm": "layernorm_no_bias", "norm_placement": "parallel",
         "qk_norm": "per_head_unshared", "attention_bias": "all", "tied_embeddings": True}),
    "cohere2": (
        {"model_type": "cohere2", **BASE, "sliding_window": 5},
        {**SIZES, "norm": "layernorm_no_bias", "norm_placement": "parallel", "attention_bias": "none",
         "tied_embeddings": True, "window": 5,
         "layers": [{"count": 3, "mixer": "sliding_attention"}, {"count": 1, "mixer": "attention"}]}),
    "olmo3": (
        {"model_type": "olmo3", **BASE, "sliding_window": 5},
        {**SIZES, "norm_placement": "post", "qk_norm": "full", "window": 5, "full_attention_every": 4}),
    "glm4": (
        {"model_type": "glm4", **BASE, "head_dim": 24},
        {**SIZES, "d_head": 24, "norm_placement": "sandwich", "attention_bias": "qkv"}),
    "hunyuan": (
        {"model_type": "hunyuan_v1_dense", **BASE, "head_dim": 16},
        {**SIZES, "d_head": 16, "qk_norm": "per_head"}),
}



@pytest.mark.parametrize("name", list(PAIRS))
def test_the_yaml_format_describes_the_same_model(tmp_path, name):
    config, model_yaml = PAIRS[name]
    from_config, from_yaml = counts_in_both_formats(tmp_path, config, model_yaml)
    assert from_config == from_yaml


def test_per_head_unshared_counts_a_scale_per_head(tmp_path):
    """(n_heads + n_kv_heads) * d_head parameters, against per_head's 2 * d_head."""
    counts = {}
    for choice in ("per_head", "per_head_unshared", "none"):
        model = mfu_sym.load(write_model(tmp_path, {**SIZES, "qk_norm": choice}, "m.yaml"))
        counts[choice] = int(model.evaluate(model.params()))
    assert counts["per_head_unshared"] - counts["none"] == 4 * (4 + 2) * 16
    assert counts["per_head"] - counts["none"] == 4 * 2 * 16


def test_a_bad_qk_norm_names_the_choices(tmp_path):
    with pytest.raises(ConfigError, match="per_head_unshared"):
        mfu_sym.load(write_model(tmp_path, {**SIZES, "qk_norm": "per_head_each"}, "m.yaml"))


@pytest.mark.parametrize("name", FLAGSHIPS)
def test_flagships_run_from_the_command_line(name):
    path = str(ROOT / "examples" / "hf" / name / "config.json")
    for command in (["derive", path, "--format", "json"], ["infer", path, "--context", "4096", "--format", "json"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0, result.output


def test_cohere_qk_norm_switch(tmp_path):
    plain = mfu_sym.load(write_model(tmp_path, {"model_type": "cohere", **BASE}, "config.json"))
    normed = mfu_sym.load(write_model(tmp_path, {"model_type": "cohere", **BASE, "use_qk_norm": True}, "config.json"))
    assert (plain.arch.qk_norm, normed.arch.qk_norm) == ("none", "per_head_unshared")


# ------------------------------------------------------------------ refusals (messages)


@pytest.mark.parametrize("config, field, message", [
    ({"model_type": "olmo3", **BASE, "sliding_window": None}, "sliding_window", "sliding-window mask at every"),
    ({"model_type": "cohere2", **BASE, "sliding_window": None}, "sliding_window", "sliding-window mask at every"),
    ({"model_type": "smollm3", **BASE, "no_rope_layers": [1, 1, 1]}, "no_rope_layers", "has 3 entries"),
    ({"model_type": "smollm3", **BASE, "no_rope_layers": [1, "0", 1, 1]}, "no_rope_layers[1]", "NoPE"),
    ({"model_type": "smollm3", **BASE, "no_rope_layer_interval": 0}, "no_rope_layer_interval", "not positive"),
    ({"model_type": "smollm3", **BASE, "use_sliding_window": True, "layer_types": ["sliding_attention"] * 4},
     "sliding_window", "layer_types has sliding_attention"),
    ({"model_type": "smollm3", **BASE, "sliding_window": 4, "layer_types": ["sliding_attention"] * 4},
     "layer_types", "use_sliding_window is false"),
    ({"model_type": "smollm3", **BASE, "layer_types": ["full_attention"] * 3}, "layer_types", "gives 3 layers"),
    ({"model_type": "hunyuan_v1_dense", **BASE}, "head_dim", "missing"),
    ({"model_type": "cohere2", **BASE, "sliding_window_pattern": 0}, "sliding_window_pattern", "not positive"),
    # no window in the attention, but one in transformers' decode cache
    ({"model_type": "glm", **BASE, "sliding_window": 4}, "sliding_window", "decode cache"),
    ({"model_type": "granite", **BASE, "attention_chunk_size": 4}, "attention_chunk_size", "decode cache"),
    ({"model_type": "cohere", **BASE, "layer_types": ["sliding_attention"] * 4}, "layer_types", "decode cache"),
])
def test_refusals_name_the_field(tmp_path, config, field, message):
    with pytest.raises(ConfigError, match=message) as error:
        mfu_sym.load(write_model(tmp_path, config, "config.json"))
    assert error.value.field == field


@pytest.mark.parametrize("model_type", ["glm", "glm4", "cohere", "granite", "ernie4_5", "hunyuan_v1_dense"])
def test_null_window_keys_are_harmless(tmp_path, model_type):
    config = {"model_type": model_type, **BASE, "head_dim": 16, "sliding_window": None, "layer_types": None}
    model = mfu_sym.load(write_model(tmp_path, config, "config.json"))
    assert model.arch.n_window_layers == 0


def test_the_smollm3_default_has_no_windows_and_nope_changes_nothing(tmp_path):
    """use_sliding_window off (SmolLM3-3B): no window layer; with it on, the NoPE layers
    (every 4th by default) slide."""
    off = mfu_sym.load(write_model(tmp_path, {"model_type": "smollm3", **BASE, "sliding_window": 3}, "config.json"))
    on = mfu_sym.load(write_model(tmp_path, {"model_type": "smollm3", **BASE, "sliding_window": 3,
                                                       "use_sliding_window": True}, "config.json"))
    assert off.arch.n_window_layers == 0
    assert on.arch.layer_types == ("full_attention",) * 3 + ("sliding_attention",)


# ------------------------------------------------------------------ the family table


@pytest.mark.parametrize("switch", [
    {"qk_norm": {"key": "use_qk_norm", "when_true": "sideways"}},
    {"qk_norm": {"key": "use_qk_norm"}},
    {"colour": {"key": "use_qk_norm", "when_true": "none"}},
])
def test_bad_switches_are_refused_at_load(tmp_path, switch):
    table = yaml.safe_load((ROOT / "formulas" / "hf_families_attna.yaml").read_text())
    table["hf_families"]["cohere"]["switches"] = switch
    (tmp_path / "hf_families_attna.yaml").write_text(yaml.safe_dump(table))
    with pytest.raises(ConfigError, match="switches"):
        hf.families(data.root([tmp_path]))
