"""Configs read exactly as transformers reads them.

1. The family table (mfu_sym/hf_families.yaml) accounts for every field and every
   attribute_map alias of the installed transformers config classes, with the classes'
   own defaults: a transformers upgrade that adds a field or changes a default fails here.
2. Every model is compared in the forms users have it: as written, with each aliased
   attribute written under its alias, as transformers resolves it (`to_dict()`), and as
   `save_pretrained` writes it. mfu-sym gives the same exact numbers for all of them, and
   they are transformers' own: parameters of the model built from each form, FLOPs
   counted by FlopCounterMode, and the keys each layer's query sees, read from the
   attention masks transformers builds.
"""

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from transformers import CONFIG_MAPPING, AutoConfig, PretrainedConfig

from mfu_sym import hf

from .compare import engine
from .reference import build_model, count_params, measure

HF = Path(__file__).resolve().parents[2] / "examples" / "hf"
FAMILIES = hf.families()
BASE_FIELDS = {f.name for f in dataclasses.fields(CONFIG_MAPPING["llama"].__mro__[1])}


def _fields(cls):
    return {f.name: f for f in dataclasses.fields(cls)}


def _default(field):
    if field.default is not dataclasses.MISSING:
        return field.default
    return field.default_factory()


# ------------------------------------------------------------------ 1. the table


@pytest.mark.parametrize("model_type", list(FAMILIES))
def test_every_field_and_alias_is_accounted_for(model_type):
    cls, family = CONFIG_MAPPING[model_type], FAMILIES[model_type]
    assert cls.__name__ == family["class"]
    fields = set(_fields(cls))
    accounted = hf.field_names(family)
    assert fields - accounted == set(), "fields the table does not account for"
    assert accounted - fields == set(), "table entries that are not fields of the class"
    assert dict(cls.attribute_map) == dict(family.get("aliases") or {}), "attribute_map"
    import inspect
    signature = {name for name, p in inspect.signature(cls.__init__).parameters.items()
                 if p.kind is p.KEYWORD_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and name != "self")}
    assert signature <= accounted, "__init__ parameters the table does not account for"


@pytest.mark.parametrize("model_type", list(FAMILIES))
def test_defaults_are_the_classes_own(model_type):
    cls, family = CONFIG_MAPPING[model_type], FAMILIES[model_type]
    fields = _fields(cls)
    for name, default in (family.get("defaults") or {}).items():
        assert _default(fields[name]) == default, name
    for name, allowed in (family.get("refuse") or {}).items():
        assert _default(fields[name]) in allowed, name
    assert set(family["ignore"]) >= BASE_FIELDS


def test_every_ignored_field_says_why():
    for family in FAMILIES.values():
        for name in family["ignore"]:
            assert len(hf.reasons()[name]) > 10, name


# ------------------------------------------------------------------ 2. the forms

