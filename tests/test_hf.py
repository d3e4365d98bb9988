"""Hugging Face config import: published configs run as published, agree with the
project's YAML of the same model, and bad configs give clear errors."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import mfu_sym
from mfu_sym.cli import main
from mfu_sym.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DENSE = ["llama3_8b", "llama3_70b", "llama3_405b", "llama2_7b", "mistral_7b", "qwen2_5_7b", "qwen3_8b",
         "qwen3_0_6b", "gemma2_9b", "gemma3_1b", "gemma3_27b", "phi3_mini", "olmo2_7b", "gpt2"]
PAIRS = {"gpt2": "gpt2_124m"}


@pytest.mark.parametrize("name", DENSE)
def test_published_configs_run_unedited(name):
    result = CliRunner().invoke(main, ["derive", str(EXAMPLES / "hf" / name / "config.json"), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["params"]["total"] > 0


@pytest.mark.parametrize("name", ["llama3_8b", "llama3_70b", "llama3_405b", "llama2_7b", "mistral_7b",
                                  "qwen3_8b", "qwen3_0_6b", "gemma3_1b", "gemma3_27b", "gpt2"])
def test_yaml_example_and_published_config_describe_the_same_model(name):
    yaml_model = mfu_sym.load(EXAMPLES / f"{PAIRS.get(name, name)}.yaml")
    hf_model = mfu_sym.load(EXAMPLES / "hf" / name / "config.json")
    for model in (yaml_model, hf_model):
        model.report_ = model.report(seq_len=4096, batch=2)
    assert yaml_model.report_["params"] == hf_model.report_["params"]
    assert yaml_model.report_["flops"]["training"] == hf_model.report_["flops"]["training"]


def test_llama3_8b_published_config_parameter_count():
    model = mfu_sym.load(EXAMPLES / "hf" / "llama3_8b" / "config.json")
    assert model.evaluate(model.params()) == 8_030_261_248


def test_missing_fields_take_the_transformers_defaults(tmp_path):
    # Gemma3TextConfig: vocab_size 262208, head_dim 256, sliding_window 4096, pattern 6.
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "gemma3_text", "num_hidden_layers": 12}))
    arch = mfu_sym.load_architecture(path)
    assert (arch.vocab_size, arch.d_head, arch.window) == (262208, 256, 4096)
    assert [i for i, kind in enumerate(arch.layer_types) if kind == "full_attention"] == [5, 11]


@pytest.mark.parametrize("config, window, sliding", [
    ({"model_type": "qwen2", "use_sliding_window": True, "sliding_window": 64, "max_window_layers": 2,
      "num_hidden_layers": 4}, 64, [False, False, True, True]),
    ({"model_type": "qwen2", "use_sliding_window": False, "sliding_window": 64, "num_hidden_layers": 4}, 0, []),
    ({"model_type": "mistral", "sliding_window": None, "num_hidden_layers": 2}, 0, []),
    ({"model_type": "mistral", "num_hidden_layers": 2}, 4096, [True, True]),
    ({"model_type": "gemma2", "num_hidden_layers": 4}, 4096, [True, False, True, False]),
    ({"model_type": "gemma2", "num_hidden_layers": 2, "layer_types": ["full_attention", "sliding_attention"]},
     4096, [False, True]),
    ({"model_type": "phi3", "sliding_window": 2047, "num_hidden_layers": 2}, 2047, [True, True]),
])
def test_window_rules_follow_each_family(tmp_path, config, window, sliding):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    arch = mfu_sym.load_architecture(path)
    assert arch.window == window
    assert [kind == "sliding_attention" for kind in arch.layer_types] == (sliding or [False] * arch.n_layers)


def test_biases_per_family(tmp_path):
    def arch(config):
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        return mfu_sym.load_architecture(path)
    assert arch({"model_type": "qwen2"}).attention_bias == "qkv"
    assert arch({"model_type": "llama", "attention_bias": True, "mlp_bias": True}).attention_bias == "all"
    assert arch({"model_type": "llama", "mlp_bias": True}).mlp_bias is True
    assert arch({"model_type": "gpt2"}).attention_bias == "all"
    assert arch({"model_type": "gpt2", "n_inner": 100}).d_ff == 100
    assert arch({"model_type": "gpt2"}).d_ff == 3072


@pytest.mark.parametrize("config, field, message", [
    ({"model_type": "resnet"}, "model_type", "unknown model_type 'resnet'"),
    ({"model_type": "bert"}, "model_type", "'bert' is not supported by mfu-sym: a bidirectional encoder"),
    ({"model_type": "lama"}, "model_type", "did you mean llama"),
    ({"hidden_size": 8}, "model_type", "missing"),
    # Gemma 3's multimodal config is read through its text_config (tests/test_vlm_decoders.py)
    ({"model_type": "gemma3", "text_config": [1]}, "text_config", "expected a JSON object"),
    ({"model_type": "llama", "hidden_size": -8}, "hidden_size", "not positive"),
    ({"model_type": "llama", "hidden_size": 64.5}, "hidden_size", "not a positive integer"),
    ({"model_type": "llama", "hidden_size": "64"}, "hidden_size", "not a positive integer"),
    ({"model_type": "llama", "num_key_value_heads": 5}, "n_kv_heads", "not divisible by n_kv_heads (5)"),
    ({"model_type": "mistral", "sliding_window": 0}, "sliding_window", "not positive"),
    ({"model_type": "mistral", "sliding_window": -4}, "sliding_window", "not positive"),
    ({"model_type": "gemma2", "layer_types": ["full_attention"]}, "layer_types", "one per layer"),
    ({"model_type": "gemma2", "layer_types": ["global"] * 26}, "layer_types[0]", "expected full_attention"),
    ({"model_type": "gemma2", "use_bidirectional_attention": True}, "use_bidirectional_attention",
     "not supported"),
    ({"model_type": "gpt2", "add_cross_attention": True}, "add_cross_attention", "not supported"),
    ({"model_type": "llama", "tie_word_embeddings": "yes"}, "tie_word_embeddings", "not true or false"),
    ({"model_type": "llama", "attention_bias": 1}, "attention_bias", "not true or false"),
    ({"model_type": "llama", "hidden_act": "prelu"}, "hidden_act", "'prelu' is not supported by mfu-sym for "
     "LlamaConfig: nn.PReLU holds one learned slope"),
    ({"model_type": "gpt2", "activation_function": "xielu"}, "activation_function", "XIELUActivation holds two"),
    ({"model_type": "gemma", "hidden_act": "prelu"}, "hidden_act", "nn.PReLU"),
    ({"model_type": "gemma2", "hidden_activation": "prelu"}, "hidden_activation", "nn.PReLU"),
    ({"model_type": "qwen2", "use_sliding_window": True, "max_window_layers": -1}, "max_window_layers",
     "-1 is negative"),
])
def test_bad_configs(tmp_path, config, field, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    result = CliRunner().invoke(main, ["derive", str(path), "--seq-len", "16"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: {path}: {field}: ")
    assert message is None or message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("text, message", [("[1, 2]", "expected a JSON object, got a JSON array"),
                                           ("{", "invalid JSON"), ('"llama"', "got a JSON string")])
def test_not_a_config_object(tmp_path, text, message):
    path = tmp_path / "weird-name.json"  # any .json is read as an HF config
    path.write_text(text)
    result = CliRunner().invoke(main, ["derive", str(path)])
    assert result.exit_code == 1 and message in result.output


def test_an_odd_file_name_is_still_a_config(tmp_path):
    path = tmp_path / "my model.JSON"
    path.write_text(json.dumps({"model_type": "llama", "num_hidden_layers": 1}))
    assert mfu_sym.load_architecture(path).n_layers == 1
    with pytest.raises(ConfigError):
        mfu_sym.load_architecture(tmp_path / "missing.json")


# ---- configs as transformers 5 writes them (attribute_map aliases), and its defaults

HF_DIR = EXAMPLES / "hf"


def _load_config(tmp_path, config, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return mfu_sym.load(path)


def _params(model):
    return model.evaluate(model.params())


@pytest.mark.parametrize("example, renames, total", [
    # Mixtral-8x7B: model card 46.7B; the exact count is transformers' (tests/crosscheck)
    ("mixtral_8x7b", {"num_local_experts": "num_experts"}, 46_702_792_704),
    # Qwen3-30B-A3B as save_pretrained writes it: num_local_experts, not num_experts
    ("qwen3_30b_a3b", {"num_experts": "num_local_experts"}, 30_532_122_624),
    ("deepseek_v3", {"n_routed_experts": "num_local_experts", "num_nextn_predict_layers": "num_mtp_layers"},
     671_026_404_352),
    ("olmoe_1b_7b", {"num_experts": "num_local_experts"}, 6_919_161_856),
    ("gpt2", {"n_embd": "hidden_size", "n_layer": "num_hidden_layers", "n_head": "num_attention_heads",
              "n_positions": "max_position_embeddings"}, 124_439_808),
])
def test_attribute_map_aliases_are_read(tmp_path, example, renames, total):
    config = json.loads((HF_DIR / example / "config.json").read_text())
    assert _params(_load_config(tmp_path, config, "as_published.json")) == total
    for attribute, alias in renames.items():
        config[alias] = config.pop(attribute)
    assert _params(_load_config(tmp_path, config, "aliased.json")) == total


def test_an_alias_and_its_attribute_must_agree(tmp_path):
    config = json.loads((HF_DIR / "qwen3_30b_a3b" / "config.json").read_text())
    config["num_local_experts"] = 64
    with pytest.raises(ConfigError, match="num_local_experts: 64, but num_experts .* is 128"):
        _load_config(tmp_path, config)
    config["num_local_experts"] = 128  # the same value twice is fine
    assert _params(_load_config(tmp_path, config)) == 30_532_122_624


def test_a_null_alias_beside_its_value_is_what_to_dict_writes(tmp_path):
    config = json.loads((HF_DIR / "qwen3_30b_a3b" / "config.json").read_text())
    config["num_local_experts"] = config["num_experts"]
    config["num_experts"] = None
    assert _params(_load_config(tmp_path, config)) == 30_532_122_624


def test_class_defaults_that_are_not_derived(tmp_path):
    # Qwen2Config / Qwen3Config default num_key_value_heads to 32, not to num_attention_heads
    for model_type in ("qwen2", "qwen3"):
        arch = _load_config(tmp_path, {"model_type": model_type, "num_attention_heads": 64,
                                       "hidden_size": 4096}).arch
        assert arch.n_kv_heads == 32
    # an explicit null is derived by __post_init__
    assert _load_config(tmp_path, {"model_type": "qwen2", "num_attention_heads": 64,
                                   "num_key_value_heads": None}).arch.n_kv_heads == 64
    # Qwen3-MoE: use_sliding_window without a width takes the class default, 4096, on every layer
    arch = _load_config(tmp_path, {"model_type": "qwen3_moe", "num_hidden_layers": 3,
                                   "use_sliding_window": True}).arch
    assert (arch.window, arch.layer_types) == (4096, ("sliding_attention",) * 3)


def test_zero_means_none_where_transformers_reads_it_so(tmp_path):
    config = json.loads((HF_DIR / "deepseek_v3" / "config.json").read_text())
    config["num_nextn_predict_layers"] = 0  # Kimi-K2, Moonlight
    model = _load_config(tmp_path, config)
    assert model.arch.n_mtp_layers == 0 and not model.mtp_terms
    dense = _load_config(tmp_path, {"model_type": "qwen2_moe", "num_experts": 0, "num_hidden_layers": 4})
    assert dense.arch.n_experts == 0 and "experts" not in dense.components and "mlp" in dense.components
    all_dense = _load_config(tmp_path, {"model_type": "deepseek_v3", "num_hidden_layers": 2,
                                        "first_k_dense_replace": 3})
    assert all_dense.arch.n_experts == 0 and "experts" not in all_dense.components


def test_keys_transformers_does_not_read_are_noted_not_guessed(tmp_path):
    model = _load_config(tmp_path, {"model_type": "llama", "num_experts": 8, "num_hidden_layers": 2})
    assert model.arch.n_experts == 0  # LlamaForCausalLM is dense whatever the file says
    assert any("num_experts: not a field of transformers' LlamaConfig" in note for note in model.arch.notes)


def test_config_json_gives_no_run_length(tmp_path):
    model = mfu_sym.load(HF_DIR / "llama3_8b" / "config.json")
    with pytest.raises(mfu_sym.UsageError, match="no sequence length: give --seq-len.*longest context is 8,192"):
        model.evaluate(model.training())
    with pytest.raises(mfu_sym.UsageError, match="no sequence length"):
        model.report()
    report = model.report(context_ok=True)  # what `derive` does, saying so
    assert report["run"]["seq_len"] == 8192 and report["run"]["seq_len_from"].startswith("max_position_embeddings")
    assert "not the length of a training run" in report["notes"][0]


@pytest.mark.parametrize("config, field, message", [
    ({"model_type": ["llama"]}, "model_type", "expected text"),
    ({"model_type": 7}, "model_type", "expected text"),
    ({"model_type": "llama", "_name_or_path": ["x"]}, "_name_or_path", "expected text"),
    ({"model_type": "llama", "num_hidden_layers": 2**63}, "num_hidden_layers", "too large"),
    ({"model_type": "mistral", "num_hidden_layers": 10**9}, "num_hidden_layers", "too large"),
    ({"model_type": "gemma3_text", "num_hidden_layers": 10**9}, "num_hidden_layers", "too large"),
    ({"model_type": "llama", "hidden_size": 10**30}, "hidden_size", "too large"),
    ({"model_type": "llama", "num_attention_heads": 0}, "num_attention_heads", "not positive"),
    ({"model_type": "mistral", "sliding_window": 0}, "sliding_window", "not positive"),
])
def test_more_bad_configs(tmp_path, config, field, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=message) as info:
        mfu_sym.load_architecture(path)
    assert info.value.field == field


def test_names_from_files_cannot_carry_control_characters(tmp_path):
    arch = _load_config(tmp_path, {"model_type": "llama", "num_hidden_layers": 2,
                                   "_name_or_path": "evil\n\\input{/etc/passwd}\x1b[31m"}).arch
    assert arch.name == "evil\\n\\input{/etc/passwd}\\x1b[31m"


@pytest.mark.parametrize("change, field, message", [
    ({"when_true": {"use_bidirectional_attention": 5}}, "when_true.use_bidirectional_attention",
     "expected a mapping of attribute -> expression"),
    ({"when_true": {"use_bidirectonal_attention": {"sliding_window": "sliding_window"}}},
     "when_true.use_bidirectonal_attention", "not an attribute the family reads"),
    ({"when_true": {"use_bidirectional_attention": {"sliding_window": "windw + 1"}}},
     "when_true.sliding_window", "names 'windw', which the family does not read"),
    ({"when_true": {"use_bidirectional_attention": {"sliding_window": "floor(sliding_window /"}}},
     "when_true.sliding_window", "is not an expression"),
    ({"absent": {"head_dim": "hidden_size //// 2"}}, "absent.head_dim", "is not an expression"),
])
def test_bad_family_rules_are_refused_at_load(tmp_path, change, field, message):
    """A family table (a --formulas directory may replace one) is checked when it is read."""
    import yaml

    from mfu_sym import data, hf
    root = Path(__file__).resolve().parent.parent
    table = yaml.safe_load((root / "formulas" / "hf_families.yaml").read_text())
    table["hf_families"]["gemma3_text"].update(change)
    (tmp_path / "hf_families.yaml").write_text(yaml.safe_dump(table))
    with pytest.raises(ConfigError) as error:
        hf.families(data.root([tmp_path]))
    assert str(error.value.field).endswith(field) and message in error.value.message


@pytest.mark.parametrize("section, message", [
    ({"keys": "hidden_act"}, "keys"),
    ({"keys": ["hidden_act"], "with_parameters": ["prelu"]}, "with_parameters"),
])
def test_a_bad_activation_table_is_refused(tmp_path, section, message):
    import yaml

    from mfu_sym import data, hf
    root = Path(__file__).resolve().parent.parent
    table = yaml.safe_load((root / "formulas" / "hf_families.yaml").read_text())
    table["hf_activations"] = section
    (tmp_path / "hf_families.yaml").write_text(yaml.safe_dump(table))
    with pytest.raises(ConfigError, match=message):
        hf.activations(data.root([tmp_path]))


def test_a_tower_must_be_an_ignored_field(tmp_path):
    import yaml

    from mfu_sym import data, hf
    root = Path(__file__).resolve().parent.parent
    table = yaml.safe_load((root / "formulas" / "hf_families_gdn.yaml").read_text())
    table["hf_families"]["qwen3_5"]["towers"] = ["vision_config", "audio_config"]
    (tmp_path / "hf_families_gdn.yaml").write_text(yaml.safe_dump(table))
    with pytest.raises(ConfigError, match="towers: 'audio_config' is not among the ignored fields"):
        hf.families(data.root([tmp_path]))
