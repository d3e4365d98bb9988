"""Mixture-of-experts and MLA families against transformers under FlopCounterMode:
exact parameters, forward and training FLOPs, and router / routed / shared experts
component by component. The experts run through a path the counter sees (the eager
per-expert loop on the CPU, batched_mm on meta; see reference.py)."""

import json
from pathlib import Path

import pytest

from .compare import assert_same, engine
from .reference import measure

SMALL = {
    "mixtral": {"model_type": "mixtral", "hidden_size": 64, "intermediate_size": 80, "num_hidden_layers": 2,
                "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 128, "num_local_experts": 4,
                "num_experts_per_tok": 2},
    "mixtral-window": {"model_type": "mixtral", "hidden_size": 64, "intermediate_size": 48, "num_hidden_layers": 2,
                       "num_attention_heads": 4, "num_key_value_heads": 1, "vocab_size": 96,
                       "num_local_experts": 3, "num_experts_per_tok": 3, "sliding_window": 5},
    # shared expert + its sigmoid gate, a dense layer from mlp_only_layers, MoE every 2nd layer
    "qwen2_moe": {"model_type": "qwen2_moe", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 4,
                  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 128, "num_experts": 6,
                  "num_experts_per_tok": 2, "moe_intermediate_size": 32, "shared_expert_intermediate_size": 40,
                  "decoder_sparse_step": 1, "mlp_only_layers": [2]},
    "qwen2_moe-step2": {"model_type": "qwen2_moe", "hidden_size": 64, "intermediate_size": 96,
                        "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 4,
                        "vocab_size": 128, "num_experts": 4, "num_experts_per_tok": 1,
                        "moe_intermediate_size": 32, "shared_expert_intermediate_size": 24,
                        "decoder_sparse_step": 2},
    "qwen3_moe": {"model_type": "qwen3_moe", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
                  "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 24, "vocab_size": 128,
                  "num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 32},
    "olmoe": {"model_type": "olmoe", "hidden_size": 64, "intermediate_size": 32, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 128, "num_experts": 8,
              "num_experts_per_tok": 2},
    # MLA with q compression, shared experts, a dense first layer
    "deepseek_v3": {"model_type": "deepseek_v3", "hidden_size": 64, "intermediate_size": 96,
                    "moe_intermediate_size": 24, "num_hidden_layers": 3, "num_attention_heads": 4,
                    "num_key_value_heads": 4, "n_shared_experts": 2, "n_routed_experts": 8, "n_group": 2,
                    "topk_group": 1, "num_experts_per_tok": 2, "first_k_dense_replace": 1, "q_lora_rank": 32,
                    "kv_lora_rank": 16, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 12,
                    "vocab_size": 128},
    # MLA without q compression
    "deepseek_v3-no-q-lora": {"model_type": "deepseek_v3", "hidden_size": 64, "intermediate_size": 96,
                              "moe_intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 2,
                              "num_key_value_heads": 2, "n_shared_experts": 1, "n_routed_experts": 4,
                              "n_group": 1, "topk_group": 1, "num_experts_per_tok": 4,
                              "first_k_dense_replace": 0, "q_lora_rank": None, "kv_lora_rank": 16,
                              "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8, "vocab_size": 64},
}
# CPU SDPA runs its math kernel (counted like eager) when d_v != d_qk, as in MLA.
MATH_KERNEL = {"deepseek_v3", "deepseek_v3-no-q-lora"}
SIZES = [(1, 12), (2, 5)]


@pytest.mark.parametrize("batch, seq_len", SIZES)
@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("name", list(SMALL))
def test_small_moe_models_exact(tmp_path, name, implementation, batch, seq_len):
    config = SMALL[name]
    kernel = "eager" if implementation == "eager" or name in MATH_KERNEL else "flash"
    measured = measure(config, batch=batch, seq_len=seq_len, attn_implementation=implementation)
    model = engine(config, tmp_path, mask="full", attention_kernel=kernel)
    assert_same(model, measured, batch=batch, seq_len=seq_len)


HF = Path(__file__).resolve().parents[2] / "examples" / "hf"


@pytest.mark.parametrize("name, seq_len", [("deepseek_v3", 4096), ("mixtral_8x7b", 4096),
                                           ("qwen3_30b_a3b", 4096), ("olmoe_1b_7b", 4096),
                                           ("qwen1_5_moe_a2_7b", 4096)])
def test_published_moe_configs_at_full_size(tmp_path, name, seq_len):
    config = json.loads((HF / name / "config.json").read_text())
    config.pop("quantization_config", None)  # fp8 weights change bytes, not FLOPs; meta cannot quantize
    measured = measure(config, batch=1, seq_len=seq_len, attn_implementation="eager", device="meta")
    model = engine(config, tmp_path, mask="full", attention_kernel="eager")
    assert_same(model, measured, batch=1, seq_len=seq_len)
