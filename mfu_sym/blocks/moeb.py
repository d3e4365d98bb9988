"""Feed-forward kinds of the GLM / ERNIE / Hunyuan / dots / LongCat group (formulas in
formulas/moe_zero.yaml):

  zero_moe        a mixture of experts whose routing pool also holds n_zero_experts
                  zero-computation (identity) experts; the real experts' FLOPs follow
                  the variant zero_expert_routing (an expectation or a bound: they depend
                  on the routing)
  dense_zero_moe  a dense MLP and, beside it on the same normalised input, a zero_moe
                  (LongCat-Flash's first block of each layer: the MoE output is carried
                  by the shortcut and added after the layer's second block)
  ernie_moe       the moe kind plus ERNIE 4.5's router score correction, which
                  transformers holds as a parameter

GLM-4.5, GLM-4.7-Flash, Hunyuan and dots.llm1 fit the existing kinds (attention or mla,
dense, moe); their readers are in hf_layers/moeb.py.
"""

from ..term import Term
from ..block import Block, Feature
from .ffn import dense_terms, moe_terms

FEATURES = (
    Feature("zero_moe_router_bias", (False, True), False,
            "the zero-computation-expert router has a bias (LongCat-Flash router_bias): n_experts + "
            "n_zero_experts parameters a layer, an elementwise add"),
)

_ROUTED = ("n_experts", "top_k", "d_expert")


def zero_moe_terms(arch, library, conventions, count, component=""):
    """Router over the whole pool, the real experts under the routing variant, and (a
    parameters-only choice) the gate/up slots transformers allocates for identity
    experts. Without zero experts (n_zero_experts 0) it is an ordinary routed MoE."""
    formulas = library.formulas
    if not arch.size("n_zero_experts"):
        yield Term(formulas["router"], count, component=component, flops=conventions.router)
        if arch.feature("zero_moe_router_bias"):
            yield Term(formulas["zero_moe_router_bias_real_only"], count, component=component)
        yield Term(formulas[f"experts_{arch.expert_mlp}"], count, component=component)
        return
    yield Term(formulas["zero_moe_router"], count, component=component, flops=conventions.router)
    if arch.feature("zero_moe_router_bias"):
        yield Term(formulas["zero_moe_router_bias"], count, component=component)
    routing = conventions.variant("zero_expert_routing")
    yield Term(formulas[f"zero_moe_experts_{routing}"], count, component=component, expected=True)
    if conventions.variant("zero_expert_slots") == "allocated":
        yield Term(formulas["zero_moe_unused_gate_up"], count, component=component)


def _zero_moe_elementwise(arch, library, conventions, count):
    if not arch.size("n_zero_experts"):
        yield Term(library.formulas["activation_experts"], count)
        return
    routing = conventions.variant("zero_expert_routing")
    yield Term(library.formulas[f"zero_moe_activation_{routing}"], count, expected=True)


def dense_zero_moe_terms(arch, library, conventions, count, component=""):
    yield from dense_terms(arch, library, conventions, count, component)
    yield from zero_moe_terms(arch, library, conventions, count, component)


def _dense_zero_moe_elementwise(arch, library, conventions, count):
    yield Term(library.formulas[f"activation_{arch.mlp}"], count)
    yield from _zero_moe_elementwise(arch, library, conventions, count)
    # the shortcut's output joins the residual stream after the layer's second block
    yield Term(library.formulas["residual_add"], count)


def _check_zero_moe(arch, source):
    from ..errors import ConfigError
    if arch.expert_mlp != "gated":
        raise ConfigError(source, "expert_mlp", f"{arch.expert_mlp!r}, but zero-computation-expert MoE layers "
                                                "are modelled with gated experts only (expected gated)")


def ernie_moe_terms(arch, library, conventions, count, component=""):
    yield from moe_terms(arch, library, conventions, count, component)
    yield Term(library.formulas["ernie_moe_score_correction"], count, component=component)


def _moe_elementwise(arch, library, conventions, count):
    yield Term(library.formulas["activation_experts"], count)
    if arch.d_shared:
        yield Term(library.formulas["activation_shared"], count)


_ZERO_VARIANTS = ("zero_expert_routing", "zero_expert_slots")

BLOCKS = (
    Block(name="zero_moe", part="ffn", count_symbol="n_zero_moe_layers", sizes=_ROUTED,
          optional_sizes=("n_zero_experts",), variants=_ZERO_VARIANTS, features=("zero_moe_router_bias",),
          description="mixture of experts whose routing pool also holds n_zero_experts zero-computation "
                      "(identity) experts: router over the whole pool, real experts as zero_expert_routing says",
          terms=zero_moe_terms, nonmatmul=_zero_moe_elementwise, check=_check_zero_moe),
    Block(name="dense_zero_moe", part="ffn", count_symbol="n_dense_zero_moe_layers", sizes=("d_ff",) + _ROUTED,
          optional_sizes=("n_zero_experts",), variants=_ZERO_VARIANTS, features=("zero_moe_router_bias",),
          description="a dense MLP and a zero_moe beside it on the same input, their outputs added "
                      "(LongCat-Flash's shortcut-connected MoE)",
          terms=dense_zero_moe_terms, nonmatmul=_dense_zero_moe_elementwise, check=_check_zero_moe),
    Block(name="ernie_moe", part="ffn", count_symbol="n_ernie_moe_layers", sizes=_ROUTED,
          description="ERNIE 4.5's mixture of experts: router, top_k routed experts, shared experts, and the "
                      "router's score correction held as a (frozen) parameter",
          terms=ernie_moe_terms, nonmatmul=_moe_elementwise),
)
