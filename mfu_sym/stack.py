"""The layer stack: a model's decoder layers as groups of identical layers.

Each layer has a token mixer and a feed-forward block, each of a named kind; consecutive
identical layers form a group. The stack is the one place the structure is stored: every
count a formula needs (how many layers slide, how many route to experts) is counted from
it, and composition sums over its kinds, so the costs stay closed forms in a handful of
count symbols.

Mixers:      attention (causal, every key), sliding_attention (a window of keys), mla
             (DeepSeek's multi-head latent attention).
Feed-forward: dense (one MLP), moe (router and experts, shared experts if any).
"""

from collections import Counter
from dataclasses import dataclass

from .errors import ConfigError

MIXERS = ("attention", "sliding_attention", "mla")
FFNS = ("dense", "moe")
# The count symbol of a kind that shares the stack with others (formulas/symbols.yaml).
# The one kind without a symbol counts the rest: n_layers - the others.
COUNT_SYMBOLS = {("mixer", "sliding_attention"): "n_window_layers", ("ffn", "moe"): "n_moe_layers"}


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
    """kind -> number of layers, for part "mixer" or "ffn", kinds in the order of MIXERS
    and FFNS (so a model's terms come in the same order whatever its first layer is)."""
    out = Counter()
    for group in stack:
        out[getattr(group, part)] += group.count
    order = MIXERS if part == "mixer" else FFNS
    return {kind: out[kind] for kind in order if out[kind]}


def counted(stack, part, n_layers, symbol):
    """[(kind, count expression)] for `part`: n_layers when one kind fills the stack;
    otherwise the kind's count symbol, and n_layers minus the others for the one kind
    without a symbol. `symbol(name)` gives the sympy symbol of a name."""
    kinds = counts(stack, part)
    if len(kinds) == 1:
        return [(next(iter(kinds)), n_layers)]
    named = {kind: symbol(COUNT_SYMBOLS[(part, kind)]) for kind in kinds if (part, kind) in COUNT_SYMBOLS}
    rest = [kind for kind in kinds if kind not in named]
    if len(rest) > 1:
        raise ConfigError(None, "layers", f"{' and '.join(rest)} layers in one stack: only one {part} kind "
                                          "may lack a count symbol")
    out = []
    for kind in kinds:
        out.append((kind, named[kind] if kind in named else n_layers - sum(named.values())))
    return out


def count_values(stack):
    """Count symbol name -> value, for every count symbol the stack needs (a kind that
    shares the stack with another)."""
    out = {}
    for part in ("mixer", "ffn"):
        kinds = counts(stack, part)
        if len(kinds) > 1:
            for kind, n in kinds.items():
                if (part, kind) in COUNT_SYMBOLS:
                    out[COUNT_SYMBOLS[(part, kind)]] = n
    return out
