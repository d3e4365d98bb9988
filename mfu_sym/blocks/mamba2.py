"""Mamba-2 (SSD) token mixers: a Mamba-2 layer (Mamba-2, Bamba, Nemotron-H, Granite
4.0-H), and the parallel hybrid of Falcon-H1, where attention and a Mamba-2 layer read
the same normed input side by side and their outputs are summed.

The formulas are in formulas/mamba2.yaml. Four disputed terms choose between them: the
scan (`ssd_scan`: chunked, what transformers' PyTorch path runs, Megatron's 7 d_in N,
none), the inner width in the FLOPs (`ssm_inner`: the model's, or Megatron's 2 d_model),
whether the convolution is counted (`ssd_conv`) and how many outputs it computes
(`conv_outputs`).
"""

from dataclasses import replace

from ..block import Block, Feature
from ..errors import ConfigError
from ..term import Term
from .attention import attention_terms, _elementwise as attention_elementwise

FEATURES = (
    Feature("ssd_in_proj_bias", (False, True), False,
            "a bias on the Mamba-2 input projection (transformers use_bias, mamba_proj_bias)"),
    Feature("ssd_out_proj_bias", (False, True), False,
            "a bias on the Mamba-2 output projection (use_bias; Falcon-H1 projectors_bias)"),
    Feature("ssd_conv_bias", (False, True), True,
            "a bias on the Mamba-2 convolution (use_conv_bias, mamba_conv_bias)"),
    Feature("ssd_gated_norm", (False, True), True,
            "the gated RMSNorm before the Mamba-2 output projection (Falcon-H1 mamba_rms_norm: false replaces "
            "it by the bare gate y * SiLU(z))"),
)
SIZES = ("ssd_inner", "ssd_heads", "ssd_groups", "ssd_state", "ssd_conv_kernel", "ssd_chunk")
VARIANTS = ("ssd_scan", "ssm_inner", "ssd_conv", "conv_outputs")
# Megatron-LM and Megatron-Bridge take a Mamba layer's inner width as 2 x hidden_size
# whatever the model's heads x head_dim (training.py mamba_layer_flops: d_in = 2 * hidden_size).
_MEGATRON_INNER = 2


def _flops_at_inner(formula, library, conventions):
    """`formula` with d_in replaced in its FLOP expressions by the width the `ssm_inner`
    convention bills (its parameters stay the model's)."""
    if conventions.variant("ssm_inner") == "model":
        return formula
    inner = {library.symbol("ssd_inner"): _MEGATRON_INNER * library.symbol("d_model")}
    return replace(formula, forward=formula.forward.xreplace(inner),
                   backward={k: v.xreplace(inner) for k, v in formula.backward.items()},
                   decode=None if formula.decode is None else formula.decode.xreplace(inner))


def mamba2_terms(arch, library, conventions, count, component=""):
    """The projections, convolution, scan, per-head parameters and gated norm of `count`
    Mamba-2 layers, under the conventions' choices for the disputed terms."""
    formulas = library.formulas
    scan = conventions.variant("ssd_scan")
    rows = [("ssd_in_proj", True)]
    if arch.feature("ssd_in_proj_bias"):
        rows.append(("ssd_in_proj_bias", True))
    rows.append((f"ssd_conv_{conventions.variant('conv_outputs')}", conventions.variant("ssd_conv") == "counted"))
    if arch.feature("ssd_conv_bias"):
        rows.append(("ssd_conv_bias", True))
    # "none" keeps the scan's place (and its state cache) with no FLOPs
    rows.append(("ssd_scan_chunked" if scan == "none" else f"ssd_scan_{scan}", scan != "none"))
    rows.append(("ssd_head_params", True))
    if arch.feature("ssd_gated_norm"):
        rows.append(("ssd_gated_norm", True))
    rows.append(("ssd_out_proj", True))
    if arch.feature("ssd_out_proj_bias"):
        rows.append(("ssd_out_proj_bias", True))
    for name, counted in rows:
        yield Term(_flops_at_inner(formulas[name], library, conventions), count, component=component, flops=counted)


def _mamba2_elementwise(arch, library, conventions, count):
    yield Term(library.formulas["ssd_elementwise"], count)
    if arch.feature("ssd_gated_norm"):
        yield Term(library.formulas["ssd_norm_elementwise"], count)


def _hybrid_terms(arch, library, conventions, count, component=""):
    yield from attention_terms(arch, library, conventions, count, "attention", component)
    yield from mamba2_terms(arch, library, conventions, count, component)


def _hybrid_elementwise(arch, library, conventions, count):
    yield from attention_elementwise(arch, library, conventions, count, "attention")
    yield from _mamba2_elementwise(arch, library, conventions, count)


def check(arch, source):
    """Head and group divisibility the layer's reshapes need (transformers fails to build
    or run the layer otherwise)."""
    inner, heads, groups = (arch.size(name) for name in ("ssd_inner", "ssd_heads", "ssd_groups"))
    if inner % heads:
        raise ConfigError(source, "ssd_heads", f"{heads} does not divide ssd_inner ({inner}): the heads split the "
                                               "inner width")
    if heads % groups:
        raise ConfigError(source, "ssd_groups", f"{groups} does not divide ssd_heads ({heads}): B and C are shared "
                                                "by the heads of a group")


BLOCKS = (
    Block(name="mamba2", part="mixer", count_symbol="n_mamba2_layers", sizes=SIZES,
          features=tuple(f.name for f in FEATURES), variants=VARIANTS, check=check,
          description="Mamba-2 (SSD) layer: input projection, depthwise causal convolution, chunked scan, "
                      "gated RMSNorm, output projection",
          terms=mamba2_terms, nonmatmul=_mamba2_elementwise),
    Block(name="mamba2_hybrid", part="mixer", count_symbol="n_mamba2_hybrid_layers", sizes=("n_heads",) + SIZES,
          features=("attention_output_gate", "attention_sinks") + tuple(f.name for f in FEATURES),
          variants=VARIANTS, check=check,
          description="attention and a Mamba-2 layer side by side on the same normed input, outputs summed "
                      "(Falcon-H1's parallel hybrid)",
          terms=_hybrid_terms, nonmatmul=_hybrid_elementwise),
)
