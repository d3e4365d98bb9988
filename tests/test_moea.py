"""The MoE group's families without transformers: the model format (layers: groups with
sliding_attention and chunked_attention layers, dense and moe ffns, the expert features
router_bias, expert_bias, expert_activation, expert_input_scaling, attention_sinks,
rotary_layers, qk_l2_norm, lm_head_bias), the disputed expert and chunk terms
(expert_matrices, experts_run, chunked_attention_keys), and every refusal of the HF
readers (formulas/hf_families_moea.yaml, hf_layers/moea.py). Against transformers itself:
tests/crosscheck/test_moea.py."""


import pytest

from cli_helpers import write_model as _write
from cli_helpers import load_model as _load

from cli_helpers import assert_one_error_line, run

D = {"d_model": 64, "vocab_size": 96, "n_heads": 4, "n_kv_heads": 2, "d_head": 16}

# gpt-oss: sliding and full layers alternating, sinks, biases everywhere, clamped SwiGLU experts
GPT_OSS_YAML = {"name": "gpt-oss-like", **D, "norm": "rmsnorm", "mlp": "gated", "expert_mlp": "gated",
                "attention_bias": "all", "window": 5, "n_experts": 4, "top_k": 2, "d_expert": 24,
                "attention_sinks": True, "router_bias": True, "expert_bias": True,
                "expert_activation": "clamped_swiglu",
                "layers": [{"count": 1, "mixer": "sliding_attention", "ffn": "moe"},
                           {"count": 1, "mixer": "attention", "ffn": "moe"}] * 2}
GPT_OSS = {"model_type": "gpt_oss", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2,
           "vocab_size": 96, "num_hidden_layers": 4, "head_dim": 16, "intermediate_size": 24,
           "num_local_experts": 4, "num_experts_per_tok": 2, "sliding_window": 5}

# Llama 4: chunked RoPE layers with the L2 QK norm, a NoPE global layer, MoE every 2nd layer
# with the shared expert, dense layers of intermediate_size_mlp
LLAMA4_YAML = {"name": "llama4-like", **D, "norm": "rmsnorm", "mlp": "gated", "expert_mlp": "gated",
               "d_ff": 40, "attention_chunk": 4, "n_experts": 4, "top_k": 1, "d_expert": 24, "d_shared": 24,
               "expert_input_scaling": True, "rotary_layers": "local", "qk_l2_norm": True,
               "layers": [{"count": 1, "mixer": "chunked_attention", "ffn": "dense"},
                          {"count": 1, "mixer": "chunked_attention", "ffn": "moe"},
                          {"count": 1, "mixer": "chunked_attention", "ffn": "dense"},
                          {"count": 1, "mixer": "attention", "ffn": "moe"}]}
LLAMA4 = {"model_type": "llama4_text", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2,
          "vocab_size": 96, "num_hidden_layers": 4, "head_dim": 16, "intermediate_size": 24,
          "intermediate_size_mlp": 40, "num_local_experts": 4, "num_experts_per_tok": 1, "attention_chunk_size": 4,
          "interleave_moe_layer_step": 2}

# AFMoE: sandwich norms, gated attention with per-head norms, a dense first layer, router bias
AFMOE_YAML = {"name": "afmoe-like", **D, "norm": "rmsnorm", "norm_placement": "sandwich", "mlp": "gated",
              "expert_mlp": "gated", "qk_norm": "per_head", "attention_output_gate": True, "router_bias": True,
              "rotary_layers": "local", "d_ff": 40, "window": 5, "n_experts": 4, "top_k": 2, "d_expert": 24,
              "d_shared": 48,
              "layers": [{"count": 1, "mixer": "sliding_attention", "ffn": "dense"},
                         {"count": 1, "mixer": "attention", "ffn": "moe"},
                         {"count": 1, "mixer": "sliding_attention", "ffn": "moe"},
                         {"count": 1, "mixer": "attention", "ffn": "moe"}]}
