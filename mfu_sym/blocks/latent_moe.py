"""Nemotron-H's mixture of experts: router, routed experts (in a latent space of width
moe_latent when the model has one, with the projections into and out of it), and shared
experts at d_model that are plain or gated like the routed experts (expert_mlp).

Formulas: formulas/latent_moe.yaml (the router is moe.yaml's). Without moe_latent the
routed experts are moe.yaml's, at d_model; what differs from the `moe` kind then is the
plain shared experts and the MLP biases (mlp_bias) of the shared experts and latent
projections.
"""

from ..block import Block
from ..term import Term


def latent_moe_terms(arch, library, conventions, count, component=""):
    formulas = library.formulas
    plain = arch.expert_mlp == "plain"
    names = ["router"]
    if arch.size("moe_latent"):
        names += ["latent_moe_projections", f"latent_moe_experts_{arch.expert_mlp}"]
        if arch.mlp_bias:
            names.append("latent_moe_projection_bias")
    else:
        names.append(f"experts_{arch.expert_mlp}")
    if arch.d_shared:
        names.append("latent_moe_shared_plain" if plain else "shared_experts_gated")
        if arch.mlp_bias and plain:
            names.append("latent_moe_shared_bias")
    for name in names:
        yield Term(formulas[name], count, component=component, flops=conventions.router if name == "router" else True)


def _elementwise(arch, library, conventions, count):
    plain = arch.expert_mlp == "plain"
    yield Term(library.formulas["latent_moe_activation_experts" if plain else "activation_experts"], count)
    if arch.d_shared:
        yield Term(library.formulas["latent_moe_activation_shared" if plain else "activation_shared"], count)


def check(arch, source):
    from ..errors import ConfigError
    if arch.mlp_bias and arch.expert_mlp == "gated" and arch.d_shared:
        raise ConfigError(source, "mlp_bias", "biases on gated shared experts of a latent MoE are not modelled")


BLOCKS = (
    Block(name="latent_moe", part="ffn", count_symbol="n_latent_moe_layers",
          sizes=("n_experts", "top_k", "d_expert"), optional_sizes=("moe_latent", "d_shared"), check=check,
          description="Nemotron-H mixture of experts: router, top_k routed experts (in a moe_latent-wide latent "
                      "space when given, with its two projections), shared experts at d_model",
          terms=latent_moe_terms, nonmatmul=_elementwise),
)
