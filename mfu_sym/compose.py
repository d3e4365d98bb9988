"""Composition: which formulas a model has, and how many times (the Terms of a Model).

The layer stack (stack.py) says which token mixers and feed-forward blocks the layers
have; each kind contributes its formulas times the number of layers of that kind (a
count symbol where kinds share the stack, n_layers where one kind fills it). Embeddings,
norms, the LM head, MTP modules and, where a convention counts them, the elementwise
operations complete the model. A Term names a formula, its count and, for costs that
depend on position, the mask that gives its keys.
"""

from dataclasses import dataclass

import sympy

from . import stack


@dataclass(frozen=True)
class Term:
    formula: object  # library.Formula
    count: sympy.Expr  # how many of it the model has
    mask: object = None  # library.Mask for position-dependent formulas
    component: str = ""  # where it adds up; default the formula's own (MTP layers: "mtp")
    flops: bool = True  # False: its parameters count, its FLOPs do not (a convention's choice)

    @property
    def kind(self):
        return self.component or self.formula.component



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
    mixers = stack.counted(arch.layers, "mixer", layers, sym)
    for kind, count in mixers:
        yield from _attention(arch, library, conventions, count, sliding=kind == "sliding_attention")
    ffns = stack.counted(arch.layers, "ffn", layers, sym)
    for kind, count in ffns:
        yield from (_moe(arch, library, conventions, count) if kind == "moe" else _dense_mlp(arch, library, count))

    yield Term(formulas[_NORMS[arch.norm]], arch.norms_per_layer * layers + 1)  # + the final norm
    if arch.qk_norm != "none":
        yield Term(formulas[f"qk_norm_{arch.qk_norm}"], layers)

    yield Term(formulas["lm_head_tied" if arch.tied_embeddings else "lm_head"], one)

    if arch.n_mtp_layers:
        yield from _mtp(arch, library, conventions, sym("n_mtp_layers"))
    yield from _nonmatmul(arch, library, conventions, mixers, ffns)


_NORMS = {"rmsnorm": "rms_norm", "layernorm": "layer_norm", "layernorm_no_bias": "layer_norm_no_bias"}


def _attention(arch, library, conventions, count, sliding, component=""):
    formulas = library.formulas
    mask = library.masks[conventions.mask_for(sliding)]
    if arch.mla:
        if arch.q_lora_rank:
            names = ["mla_q_a_proj", "mla_q_b_proj", "mla_q_norm"]
        else:
            names = ["mla_q_proj"]
        names += ["mla_kv_a_proj", "mla_kv_norm", "mla_o_proj"]
        if conventions.mla == "naive":
            names.append("mla_kv_b_proj")
            core = "mla_attention_core"
        else:
            names += ["mla_absorb_uk", "mla_absorb_uv"]
            core = "mla_attention_core_absorbed"
        for name in names:
            yield Term(formulas[name], count, component=component)
        yield Term(formulas[core], count, mask, component=component)
        return
    for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
        yield Term(formulas[name], count, component=component)
    if arch.attention_bias in ("qkv", "all"):
        yield Term(formulas["qkv_bias"], count, component=component)
    if arch.attention_bias == "all":
        yield Term(formulas["o_bias"], count, component=component)
    yield Term(formulas["attention_core"], count, mask, component=component)


def _dense_mlp(arch, library, count):
    yield Term(library.formulas[f"mlp_{arch.mlp}"], count)
    if arch.mlp_bias:
        yield Term(library.formulas[f"mlp_{arch.mlp}_bias"], count)


def _moe(arch, library, conventions, count, component=""):
    formulas = library.formulas
    yield Term(formulas["router"], count, component=component, flops=conventions.router)
    yield Term(formulas[f"experts_{arch.expert_mlp}"], count, component=component)
    if arch.d_shared:
        yield Term(formulas["shared_experts_gated"], count, component=component)
    if arch.shared_expert_gate:
        yield Term(formulas["shared_expert_gate"], count, component=component)


def _mtp(arch, library, conventions, count):
    """DeepSeek-V3's MTP module: projection, norms, one transformer layer (a MoE layer
    when the model has experts), logits through the shared head."""
    formulas = library.formulas
    yield Term(formulas["mtp_projection"], count)
    yield Term(formulas["mtp_norms"], count)
    yield from _attention(arch, library, conventions, count, sliding=False, component="mtp")
    if arch.n_experts:
        yield from _moe(arch, library, conventions, count, component="mtp")
    else:
        yield Term(formulas[f"mlp_{arch.mlp}"], count, component="mtp")
    yield Term(formulas[_NORMS[arch.norm]], arch.norms_per_layer * count, component="mtp")
    yield Term(formulas["mtp_logits"], count, flops=conventions.mtp_logits)


def _nonmatmul(arch, library, conventions, mixers, ffns):
    """Elementwise work, only where the convention counts it (--nonmatmul, chinchilla)."""
    formulas, layers = library.formulas, library.symbol("n_layers")
    if not conventions.nonmatmul or conventions.flops_from == "params":
        return
    terms = []
    for kind, count in mixers:
        mask = library.masks[conventions.mask_for(kind == "sliding_attention")]
        terms.append(Term(formulas["softmax"], count, mask))
    terms.append(Term(formulas["norm_elementwise"], arch.norms_per_layer * layers + 1))
    if arch.qk_norm != "none":
        terms.append(Term(formulas["qk_norm_elementwise"], layers))
    for kind, count in ffns:
        if kind == "dense":
            terms.append(Term(formulas[f"activation_{arch.mlp}"], count))
        else:
            terms.append(Term(formulas["activation_experts"], count))
            if arch.d_shared:
                terms.append(Term(formulas["activation_shared"], count))
    terms.append(Term(formulas["residual_adds"], layers))
    if arch.position_embedding == "none":
        terms.append(Term(formulas["rotary_mla" if arch.mla else "rotary"], layers))
    for term in terms:
        if conventions.counts_nonmatmul(term.formula.name):
            yield term
