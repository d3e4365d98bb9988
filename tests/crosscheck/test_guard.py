"""The traps where FlopCounterMode silently counts zero are charged, and the guard that
every matmul-like op was counted really fires."""

import pytest
import torch

from .reference import UncountedMatmulError, _counted, measure

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


def test_grouped_mm_experts_are_charged_as_the_per_expert_loop():
    """Trap 2: transformers' default grouped_mm experts path (aten._grouped_mm) counts 0 in
    torch; charged, forward and backward equal the eager loop's mm FLOPs exactly."""
    grouped = measure(MIXTRAL, batch=2, seq_len=8, experts_implementation="grouped_mm")
    loop = measure(MIXTRAL, batch=2, seq_len=8, experts_implementation="eager")
    assert grouped.by_op["forward"]["_grouped_mm"] > 0 and "_grouped_mm" not in loop.by_op["forward"]
    assert (grouped.forward, grouped.backward) == (loop.forward, loop.backward)
    # 2 tokens x 8 x top-2 rows through three 32 x 48 matrices: 2 * 32 rows * 32 * 48 * 3
    assert grouped.by_op["forward"]["_grouped_mm"] == 2 * (2 * 8 * 2) * 32 * 48 * 3


def test_an_uncounted_matmul_like_op_is_refused_not_counted_as_zero():
    with pytest.raises(UncountedMatmulError, match="linalg_inv"):
        with _counted("inverse"):
            torch.linalg.inv(torch.eye(3) * 2)
