"""Published parameter counts of the DeepSeek-V2-Lite and DeepSeek-V3.2 flagships, against
the engine reading their published config.json (examples/hf/; provenance in
examples/hf/SOURCES.md). Sources beside each figure; tests/sources.md lists them.

DeepSeek-V3.2 is exact: the sum of its checkpoint's tensors (every shape listed by a
published weight report of deepseek-ai/DeepSeek-V3.2, whose total, 685,396,921,376
elements with the FP8 scales, the shapes below reproduce), less what transformers does not
build as parameters: the FP8 scale tensors, the MoE routers' e_score_correction_bias
(a buffer in transformers and in mfu-sym's count), and, for the main model, layer 61 (the
MTP module, which stores its own copies of the embedding and the head)."""

from pathlib import Path

import pytest

import mfu_sym

HF = Path(__file__).resolve().parent.parent / "examples" / "hf"

# Examples pinned here (test_published_counts.py's check that every example has a figure).
PUBLISHED_TOTAL = {"hf/deepseek_v2_lite/config.json": 15.7e9, "hf/deepseek_v32/config.json": 671_877_929_216}

V, D = 129_280, 7168  # DeepSeek-V3.2's vocabulary and hidden size
# One layer's attention and norms, as the checkpoint stores them (weights only, no scales):
# input/post-attention norms; the indexer's k_norm (bias, weight), weights_proj [64, 7168],
# wk [128, 7168], wq_b [8192, 1536]; MLA's kv_a_layernorm [512], kv_a_proj_with_mqa
# [576, 7168], kv_b_proj [32768, 512], o_proj [7168, 16384], q_a_layernorm [1536],
# q_a_proj [1536, 7168], q_b_proj [24576, 1536].
ATTENTION = (2 * D + 2 * 128 + 64 * D + 128 * D + 8192 * 1536 + 512 + 576 * D + 32768 * 512 + D * 16384 + 1536
             + 1536 * D + 24576 * 1536)
DENSE_MLP = 3 * 18432 * D  # layers 0-2: gate, up, down
MOE_MLP = 256 * 3 * 2048 * D + 256 * D + 3 * 2048 * D  # 256 experts, the router, the shared expert
ROUTER_BIAS = 256  # e_score_correction_bias [256] of every MoE layer: a buffer, not a parameter
MTP_LAYER = ATTENTION + MOE_MLP + D * 14336 + 3 * D  # layer 61: + eh_proj, enorm, hnorm, shared_head.norm
CHECKPOINT_MAIN = 2 * V * D + D + 61 * ATTENTION + 3 * DENSE_MLP + 58 * (MOE_MLP + ROUTER_BIAS)


def _count(name, what="total", **options):
    model = mfu_sym.load(HF / name / "config.json", **options)
    return int(model.evaluate(model.param_counts()[what]))


def test_deepseek_v32_checkpoint_tensors_reproduce_the_reports_total():
    """The shapes transcribed above, with the FP8 block scales (weight_scale_inv, one per
    128 x 128 block) and the MTP layer's own embedding and head, sum to the report's
    685,396,921,376: the transcription is the checkpoint's."""
    scales_attention = 56 + 64 * 12 + 5 * 56 + 256 * 4 + 56 * 128 + 12 * 56 + 192 * 12
    scales_moe = 256 * 3 * 56 * 16 + 3 * 56 * 16
    scales = 62 * scales_attention + 3 * 3 * 56 * 144 + 59 * scales_moe
    assert CHECKPOINT_MAIN + MTP_LAYER + ROUTER_BIAS + 2 * V * D + scales == 685_396_921_376


def test_deepseek_v32_main_model_exact():
    assert _count("deepseek_v32") == CHECKPOINT_MAIN - 58 * ROUTER_BIAS == 671_877_929_216


def test_deepseek_v32_with_its_mtp_module_exact():
    """--mtp adds layer 61 without its copies of the embedding and head (shared)."""
    assert _count("deepseek_v32", mtp=True) == CHECKPOINT_MAIN - 58 * ROUTER_BIAS + MTP_LAYER


@pytest.mark.parametrize("published, half_digit", [
    # deepseek-ai/DeepSeek-V2-Lite model card and DeepSeek-V2 (arXiv:2405.04434) App. B:
    # 15.7B total parameters; the Hub's 4 shards, 31.4 GB in bf16, agree.
    (15.7e9, 0.05e9),
    # the model card's table: "16B" total
    (16e9, 0.5e9),
])
def test_deepseek_v2_lite_total(published, half_digit):
    count = _count("deepseek_v2_lite")
    assert abs(count - published) <= half_digit, f"{count:,} vs published {published:,.0f} +- {half_digit:,.0f}"
