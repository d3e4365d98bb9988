"""Mamba (Mamba-1) selective state-space mixers: Mamba, Falcon-Mamba and Jamba's Mamba
layers (formulas/mamba.yaml).

A layer is in_proj, a depthwise causal conv, x_proj (dt, B, C), dt_proj, the selective
scan, and out_proj. The scan is counted as the variant mamba_scan says (default: the
rank-1 update of the d_in x N state and its read-out, 2 FLOPs per multiply-add); the
conv by conv_outputs (one output per token, or nn.Conv1d's padded seq_len + K - 1).
Decoding keeps a conv state and the d_in x N recurrent state (kv_cache entries of the
formula file), never a per-position cache.
"""

from ..block import Block, Feature
from ..term import Term

FEATURES = (
    Feature("mamba_conv_bias", (False, True), True,
            "a bias on Mamba's depthwise conv (d_in parameters; Mamba use_conv_bias, Jamba mamba_conv_bias)"),
    Feature("mamba_proj_bias", (False, True), False,
            "biases on Mamba's in_proj and out_proj (Mamba use_bias, Jamba mamba_proj_bias)"),
    Feature("mamba_dt_norms", (False, True), False,
            "RMSNorms on dt, B and C after x_proj (Jamba's Mamba layers)"),
)


def mamba_terms(arch, library, conventions, count, component=""):
    """The projections, the conv (as conv_outputs counts it), the scan (as mamba_scan
    counts it), the scan's parameters, biases and Jamba's inner norms."""
    formulas = library.formulas
    conv = "mamba_conv_padded" if conventions.variant("conv_outputs") == "padded" else "mamba_conv"
    names = ["mamba_in_proj", conv, "mamba_x_proj", "mamba_dt_proj", f"mamba_scan_{conventions.variant('mamba_scan')}",
             "mamba_state_params", "mamba_out_proj"]
    if arch.feature("mamba_conv_bias"):
        names.append("mamba_conv_bias")
    if arch.feature("mamba_proj_bias"):
        names.append("mamba_proj_bias")
    if arch.feature("mamba_dt_norms"):
        names.append("mamba_dt_norms")
    for name in names:
        yield Term(formulas[name], count, component=component)


def _elementwise(arch, library, conventions, count):
    yield Term(library.formulas["mamba_scan_elementwise"], count)
    if arch.feature("mamba_dt_norms"):
        yield Term(library.formulas["mamba_dt_norms_elementwise"], count)


BLOCKS = (
    Block(name="mamba", part="mixer", count_symbol="n_mamba_layers",
          description="Mamba-1 selective state-space layer: in/x/dt/out projections, a causal conv and the scan",
          sizes=("mamba_d_inner", "mamba_d_state", "mamba_d_conv", "mamba_dt_rank"),
          variants=("mamba_scan", "conv_outputs"),
          features=("mamba_conv_bias", "mamba_proj_bias", "mamba_dt_norms"),
          terms=mamba_terms, nonmatmul=_elementwise),
)
