"""Linear-attention mixers: Gated DeltaNet (Qwen3-Next, Qwen3.5, OLMo Hybrid).

A Gated DeltaNet layer projects q, k, v, the output gate z and the per-head beta and
decay inputs from the layer input, runs one depthwise causal convolution over q|k|v,
the gated delta rule per value head, a gated RMSNorm and the output projection
(formulas/gdn.yaml). Two counts are disputed and read from the conventions:
the core (variant linear_core: what the chunked algorithm executes, or a per-token
multiple of the state size as the peers write it) and the convolution's outputs
(variant conv_outputs: one per token, or the s + K - 1 of transformers' padded
nn.Conv1d fallback). The layer keeps no per-position cache: its decode state is the
recurrent state and the conv window (kv_cache entries of kind state).
"""

from ..block import Block
from ..errors import ConfigError
from ..term import Term

SIZES = ("gdn_key_heads", "gdn_value_heads", "gdn_key_head_dim", "gdn_value_head_dim", "gdn_conv_kernel")


def gdn_terms(arch, library, conventions, count, component=""):
    formulas = library.formulas
    names = ["gdn_qkv_proj", "gdn_output_gate_proj", "gdn_beta_decay_proj", "gdn_decay_params",
             f"gdn_conv_{conventions.variant('conv_outputs')}", f"gdn_core_{conventions.variant('linear_core')}",
             "gdn_out_proj", "gdn_norm"]
    for name in names:
        yield Term(formulas[name], count, component=component)


def _elementwise(arch, library, conventions, count):
    yield Term(library.formulas["gdn_elementwise"], count)


def _check(arch, source):
    """q and k are shared by groups of value heads: transformers repeats each key head
    n_v / n_k times (repeat_interleave), which needs a whole number."""
    keys, values = arch.size("gdn_key_heads"), arch.size("gdn_value_heads")
    if values % keys:
        raise ConfigError(source, "gdn_value_heads", f"{values} is not a multiple of gdn_key_heads ({keys}) "
                                                     "(each query/key head serves a whole group of value heads)")


BLOCKS = (
    Block(name="gated_deltanet", part="mixer", count_symbol="n_gdn_layers", sizes=SIZES,
          variants=("linear_core", "conv_outputs"),
          description="Gated DeltaNet linear attention: q/k/v/gate projections, a short causal conv, the gated "
                      "delta rule per value head (chunked; recurrent at decode), a gated RMSNorm",
          terms=gdn_terms, nonmatmul=_elementwise, check=_check),
)
