"""Published parameter counts of the linear-attention hybrids (Kimi Linear, MiniMax),
pinned against figures from outside the engine; sources in the comments and in
tests/sources.md. Tolerances as in test_published_counts.py: exact where the source gives
an integer, else half of the rounded figure's last digit."""

import hashlib
from pathlib import Path

import mfu_sym

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
KIMI = EXAMPLES / "hf" / "kimi_linear_48b_a3b" / "config.json"
MINIMAX = EXAMPLES / "minimax_text_01.yaml"

# Kimi-Linear-48B-A3B-Instruct: the weight statistics of the released checkpoint (20
# safetensors files, 20,493 tensors) total 49,122,681,728 elements (search-index file id
# 62691149540, a model report that prints the downloaded config.json and every tensor's
# shape). 26 of those tensors are the MoE routers' e_score_correction_bias (256 each),
# which transformers registers as buffers, not parameters.
KIMI_SAFETENSORS = 49_122_681_728
KIMI_BUFFERS = 26 * 256
# Model card (huggingface.co/moonshotai/Kimi-Linear-48B-A3B-Instruct, "#Activated Params 3B").
KIMI_ACTIVE, KIMI_ACTIVE_HALF_DIGIT = 3e9, 0.5e9
# MiniMax-Text-01 model card (huggingface.co/MiniMaxAI/MiniMax-Text-01-hf §2): "Total
# Parameters: 456B", "Activated Parameters per Token: 45.9B".
MINIMAX_TOTAL, MINIMAX_TOTAL_HALF_DIGIT = 456e9, 0.5e9
MINIMAX_ACTIVE, MINIMAX_ACTIVE_HALF_DIGIT = 45.9e9, 0.05e9


# SHA-256 of the Hub's config.json as downloaded (examples/hf/SOURCES.md: search-index file
# id 60319887785, a source note recording the hash of .../resolve/main/config.json).
KIMI_CONFIG_SHA256 = "a6ac3c2c4b5aa72370f9727f49ffa4432715d20061889acdb37c688be853096e"


# examples checked against published figures by the tests below (test_published_counts.py)
PINNED = {"hf/kimi_linear_48b_a3b/config.json", "minimax_text_01.yaml"}

def test_kimi_linear_config_is_the_hubs_file_byte_for_byte():
    assert hashlib.sha256(KIMI.read_bytes()).hexdigest() == KIMI_CONFIG_SHA256


def _counts(path):
    model = mfu_sym.load(path)
    return {k: int(model.evaluate(v)) for k, v in model.param_counts().items()}


def test_kimi_linear_total_is_the_checkpoints_less_the_router_buffers():
    assert _counts(KIMI)["total"] == KIMI_SAFETENSORS - KIMI_BUFFERS


def test_kimi_linear_active_parameters_card():
    """The card's 3B is rounded to the billion: the count with the embedding and head
    (3.48B) and without them (2.73B) both round to it."""
    counts = _counts(KIMI)
    assert abs(counts["active"] - KIMI_ACTIVE) <= KIMI_ACTIVE_HALF_DIGIT
    assert abs(counts["active"] - counts["embedding"] - counts["lm_head"] - KIMI_ACTIVE) <= KIMI_ACTIVE_HALF_DIGIT


def test_minimax_text_01_total_card():
    assert abs(_counts(MINIMAX)["total"] - MINIMAX_TOTAL) <= MINIMAX_TOTAL_HALF_DIGIT


def test_minimax_text_01_active_card_counts_no_embedding():
    """45.9B is the activated count without the embedding table and the LM head (with
    them it would be 48.4B): MiniMax counts the layers a token runs through."""
    counts = _counts(MINIMAX)
    assert abs(counts["active"] - counts["embedding"] - counts["lm_head"] - MINIMAX_ACTIVE) <= MINIMAX_ACTIVE_HALF_DIGIT
    assert abs(counts["active"] - MINIMAX_ACTIVE) > MINIMAX_ACTIVE_HALF_DIGIT