SMALL = dict(hidden_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, vocab_size=96)
CONFIGS = {
    # the class defaults that differ from "derive it": Qwen2/Qwen3 without num_key_value_heads (32, not heads)
    "qwen2-kv-default": {"model_type": "qwen2", "hidden_size": 128, "intermediate_size": 48, "num_hidden_layers": 2,
                         "num_attention_heads": 64, "vocab_size": 64},
    "qwen3-kv-default": {"model_type": "qwen3", "hidden_size": 64, "intermediate_size": 48, "num_hidden_layers": 2,
                         "num_attention_heads": 64, "vocab_size": 64, "head_dim": 4},
    "qwen2-kv-null": {"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 48, "num_hidden_layers": 2,
                      "num_attention_heads": 8, "num_key_value_heads": None, "vocab_size": 64},
    # windows switched on without a width: the class default 4096
    "qwen3_moe-window-default": {"model_type": "qwen3_moe", **SMALL, "intermediate_size": 48, "head_dim": 16,
                                 "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 24,
                                 "use_sliding_window": True},
    "qwen2-window": {"model_type": "qwen2", **SMALL, "intermediate_size": 48, "use_sliding_window": True,
                     "sliding_window": 5, "max_window_layers": 1},
    "qwen3-window-off": {"model_type": "qwen3", **SMALL, "intermediate_size": 48, "head_dim": 16,
                         "use_sliding_window": False, "sliding_window": 5},
    "mistral-window": {"model_type": "mistral", **SMALL, "intermediate_size": 48, "sliding_window": 5},
    "gemma2": {"model_type": "gemma2", **SMALL, "num_hidden_layers": 4, "intermediate_size": 48, "head_dim": 16,
               "sliding_window": 5},
    "gemma3-pattern": {"model_type": "gemma3_text", **SMALL, "num_hidden_layers": 4, "intermediate_size": 48,
                       "head_dim": 16, "sliding_window": 5, "sliding_window_pattern": 2},
    "phi3": {"model_type": "phi3", **SMALL, "intermediate_size": 48, "sliding_window": 7,
             "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2},
    "olmo2": {"model_type": "olmo2", **SMALL, "intermediate_size": 48},
    "llama-bias": {"model_type": "llama", **SMALL, "intermediate_size": 48, "head_dim": 24, "attention_bias": True,
                   "mlp_bias": True},
    "gpt2": {"model_type": "gpt2", "n_embd": 48, "n_layer": 2, "n_head": 4, "vocab_size": 100, "n_positions": 32},
    "gpt2-n-inner": {"model_type": "gpt2", "n_embd": 48, "n_layer": 2, "n_head": 4, "n_inner": 40,
                     "vocab_size": 100, "n_positions": 32},
    "mixtral": {"model_type": "mixtral", **SMALL, "intermediate_size": 40, "num_local_experts": 4,
                "num_experts_per_tok": 2},
    "olmoe": {"model_type": "olmoe", **SMALL, "intermediate_size": 32, "num_experts": 6, "num_experts_per_tok": 2},
    "qwen2_moe": {"model_type": "qwen2_moe", **SMALL, "num_hidden_layers": 4, "intermediate_size": 48,
                  "num_experts": 6, "num_experts_per_tok": 2, "moe_intermediate_size": 24,
                  "shared_expert_intermediate_size": 40, "decoder_sparse_step": 2, "mlp_only_layers": [3]},
    # no experts at all: transformers builds dense MLPs of intermediate_size everywhere
    "qwen2_moe-no-experts": {"model_type": "qwen2_moe", **SMALL, "intermediate_size": 48, "num_experts": 0},
    "qwen3_moe-no-experts": {"model_type": "qwen3_moe", **SMALL, "intermediate_size": 48, "head_dim": 16,
                             "num_experts": 0},
    "qwen3_moe": {"model_type": "qwen3_moe", **SMALL, "intermediate_size": 48, "head_dim": 16, "num_experts": 8,
                  "num_experts_per_tok": 2, "moe_intermediate_size": 24},
    "deepseek_v3": {"model_type": "deepseek_v3", "hidden_size": 64, "intermediate_size": 96,
                    "moe_intermediate_size": 24, "num_hidden_layers": 3, "num_attention_heads": 4,
                    "num_key_value_heads": 4, "n_shared_experts": 2, "n_routed_experts": 8, "n_group": 2,
                    "topk_group": 1, "num_experts_per_tok": 2, "first_k_dense_replace": 1, "q_lora_rank": 32,
                    "kv_lora_rank": 16, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 12,
                    "vocab_size": 128},
    # Kimi-K2 / Moonlight: no MTP module (0 is "none"), no query compression (null)
    "deepseek_v3-no-mtp": {"model_type": "deepseek_v3", "hidden_size": 64, "intermediate_size": 96,
                           "moe_intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 2,
                           "num_key_value_heads": 2, "n_shared_experts": 1, "n_routed_experts": 4, "n_group": 1,
                           "topk_group": 1, "num_experts_per_tok": 2, "first_k_dense_replace": 1,
                           "q_lora_rank": None, "kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8,
                           "v_head_dim": 8, "vocab_size": 64, "num_nextn_predict_layers": 0},
    # every layer dense: transformers builds no expert
    "deepseek_v3-all-dense": {"model_type": "deepseek_v3", "hidden_size": 64, "intermediate_size": 96,
                              "moe_intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 2,
                              "num_key_value_heads": 2, "n_routed_experts": 4, "n_group": 1, "topk_group": 1,
                              "num_experts_per_tok": 2, "first_k_dense_replace": 5, "kv_lora_rank": 16,
                              "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8, "vocab_size": 64},
}
SEQ_LEN = 12  # longer than the small windows, so windows change the causal count
PUBLISHED = sorted(p.name for p in HF.iterdir() if (p / "config.json").exists())
# Conventions under which an example's count is what transformers builds, where that differs
# from the checkpoint's: LongCat-Flash's identity experts get gate/up slots (blocks/moeb.py).
PUBLISHED_CONVENTIONS = {"longcat_flash_chat": {"variants": {"zero_expert_slots": "allocated"}}}
# Published values transformers 5.23's strict config classes refuse, replaced by what they
# mean before transformers reads the file: Llama 4's released configs write
# attn_temperature_tuning as 4, a field now typed bool (it scales NoPE queries: no FLOP).
PUBLISHED_FIXES = {"llama4_scout_17b_16e": lambda config: config["text_config"].update(attn_temperature_tuning=True)}


def _aliased(config):
    """The config with every aliased attribute written under its alias instead."""
    aliases = FAMILIES[config["model_type"]].get("aliases") or {}
    out = dict(config)
    for alias, attribute in aliases.items():
        if attribute in out:
            out[alias] = out.pop(attribute)
    return out


def _forms(config, tmp_path):
    kwargs = {k: v for k, v in config.items() if k != "model_type"}
    resolved = AutoConfig.for_model(config["model_type"], **json.loads(json.dumps(kwargs)))  # nested dicts copied
    directory = tmp_path / "saved"
    resolved.save_pretrained(directory)
    return {"written": config, "aliased": _aliased(config), "resolved": resolved.to_dict(),
            # decoded as from_pretrained reads it ({"__float__": "Infinity"} -> inf)
            "saved": PretrainedConfig._decode_special_floats(json.loads((directory / "config.json").read_text()))}


def _counts(config, tmp_path, **conventions):
    model = engine(config, tmp_path, **conventions)
    report = model.report(seq_len=SEQ_LEN, batch=1)
    return report["params"]["total"], report["flops"]["forward"], report["flops"]["training"]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_small_models_in_every_form(tmp_path, name):
    config = CONFIGS[name]
    measured = measure(config, batch=1, seq_len=SEQ_LEN, attn_implementation="eager")
    causal = None
    for form, data in _forms(config, tmp_path).items():
        assert count_params(build_model(data, attn_implementation="eager", device="meta")) == measured.params, form
        # what FlopCounterMode counts: the full square, eager backward
        assert _counts(data, tmp_path, mask="full", attention_kernel="eager") == (
            measured.params, measured.forward, measured.training), form
        # the exact causal count (windows included) is the same whatever the form
        exact = _counts(data, tmp_path)
        assert causal in (None, exact), form
        causal = exact


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_configs_in_every_form(tmp_path, name):
    config = json.loads((HF / name / "config.json").read_text())
    config.pop("quantization_config", None)  # fp8 weights change bytes, not FLOPs; meta cannot quantize
    PUBLISHED_FIXES.get(name, lambda config: None)(config)
    results = {}
    for form, data in _forms(config, tmp_path).items():
        with torch.device("meta"):
            params = count_params(build_model(data, attn_implementation="eager", device="meta"))
        ours = _counts(data, tmp_path, **PUBLISHED_CONVENTIONS.get(name, {}))
        assert ours[0] == params, form
        results[form] = ours
    assert len(set(results.values())) == 1, results


# ------------------------------------------------------------------ the masks


def _keys_per_layer(config, seq_len):
    """Sum over queries of the keys each layer's attention lets it see, from the masks
    transformers passes to every attention module (eager: additive, 0 = attend)."""
    model = build_model(config, attn_implementation="eager")
    seen = {}

    def capture(index):
        def hook(module, args, kwargs):
            mask = kwargs.get("attention_mask")
            seen[index] = int((mask[0, 0] == 0).sum()) if mask is not None else seq_len * (seq_len + 1) // 2
        return hook

    layers = model.model.layers if hasattr(model, "model") else model.transformer.h
    for i, layer in enumerate(layers):
        attention = getattr(layer, "self_attn", None) or layer.attn
        attention.register_forward_pre_hook(capture(i), with_kwargs=True)
    with torch.no_grad():
        model(torch.zeros(1, seq_len, dtype=torch.long))
    return [seen[i] for i in range(len(layers))]


def _our_keys_per_layer(arch, seq_len):
    kinds = arch.layer_types or ("full_attention",) * arch.n_layers
    return [sum(min(t, arch.window) if kind == "sliding_attention" else t for t in range(1, seq_len + 1))
            for kind in kinds]


@pytest.mark.parametrize("name", [n for n in CONFIGS if "window" in n or n in ("gemma2", "gemma3-pattern", "phi3")])
def test_keys_per_layer_match_transformers_masks(tmp_path, name):
    config = CONFIGS[name]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    import mfu_sym
    arch = mfu_sym.load_architecture(path)
    assert _our_keys_per_layer(arch, SEQ_LEN) == _keys_per_layer(config, SEQ_LEN)
