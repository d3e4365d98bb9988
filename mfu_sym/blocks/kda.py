"""Kimi Delta Attention (KDA), the linear-attention layers of Kimi Linear: q/k/v
projections, a short depthwise convolution, a low-rank per-channel forget gate, beta, an
output gate (low or full rank), a gated norm, the output projection and the gated delta
rule itself (formulas/kda.yaml).

Three terms are disputed (variants): the core (linear_core: what the chunked algorithm
executes, or a per-token multiple of the state size), the convolution (conv_outputs:
one output a token, or the padded S + K - 1 of PyTorch's fallback) and, on a low-rank
checkpoint, the output gate (kda_output_gate_count: as built, or full rank as
Megatron-Bridge assumes).
"""

from ..block import Block, Feature
from ..term import Term

FEATURES = (
    Feature("kda_output_gate", ("low_rank", "full_rank"), "low_rank",
            "the output gate of a Kimi Delta Attention layer: low_rank (g_a_proj d_model -> d, g_b_proj d -> H d, "
            "Kimi Linear) or full_rank (one d_model -> H d projection, use_full_rank_gate checkpoints)"),
)


def kda_terms(arch, library, conventions, count, component=""):
    formulas = library.formulas

    def term(name, flops=True):
        return Term(formulas[name], count, component=component, flops=flops)

    yield term("kda_qkv_proj")
    yield term(f"kda_conv_{conventions.variant('conv_outputs')}")
    yield term("kda_forget_gate")
    yield term("kda_beta_proj")
    if arch.feature("kda_output_gate") == "full_rank":
        yield term("kda_output_gate_full_rank")
    elif conventions.variant("kda_output_gate_count") == "full_rank":
        yield term("kda_output_gate_low_rank", flops=False)  # the parameters the layer has
        yield term("kda_output_gate_full_rank_assumed")  # the FLOPs the convention charges
    else:
        yield term("kda_output_gate_low_rank")
    yield term("kda_o_norm")
    yield term("kda_o_proj")
    yield term(f"kda_core_{conventions.variant('linear_core')}")


BLOCKS = (
    Block(name="kimi_delta_attention", part="mixer", count_symbol="n_kda_layers",
          sizes=("kda_heads", "kda_head_dim", "kda_conv_kernel", "kda_chunk"),
          variants=("linear_core", "conv_outputs", "kda_output_gate_count"), features=("kda_output_gate",),
          description="Kimi Delta Attention: gated delta rule with a per-channel decay, short convolution, "
                      "low-rank gates (Kimi Linear's linear-attention layers)",
          terms=kda_terms),
)
