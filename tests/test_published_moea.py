"""Published parameter counts of the MoE group's flagships, against the engine reading
their published config.json (examples/hf/; provenance in examples/hf/SOURCES.md). Sources
beside each figure; tests/sources.md lists them.

Exact where the source gives the integer sum of the checkpoint's tensors; otherwise the
rounded figure within half its last digit."""

from pathlib import Path

import pytest

import mfu_sym

HF = Path(__file__).resolve().parent.parent / "examples" / "hf"


def _count(name, what="total"):
    model = mfu_sym.load(HF / name / "config.json")
    counts = model.param_counts()
    if what == "active_without_embedding":  # "active" without the embedding (a lookup), the LM head in
        return int(model.evaluate(counts["active"] - counts["embedding"]))
    return int(model.evaluate(counts[what]))


PUBLISHED = [
    # openai/gpt-oss-20b: "20.9B total parameters (3.6B active)" (gpt-oss-120b & gpt-oss-20b
    # model card, arXiv:2508.10925, §2.1); "20.9 billion total parameters (with 3.61 billion
    # activated per token)" (a hosting provider's model page); the Hugging Face model card: "21B
    # parameters with 3.6B active parameters". The card's active count includes the
    # unembedding but not the embedding (a lookup).
    ("gpt_oss_20b", "total", 20.9e9, 0.05e9),
    ("gpt_oss_20b", "total", 21e9, 0.5e9),
    ("gpt_oss_20b", "active_without_embedding", 3.61e9, 0.005e9),
    ("gpt_oss_20b", "active_without_embedding", 3.6e9, 0.05e9),
    # arcee-ai/Trinity-Nano-Preview (AFMoE): "Trinity Nano having 6B total parameters with 1B
    # activated per token" (Singh et al., "Arcee Trinity Large Technical Report", February 2026, abstract);
    # "only 800M non-embedding parameters active per token across 56 layers and 128 experts"
    # (Arcee, "The Trinity Manifesto", 2025-12-01): the LM head counted, the embedding (a
    # lookup) not.
    ("trinity_nano", "total", 6e9, 0.5e9),
    ("trinity_nano", "active", 1e9, 0.5e9),
    ("trinity_nano", "active_without_embedding", 0.8e9, 0.05e9),
]
# the examples pinned here (tests/test_published_counts.py checks that every example is pinned somewhere)
PUBLISHED_TOTAL = {f"hf/{name}/config.json": (published, half_digit) for name, what, published, half_digit in PUBLISHED
                   if what == "total"}


@pytest.mark.parametrize("name, what, published, half_digit", PUBLISHED)
def test_published_parameters(name, what, published, half_digit):
    count = _count(name, what)
    assert abs(count - published) <= half_digit, f"{count:,} vs published {published:,.0f} +- {half_digit:,.0f}"


def test_gpt_oss_20b_alternates_sliding_and_full_layers():
    """Model card §2.1: attention alternating between banded-window (128 tokens) and
    fully dense patterns; 24 layers, 32 experts, top 4."""
    from mfu_sym import stack
    arch = mfu_sym.load(HF / "gpt_oss_20b" / "config.json").arch
    assert stack.counts(arch.layers, "mixer") == {"sliding_attention": 12, "attention": 12}
    assert (arch.window, arch.n_experts, arch.top_k) == (128, 32, 4)
