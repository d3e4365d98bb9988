"""Published parameter counts of the Mamba-2 (SSD) flagships, against the engine reading
their published config.json (examples/hf/; provenance in examples/hf/SOURCES.md). Sources
beside each figure; tests/sources.md lists them.

Exact where the source gives the integer sum of the checkpoint's tensors."""

from pathlib import Path

import pytest

import mfu_sym
from mfu_sym import stack

HF = Path(__file__).resolve().parent.parent / "examples" / "hf"


# examples/ path -> (kind, published total, tolerance), as tests/test_published_counts.py
# reads it (its _pinned_elsewhere)
PUBLISHED_TOTAL = {
    # nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16: model.safetensors.index.json metadata
    # "total_parameters" 31,577,937,344 (tests/sources.md), the Hub's safetensors total.
    "hf/nemotron3_nano_30b_a3b/config.json": ("exact", 31_577_937_344, 0),
    # ibm-ai-platform/Bamba-9B (first published as ibm-fms/Bamba-9B): "Bamba 9B (9.78B)",
    # transformers' model documentation (model_doc/bamba, BambaConfig table) and the model
    # card; rounded to 0.01B, so within half its last digit (tests/sources.md).
    "hf/bamba_9b/config.json": ("rounded", 9_780_000_000, 5_000_000),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_TOTAL))
def test_published_parameters(name):
    kind, published, tolerance = PUBLISHED_TOTAL[name]
    model = mfu_sym.load(HF.parent / name)
    assert abs(int(model.evaluate(model.param_counts()["total"])) - published) <= tolerance


def test_nemotron3_nano_layers():
    """The pattern MEMEM*EMEMEM*... of 52 blocks: 23 Mamba-2, 6 attention, 23 MoE."""
    arch = mfu_sym.load(HF / "nemotron3_nano_30b_a3b" / "config.json").arch
    assert stack.counts(arch.layers, "mixer") == {"mamba2": 23, "attention": 6, "none": 23}
    assert stack.counts(arch.layers, "ffn") == {"none": 29, "latent_moe": 23}


def test_bamba_9b_layers():
    """attn_layer_indices [9, 18, 27]: 3 attention layers, 29 Mamba-2, a SwiGLU MLP in each."""
    arch = mfu_sym.load(HF / "bamba_9b" / "config.json").arch
    assert stack.counts(arch.layers, "mixer") == {"mamba2": 29, "attention": 3}
    assert stack.counts(arch.layers, "ffn") == {"dense": 32}
