"""The layer stack: a model's decoder layers as groups of identical layers.

Each layer has a token mixer and a feed-forward block, each of a named kind (a Block of
blocks/: attention, sliding_attention, chunked_attention, mla, ... and dense, moe, or
none for a layer that is a single block); consecutive identical layers form a group.
The stack is the one place the structure is stored: every count a formula needs (how
many layers slide, how many route to experts) is counted from it, and composition sums
over its kinds, so the costs stay closed forms in a handful of count symbols.
"""

from collections import Counter
from dataclasses import dataclass

from . import kinds


@dataclass(frozen=True)
class LayerGroup:
    count: int
    mixer: str
    ffn: str


def from_layers(mixers, ffns):
    """The stack of per-layer kinds (two equal-length sequences), consecutive identical
    layers grouped."""
    groups = []
    for mixer, ffn in zip(mixers, ffns):
        if groups and (groups[-1].mixer, groups[-1].ffn) == (mixer, ffn):
            groups[-1] = LayerGroup(groups[-1].count + 1, mixer, ffn)
        else:
            groups.append(LayerGroup(1, mixer, ffn))
    return tuple(groups)


def layers(stack):
    """(mixer, ffn) of every layer, in order."""
    return [(g.mixer, g.ffn) for g in stack for _ in range(g.count)]


def counts(stack, part):
    """kind -> number of layers, for part "mixer" or "ffn", kinds in registration order
    (so a model's terms come in the same order whatever its first layer is)."""
    out = Counter()
    for group in stack:
        out[getattr(group, part)] += group.count
    return {kind: out[kind] for kind in kinds.kinds(part) if out[kind]}


def _remainder(present, part):
    """The kind counted as n_layers minus the others: the one without a count symbol,
    else the first (so n_layers stays in the expressions)."""
    symbols = kinds.count_symbols()
    unnamed = [kind for kind in present if (part, kind) not in symbols]
    if len(unnamed) > 1:
        raise ValueError(f"{' and '.join(unnamed)} {part} kinds have no count symbol")
    return unnamed[0] if unnamed else next(iter(present))


def counted(stack, part, n_layers, symbol):
    """[(kind, count expression)] for `part`: n_layers when one kind fills the stack;
    otherwise each kind's count symbol, and n_layers minus the others for the remainder
    kind. `symbol(name)` gives the sympy symbol of a name."""
    present = counts(stack, part)
    if len(present) == 1:
        return [(next(iter(present)), n_layers)]
    rest = _remainder(present, part)
    named = {kind: symbol(kinds.count_symbols()[(part, kind)]) for kind in present if kind != rest}
    return [(kind, named[kind] if kind in named else n_layers - sum(named.values())) for kind in present]


def count_values(stack):
    """Count symbol name -> value, for every count symbol the stack needs (a kind that
    shares the stack with another and is not the remainder)."""
    out = {}
    for part in kinds.PARTS:
        present = counts(stack, part)
        if len(present) > 1:
            rest = _remainder(present, part)
            for kind, n in present.items():
                if kind != rest:
                    out[kinds.count_symbols()[(part, kind)]] = n
    return out


def count_of(stack, part, kind):
    return counts(stack, part).get(kind, 0)
