"""Feed-forward blocks: a dense MLP, and a mixture of experts (router, routed experts,
shared experts and their gate)."""

from ..term import Term
from ..block import Block


def dense_terms(arch, library, conventions, count, component=""):
    yield Term(library.formulas[f"mlp_{arch.mlp}"], count, component=component)
    if arch.mlp_bias:
        yield Term(library.formulas[f"mlp_{arch.mlp}_bias"], count, component=component)


def moe_terms(arch, library, conventions, count, component=""):
    formulas = library.formulas
    yield Term(formulas["router"], count, component=component, flops=conventions.router)
    yield Term(formulas[f"experts_{arch.expert_mlp}"], count, component=component)
    if arch.d_shared:
        yield Term(formulas["shared_experts_gated"], count, component=component)
    if arch.shared_expert_gate:
        yield Term(formulas["shared_expert_gate"], count, component=component)


def _dense_elementwise(arch, library, conventions, count):
    yield Term(library.formulas[f"activation_{arch.mlp}"], count)


def _moe_elementwise(arch, library, conventions, count):
    yield Term(library.formulas["activation_experts"], count)
    if arch.d_shared:
        yield Term(library.formulas["activation_shared"], count)


BLOCKS = (
    Block(name="dense", part="ffn", description="one MLP (gated: three matmuls; plain: two)", sizes=("d_ff",),
          terms=dense_terms, nonmatmul=_dense_elementwise),
    Block(name="moe", part="ffn", count_symbol="n_moe_layers",
          description="mixture of experts: router, top_k routed experts, shared experts if any",
          terms=moe_terms, nonmatmul=_moe_elementwise),
)
