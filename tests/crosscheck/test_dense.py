"""Exact agreement with what transformers' dense models execute, counted by
PyTorch's FlopCounterMode: parameters, forward, backward and training FLOPs, and the
split by component. The counter computes the full S x S square (masks do not change its
count), so the engine runs with mask=full; eager attention <-> attention_kernel=eager,
the fused CPU SDPA kernel <-> attention_kernel=flash."""

import pytest

from .compare import assert_same, engine
from .reference import measure

SMALL = {
    # GQA, head_dim != hidden / heads, every bias, untied
    "llama-gqa-bias": {"model_type": "llama", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
                       "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 24, "vocab_size": 128,
                       "attention_bias": True, "mlp_bias": True},
    # MQA, tied
    "llama-mqa-tied": {"model_type": "llama", "hidden_size": 48, "intermediate_size": 80, "num_hidden_layers": 2,
                       "num_attention_heads": 6, "num_key_value_heads": 1, "vocab_size": 96,
                       "tie_word_embeddings": True},
    # a sliding window on every layer
    "mistral-window": {"model_type": "mistral", "hidden_size": 64, "intermediate_size": 112, "num_hidden_layers": 2,
                       "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "sliding_window": 6},
    # q/k/v biases, windows from max_window_layers
    "qwen2-window": {"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 3,
                     "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 120,
                     "use_sliding_window": True, "sliding_window": 5, "max_window_layers": 1},
    # per-head q/k norms, head_dim 32 != 64 / 4, tied
    "qwen3-qknorm": {"model_type": "qwen3", "hidden_size": 64, "intermediate_size": 80, "num_hidden_layers": 2,
                     "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32, "vocab_size": 112,
                     "tie_word_embeddings": True},
    # alternating layer types, sandwich norms
    "gemma2-alternating": {"model_type": "gemma2", "hidden_size": 64, "intermediate_size": 96,
                           "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
                           "head_dim": 16, "vocab_size": 128, "sliding_window": 6},
    # explicit layer_types, q/k norms, MQA
    "gemma3-layer-types": {"model_type": "gemma3_text", "hidden_size": 64, "intermediate_size": 96,
                           "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 1,
                           "head_dim": 16, "vocab_size": 128, "sliding_window": 4,
                           "layer_types": ["sliding_attention", "full_attention", "sliding_attention",
                                           "sliding_attention"]},
    # fused qkv_proj and gate_up_proj, a window
    "phi3-fused": {"model_type": "phi3", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
                   "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 128, "sliding_window": 7,
                   "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2},
    # post-norms, full-width q/k norms
    "olmo2-qknorm": {"model_type": "olmo2", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
                     "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 128},
    # Conv1D with biases, LayerNorm, learned positions, tied, n_inner
    "gpt2-biases": {"model_type": "gpt2", "n_embd": 48, "n_layer": 2, "n_head": 4, "n_inner": 72,
                    "vocab_size": 100, "n_positions": 32},
}
SDPA_REFUSED = {"gemma2-alternating"}  # transformers refuses attn_implementation="sdpa" for Gemma 2
SIZES = [(1, 16), (3, 5)]  # (batch, seq_len): longer and shorter than the windows


@pytest.mark.parametrize("batch, seq_len", SIZES)
@pytest.mark.parametrize("implementation, kernel", [("eager", "eager"), ("sdpa", "flash")])
@pytest.mark.parametrize("name", list(SMALL))
def test_small_models_exact(tmp_path, name, implementation, kernel, batch, seq_len):
    if implementation == "sdpa" and name in SDPA_REFUSED:
        pytest.skip("transformers refuses sdpa for this family")
    config = SMALL[name]
    measured = measure(config, batch=batch, seq_len=seq_len, attn_implementation=implementation)
    model = engine(config, tmp_path, mask="full", attention_kernel=kernel)
    assert_same(model, measured, batch=batch, seq_len=seq_len)
