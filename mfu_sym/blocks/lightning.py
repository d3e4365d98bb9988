"""Lightning attention, the linear-attention layers of MiniMax-Text-01 and MiniMax-M1:
a fused q/k/v projection, linear attention with a fixed per-head decay computed block by
block, a norm, a sigmoid output gate and the output projection
(formulas/lightning_attention.yaml). It uses the model's n_heads and d_head, as
transformers' MiniMaxLightningAttention does.

The core is disputed (variant lightning_core): what the blocked algorithm executes, the
recurrent form's 4 d_head^2 per head and token, or nothing (6N).
"""

from ..block import Block
from ..term import Term


def lightning_terms(arch, library, conventions, count, component=""):
    formulas = library.formulas
    for name in ("lightning_qkv_proj", "lightning_norm", "lightning_output_gate", "lightning_out_proj",
                 f"lightning_core_{conventions.variant('lightning_core')}"):
        yield Term(formulas[name], count, component=component)


BLOCKS = (
    Block(name="lightning_attention", part="mixer", count_symbol="n_lightning_layers",
          sizes=("n_heads", "lightning_block"), variants=("lightning_core",),
          description="lightning attention: linear attention with a fixed per-head decay, computed in blocks "
                      "(MiniMax-Text-01 / M1)",
          terms=lightning_terms),
)
