"""Feed-forward blocks: a dense MLP, and a mixture of experts (router, routed experts,
shared experts and their gate), with the variants of the MoE families: a router bias
(gpt-oss, AFMoE), expert biases and gpt-oss's clamped SwiGLU, and Llama 4's experts whose
input the router score scales (which transformers runs on every token)."""

from ..term import Term
from ..block import Block, Feature
from ..errors import ConfigError

FEATURES = (
    Feature("router_bias", (False, True), False,
            "the router has a bias of n_experts held as a parameter: gpt-oss's router Linear bias, or AFMoE's "
            "expert_bias (a selection bias kept as a parameter without gradient); n_experts parameters per MoE "
            "layer, no matmul (DeepSeek-V3's e_score_correction_bias is a buffer, not this)"),
    Feature("expert_bias", (False, True), False,
            "the gated routed experts have biases (gpt-oss gate_up_proj_bias and down_proj_bias): 2 d_expert + "
            "d_model parameters per expert, no matmul"),
    Feature("expert_activation", ("swiglu", "clamped_swiglu"), "swiglu",
            "the gated experts' activation: SwiGLU, or gpt-oss's clamped SwiGLU ((clamp(up, -7, 7) + 1) * g * "
            "sigmoid(1.702 g), g = clamp(gate, max 7)): elementwise, the same three matrices; Megatron-LM bills "
            "it as a two-matrix quick-GeGLU MLP (variant expert_matrices)"),
    Feature("expert_input_scaling", (False, True), False,
            "the router's sigmoid score scales each routed expert's input, not its output (Llama 4): the same "
            "matmuls; transformers' code then runs every expert on every token, the unrouted ones on zeroed "
            "inputs (variant experts_run)"),
)


def dense_terms(arch, library, conventions, count, component=""):
    yield Term(library.formulas[f"mlp_{arch.mlp}"], count, component=component)
    if arch.mlp_bias:
        yield Term(library.formulas[f"mlp_{arch.mlp}_bias"], count, component=component)


def _moe_variants(arch):
    """The disputed expert terms this model's experts have: gpt-oss's matrix count,
    Llama 4's experts run on every token or on the routed ones."""
    names = ()
    if arch.feature("expert_activation") == "clamped_swiglu":
        names += ("expert_matrices",)
    if arch.feature("expert_input_scaling"):
        names += ("experts_run",)
    return names


def _experts(arch, conventions):
    """The routed experts' formula under the variants in force."""
    if arch.feature("expert_input_scaling") and conventions.variant("experts_run") == "all":
        return "experts_gated_all"
    if arch.feature("expert_activation") == "clamped_swiglu" and conventions.variant("expert_matrices") == "two":
        return "experts_gated_two_matrices"
    return f"experts_{arch.expert_mlp}"


def moe_terms(arch, library, conventions, count, component=""):
    formulas = library.formulas
    yield Term(formulas["router"], count, component=component, flops=conventions.router)
    if arch.feature("router_bias"):
        yield Term(formulas["router_bias"], count, component=component)
    yield Term(formulas[_experts(arch, conventions)], count, component=component)
    if arch.feature("expert_bias"):
        yield Term(formulas["experts_gated_bias"], count, component=component)
    if arch.d_shared:
        yield Term(formulas["shared_experts_gated"], count, component=component)
    if arch.shared_expert_gate:
        yield Term(formulas["shared_expert_gate"], count, component=component)


def _check_moe(arch, source):
    gated_only = [name for name in ("expert_bias", "expert_input_scaling") if arch.feature(name)]
    if arch.feature("expert_activation") != "swiglu":
        gated_only.append("expert_activation")
    if arch.expert_mlp != "gated" and gated_only:
        raise ConfigError(source, gated_only[0], "given for plain experts (expected expert_mlp: gated: it describes "
                                                 "gated experts)")


def _dense_elementwise(arch, library, conventions, count):
    yield Term(library.formulas[f"activation_{arch.mlp}"], count)


def _moe_elementwise(arch, library, conventions, count):
    every = arch.feature("expert_input_scaling") and conventions.variant("experts_run") == "all"
    yield Term(library.formulas["activation_experts_all" if every else "activation_experts"], count)
    if arch.d_shared:
        yield Term(library.formulas["activation_shared"], count)


BLOCKS = (
    Block(name="dense", part="ffn", description="one MLP (gated: three matmuls; plain: two)", sizes=("d_ff",),
          terms=dense_terms, nonmatmul=_dense_elementwise),
    Block(name="moe", part="ffn", count_symbol="n_moe_layers",
          description="mixture of experts: router, top_k routed experts, shared experts if any",
          features=tuple(feature.name for feature in FEATURES), variants_for=_moe_variants, check=_check_moe,
          terms=moe_terms, nonmatmul=_moe_elementwise),
)
