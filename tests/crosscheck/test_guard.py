"""The two traps where FlopCounterMode silently counts zero are handled, and the guard
that every matmul-like op was counted really fires."""

import pytest

from .reference import UncountedMatmulError, measure

LLAMA = {"model_type": "llama", "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1,
         "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 64}
MIXTRAL = {"model_type": "mixtral", "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1,
           "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 64, "num_local_experts": 4,
           "num_experts_per_tok": 2}


def test_cpu_sdpa_kernel_is_charged():
    """Trap 1: the CPU flash SDPA op is not in torch's registry; the harness charges it."""
    measured = measure(LLAMA, batch=1, seq_len=8, attn_implementation="sdpa")
    op = "_scaled_dot_product_flash_attention_for_cpu"
    assert measured.by_op["forward"][op] == 4 * 1 * 2 * 8 * 8 * 16  # 4*B*H*S^2*d_head
    assert measured.by_op["backward"][op + "_backward"] == 2 * 1 * 2 * 8 * 8 * (3 * 16 + 2 * 16)


def test_grouped_mm_experts_are_refused_not_counted_as_zero():
    """Trap 2: transformers' default grouped_mm experts path is invisible to the counter."""
    with pytest.raises(UncountedMatmulError, match="_grouped_mm"):
        measure(MIXTRAL, batch=1, seq_len=4, experts_implementation="grouped_mm")