AFMOE = {"model_type": "afmoe", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2,
         "vocab_size": 96, "num_hidden_layers": 4, "head_dim": 16, "intermediate_size": 40,
         "moe_intermediate_size": 24, "num_experts": 4, "num_experts_per_tok": 2, "num_shared_experts": 2,
         "sliding_window": 5, "global_attn_every_n_layers": 2}

# Phi-3.5-MoE: LayerNorms, biases, a window on every layer, LM head bias
PHIMOE_YAML = {"name": "phimoe-like", "d_model": 64, "vocab_size": 96, "n_heads": 4, "n_kv_heads": 2,
               "norm": "layernorm", "mlp": "gated", "expert_mlp": "gated", "attention_bias": "all",
               "lm_head_bias": True, "window": 5, "n_experts": 4, "top_k": 2, "d_expert": 24,
               "layers": [{"count": 2, "mixer": "sliding_attention", "ffn": "moe"}]}
PHIMOE = {"model_type": "phimoe", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2,
          "vocab_size": 96, "num_hidden_layers": 2, "intermediate_size": 24, "num_local_experts": 4,
          "num_experts_per_tok": 2, "lm_head_bias": True, "attention_bias": True, "sliding_window": 5}




def _counts(model, seq_len=11, batch=2):
    report = model.report(seq_len=seq_len, batch=batch)
    return report["params"], report["flops"]["forward"], report["flops"]["training"]


# ---------------------------------------------------------------- the model format


@pytest.mark.parametrize("ours, theirs", [(GPT_OSS_YAML, GPT_OSS), (LLAMA4_YAML, LLAMA4), (AFMOE_YAML, AFMOE),
                                          (PHIMOE_YAML, PHIMOE)], ids=["gpt_oss", "llama4", "afmoe", "phimoe"])
def test_a_yaml_model_is_the_hf_config(tmp_path, ours, theirs):
    """The format's layers: groups and flat feature keys give exactly what the HF reader
    gives for the same config (the reader is checked against transformers in the
    crosscheck), under every variant the model reads."""
    yaml_model, hf_model = _load(tmp_path, ours), _load(tmp_path, theirs, "config.json")
    assert yaml_model.arch.layers == hf_model.arch.layers
    assert _counts(yaml_model) == _counts(hf_model)
    assert yaml_model.variants_read(yaml_model.arch) == hf_model.variants_read(hf_model.arch)


def test_the_variants_each_model_reads(tmp_path):
    read = {name: _load(tmp_path, data).variants_read(_load(tmp_path, data).arch)
            for name, data in [("gpt_oss", GPT_OSS_YAML), ("llama4", LLAMA4_YAML), ("afmoe", AFMOE_YAML)]}
    assert "expert_matrices" in read["gpt_oss"] and "experts_run" not in read["gpt_oss"]
    assert {"experts_run", "chunked_attention_keys"} <= set(read["llama4"])
    assert not {"expert_matrices", "experts_run", "chunked_attention_keys"} & set(read["afmoe"])


def test_expert_matrices_two_drops_one_matrix_per_active_expert(tmp_path):
    """Megatron-LM's gpt-oss experts (a two-matrix quick-GeGLU MLP): one d x F matrix
    less per active expert, per token and MoE layer; no parameter changes."""
    three = _load(tmp_path, GPT_OSS_YAML)
    two = _load(tmp_path, GPT_OSS_YAML, variants={"expert_matrices": "two"})
    (p3, f3, t3), (p2, f2, t2) = _counts(three), _counts(two)
    dropped = 2 * 11 * 4 * 2 * (2 * 64 * 24)  # batch, seq, layers, top_k, one matrix
    assert p3 == p2 and f3 - f2 == dropped and t3 - t2 == 3 * dropped


def test_experts_run_all_charges_every_expert(tmp_path):
    """transformers' Llama 4 experts run on every token: E - k more gated experts per
    token and MoE layer than the routed count; parameters unchanged."""
    routed, every = _load(tmp_path, LLAMA4_YAML), _load(tmp_path, LLAMA4_YAML, variants={"experts_run": "all"})
    (pr, fr, _), (pa, fa, _) = _counts(routed), _counts(every)
    assert pr == pa and fa - fr == 2 * 11 * 2 * (4 - 1) * 3 * 2 * 64 * 24


