"""Apertus's feed-forward block: a plain MLP whose xIELU activation carries two learnable
scalars (formulas/attnb.yaml). Its matmuls are the plain MLP's; the activation is
elementwise."""

from ..block import Block
from ..errors import ConfigError
from ..term import Term
from .ffn import dense_terms


def xielu_terms(arch, library, conventions, count, component=""):
    yield from dense_terms(arch, library, conventions, count, component)
    yield Term(library.formulas["xielu_params"], count, component=component)


def _elementwise(arch, library, conventions, count):
    yield Term(library.formulas["activation_plain"], count)


def _check(arch, source):
    if arch.mlp != "plain":
        raise ConfigError(source, "mlp", f"{arch.mlp}, but the xielu_mlp block is a plain MLP "
                                         "(up, xIELU, down; expected mlp: plain)")


BLOCKS = (
    Block(name="xielu_mlp", part="ffn", count_symbol="n_xielu_mlp_layers",
          description="plain MLP with a learnable xIELU activation (Apertus): up, xIELU (2 parameters), down",
          sizes=("d_ff",), terms=xielu_terms, nonmatmul=_elementwise, check=_check),
)
