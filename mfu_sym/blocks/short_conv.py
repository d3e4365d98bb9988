"""Gated short-convolution mixers: LFM2's "double-gated" conv blocks
(formulas/short_conv.yaml).

A layer is in_proj (d_model -> 3 d_model: B, C, x), the input gate B * x, a depthwise
causal conv of short_conv_kernel taps, the output gate C * conv, and out_proj. The conv
is counted as conv_outputs says (one output per token, or nn.Conv1d's padded
seq_len + K - 1). Decoding keeps the last K inputs (a state), no per-position cache.
"""

from ..block import Block, Feature
from ..term import Term

FEATURES = (
    Feature("short_conv_bias", (False, True), False,
            "biases on the short-conv block's in_proj, conv and out_proj (LFM2 conv_bias)"),
)


def short_conv_terms(arch, library, conventions, count, component=""):
    formulas = library.formulas
    conv = "short_conv_conv_padded" if conventions.variant("conv_outputs") == "padded" else "short_conv_conv"
    names = ["short_conv_in_proj", conv, "short_conv_out_proj"]
    if arch.feature("short_conv_bias"):
        names.append("short_conv_bias")
    for name in names:
        yield Term(formulas[name], count, component=component)


def _elementwise(arch, library, conventions, count):
    yield Term(library.formulas["short_conv_gates"], count)


BLOCKS = (
    Block(name="short_conv", part="mixer", count_symbol="n_short_conv_layers",
          description="gated short convolution (LFM2): in_proj to B, C, x; B * x; a depthwise causal conv; "
                      "C * conv; out_proj",
          sizes=("short_conv_kernel",), variants=("conv_outputs",), features=("short_conv_bias",),
          terms=short_conv_terms, nonmatmul=_elementwise),
)
