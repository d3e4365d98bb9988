"""Composition: which formulas a model has, and how many times (the Terms of a Model).

The layer stack (stack.py) says which token mixers and feed-forward blocks the layers
have; each kind's Block (blocks/) contributes its formulas times the number of layers
of that kind (a count symbol where kinds share the stack, n_layers where one kind fills
it). Embeddings, norms, the LM head, MTP modules and, where a convention counts them,
the elementwise operations complete the model. A Term names a formula, its count and,
for costs that depend on position, the mask that gives its keys.
"""

import sympy

from . import kinds, stack
from .term import Term  # noqa: F401  (compose.Term)


def compose(arch, library, conventions):
    """The model's terms: which formulas it has and how many times."""
    formulas, sym, one = library.formulas, library.symbol, sympy.Integer(1)
    layers = sym("n_layers")

    yield Term(formulas["token_embedding"], one)
    if conventions.embedding_flops:
        yield Term(formulas["embedding_onehot"], one)
    if arch.position_embedding == "learned":
        yield Term(formulas["position_embedding"], one)

    # the layer stack, by kind: each kind's terms times how many layers have it
    placed = []  # (block, count) of every kind in the stack
    for part in kinds.PARTS:
        for kind, count in stack.counted(arch.layers, part, layers, sym):
            block = kinds.get(part, kind)
            placed.append((block, count))
            yield from block.terms(arch, library, conventions, count)

    yield Term(formulas[NORMS[arch.norm]], norm_count(arch, placed, layers) + 1)  # + the final norm
    yield Term(formulas["lm_head_tied" if arch.tied_embeddings else "lm_head"], one)
    if arch.lm_head_bias:
        yield Term(formulas["lm_head_bias"], one)

    if arch.n_mtp_layers:
        yield from _mtp(arch, library, conventions, sym("n_mtp_layers"))
    if conventions.nonmatmul and conventions.flops_from != "params":
        yield from _nonmatmul(arch, library, conventions, placed, layers)


NORMS = {"rmsnorm": "rms_norm", "layernorm": "layer_norm", "layernorm_no_bias": "layer_norm_no_bias"}


def norm_count(arch, placed, layers):
    """Norm layers in the stack: one before (pre) or after (post) every block, two
    (sandwich), or one shared by a layer's parallel kinds."""
    if arch.norm_placement == "parallel":
        return layers
    per_block = 2 if arch.norm_placement == "sandwich" else 1
    return per_block * sympy.Add(*[block.norms * count for block, count in placed])


def _mtp(arch, library, conventions, count):
    """DeepSeek-V3's MTP module: projection, norms, one transformer layer (a MoE layer
    when the model has experts; DSA when the stack's layers are, as in DeepSeek-V3.2),
    logits through the shared head."""
    formulas = library.formulas
    yield Term(formulas["mtp_projection"], count)
    yield Term(formulas["mtp_norms"], count)
    mixer = "dsa" if stack.count_of(arch.layers, "mixer", "dsa") else "mla" if arch.mla else "attention"
    layer = [(kinds.get("mixer", mixer), count),
             (kinds.get("ffn", "moe" if arch.n_experts else "dense"), count)]
    for block, _ in layer:
        yield from block.terms(arch, library, conventions, count, "mtp")
    yield Term(formulas[NORMS[arch.norm]], norm_count(arch, layer, count), component="mtp")
    yield Term(formulas["mtp_logits"], count, flops=conventions.mtp_logits)


def _nonmatmul(arch, library, conventions, placed, layers):
    """Elementwise work, only where the convention counts it (--nonmatmul, chinchilla)."""
    formulas = library.formulas
    terms = []
    for block, count in placed:
        if block.nonmatmul:
            terms.extend(block.nonmatmul(arch, library, conventions, count))
    terms.append(Term(formulas["norm_elementwise"], norm_count(arch, placed, layers) + 1))
    terms.append(Term(formulas["residual_add"], sympy.Add(*[count for block, count in placed if not block.empty])))
    for term in terms:
        if conventions.counts_nonmatmul(term.formula.name):
            yield term
