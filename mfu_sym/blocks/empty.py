"""Empty blocks: a layer with no token mixer, or no feed-forward block. Nemotron-H and
other hybrids stack single blocks (a Mamba layer, an attention layer, an MLP layer), each
with its own norm and residual add: one layer of the stack is then a mixer with ffn
"none", or ffn with mixer "none"."""

from ..block import Block


def _nothing(*args, **kwargs):
    return iter(())


BLOCKS = (
    Block(name="none", part="mixer", count_symbol="n_ffn_only_layers", norms=0,
          description="no token mixer: the layer is its feed-forward block alone", terms=_nothing),
    Block(name="none", part="ffn", count_symbol="n_mixer_only_layers", norms=0,
          description="no feed-forward block: the layer is its token mixer alone", terms=_nothing),
)