def test_a_variant_the_model_does_not_read_is_refused(tmp_path):
    result = run("derive", _write(tmp_path, PHIMOE_YAML), "--seq-len", 8, "--variant", "expert_matrices=two")
    assert result.exit_code != 0 and "expert_matrices" in result.output
    result = run("derive", _write(tmp_path, GPT_OSS_YAML), "--seq-len", 8, "--variant", "experts_run=all")
    assert result.exit_code != 0 and "experts_run" in result.output


@pytest.mark.parametrize("change, field, message", [
    # expert features describe gated experts
    ({"expert_mlp": "plain", "expert_activation": "swiglu"}, "expert_bias", "expected expert_mlp: gated"),
    ({"expert_mlp": "plain", "expert_bias": False}, "expert_activation", "expected expert_mlp: gated"),
    ({"expert_activation": "geglu"}, "expert_activation", "geglu"),
    ({"router_bias": "yes"}, "router_bias", "yes"),
])
def test_the_format_refuses(tmp_path, change, field, message):
    data = {**GPT_OSS_YAML, **change}
    result = run("derive", _write(tmp_path, data), "--seq-len", 8)
    assert_one_error_line(result, field, message)


# ---------------------------------------------------------------- the HF readers' refusals


@pytest.mark.parametrize("config, field, message", [
    # sparsemixer routes to exactly two experts
    ({**PHIMOE, "num_experts_per_tok": 3}, "num_experts_per_tok", "3"),
    # layer_types: one per layer, of the kinds the family builds
    ({**GPT_OSS, "layer_types": ["sliding_attention", "full_attention"]}, "layer_types", "has 2 entries"),
    ({**GPT_OSS, "layer_types": ["sliding_attention", "chunked_attention"] * 2}, "layer_types[1]",
     "chunked_attention"),
    ({**GPT_OSS, "sliding_window": None}, "sliding_window", "null or missing"),
    ({**AFMOE, "global_attn_every_n_layers": 0}, "global_attn_every_n_layers", "0"),
    ({**AFMOE, "num_dense_layers": None}, "num_dense_layers", "null or missing"),
    # Llama 4: RoPE exactly on the chunked layers, lists of the right shape
    ({**LLAMA4, "layer_types": ["full_attention"] * 4}, "layer_types[0]", "no_rope_layers[0] is 1"),
    ({**LLAMA4, "no_rope_layers": [1, 1, 2, 0]}, "no_rope_layers[2]", "2 (expected 0 or 1)"),
    ({**LLAMA4, "no_rope_layers": [1, 0]}, "no_rope_layers", "has 2 entries"),
    ({**LLAMA4, "moe_layers": 3}, "moe_layers", "expected a list of layer indices"),
    ({**LLAMA4, "moe_layers": [1, "3"]}, "moe_layers[1]", "is not a layer index"),
    ({**LLAMA4, "attention_chunk_size": None}, "attention_chunk_size", "null or missing"),
    ({**LLAMA4, "interleave_moe_layer_step": 0}, "interleave_moe_layer_step", "0"),
    # the composite config's text part
    ({"model_type": "llama4", "text_config": [1]}, "text_config", "expected a JSON object"),
    ({"model_type": "llama4", "text_config": {**LLAMA4, "no_rope_layers": [1, 0]}}, "text_config.no_rope_layers",
     "has 2 entries"),
], ids=lambda value: None)
def test_hf_refusals(tmp_path, config, field, message):
    result = run("derive", _write(tmp_path, config, "config.json"), "--seq-len", 8)
    assert_one_error_line(result, field, message)


def test_the_composite_llama4_is_its_text_config(tmp_path):
    """Llama4ForCausalLM is built from text_config alone: the vision tower and the
    multimodal token ids change nothing."""
    composite = {"model_type": "llama4", "text_config": LLAMA4, "vision_config": {"hidden_size": 8},
                 "image_token_index": 5, "boi_token_index": 6}
    assert _counts(_load(tmp_path, composite, "config.json")) == _counts(_load(tmp_path, LLAMA4, "config.json"))
