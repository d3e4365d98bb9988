"""The registry of layer kinds: every token mixer and feed-forward block a decoder layer
can have, from the modules of blocks/.

A layer of the stack (stack.py) is a mixer kind and an ffn kind. Each kind is a Block
(block.py): the terms one layer of that kind contributes (formulas of the library, times
the number of such layers), its elementwise terms, the sizes and features of the
Architecture it reads, and the convention variants that choose between its disputed
formulas. Each module of blocks/ defines its kinds as BLOCKS (and the features they
read as FEATURES); adding a mixer means writing one module and listing it in MODULES
below: the stack, composition, validation, the model format and `infer` pick it up.

Sizes are architecture symbols of the formula library (formulas/symbols.yaml): a model
gives them as `Architecture.sizes`. Features are model-wide choices a block reads
(`Architecture.features`), declared with their allowed values.
"""

from .blocks import (attention, attnb, empty, ffn, gdn, kda, latent_moe, lightning, mamba, mamba2, moeb, short_conv,
                     sparse)
from .errors import ConfigError

PARTS = ("mixer", "ffn")
# in display order: the order a model's terms come in
MODULES = (attention, sparse, gdn, kda, lightning, mamba, mamba2, short_conv, ffn, moeb, latent_moe, attnb, empty)

_BLOCKS = {part: {} for part in PARTS}
FEATURES = {}
for _module in MODULES:
    for _block in _module.BLOCKS:
        assert _block.name not in _BLOCKS[_block.part], f"block {_block.name} defined twice"
        _BLOCKS[_block.part][_block.name] = _block
    for _feature in getattr(_module, "FEATURES", ()):
        assert _feature.name not in FEATURES, f"feature {_feature.name} defined twice"
        FEATURES[_feature.name] = _feature


def kinds(part):
    """The kind names of `part`, in display order."""
    return tuple(_BLOCKS[part])


def get(part, name):
    try:
        return _BLOCKS[part][name]
    except KeyError:
        raise ConfigError(None, part, f"{name!r} (expected one of {', '.join(_BLOCKS[part])})") from None


def count_symbols():
    """(part, kind) -> the symbol that counts layers of that kind."""
    return {(block.part, block.name): block.count_symbol
            for part in PARTS for block in _BLOCKS[part].values() if block.count_symbol}
