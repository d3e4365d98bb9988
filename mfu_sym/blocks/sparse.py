"""DeepSeek sparse attention (DSA, DeepSeek-V3.2): MLA whose queries attend only to the
index_topk keys a lightning indexer picks (formulas/sparse_attention.yaml).

A `dsa` layer is MLA's projections (formulas/mla.yaml), the indexer (its projections,
its key's LayerNorm, and its scores against every previous key) and the attention core
over the selected keys. Two disputed terms are variants: `dsa_core` (the core's dims and
keys: absorbed over the top-k, as DeepSeek runs it; naive over the top-k, MaxText;
dense over every causal key, transformers and Megatron-LM) and `dsa_indexer` (whether
and how the indexer's backward is counted).
"""

from ..block import Block
from ..errors import ConfigError
from ..term import Term

# dsa_indexer choice -> (projections formula, scores formula, extra (formula, keys) terms).
# Keys: "dense" the causal family of masks, "sparse" the top-k family.
INDEXER = {
    "forward_only": ("dsa_indexer_projections", "dsa_indexer_scores", ()),
    "trained": ("dsa_indexer_projections_trained", "dsa_indexer_scores_trained", ()),
    "kl_sparse": ("dsa_indexer_projections_wgrad", "dsa_indexer_scores",
                  (("dsa_indexer_scores_grad", "sparse"), ("dsa_indexer_teacher", "sparse"))),
    "kl_dense": ("dsa_indexer_projections_wgrad", "dsa_indexer_scores_trained", (("dsa_indexer_teacher", "dense"),)),
    "maxtext": ("dsa_indexer_projections_maxtext", "dsa_indexer_scores_maxtext", ()),
    "none": ("dsa_indexer_projections_uncounted", None, ()),  # parameters only
}


def _masks(library, conventions):
    """(dense, sparse): the keys of every causal score (the indexer; the dense core) and
    of the selected ones. Exact: t and min(t, index_topk). A dense count computes the
    full square for both; a halved one S/2, or with MaxText's windows (half_windows) its
    continuous k - k^2/(2 s) for the selected keys; Megatron-Bridge's (exact_windows)
    counts the selected keys exactly."""
    dense = conventions.mask_for("mla")
    if conventions.mask == "causal" or (conventions.mask == "half" and conventions.exact_windows):
        sparse = "dsa_topk"
    elif conventions.mask == "half" and conventions.half_windows:
        sparse = "half_topk"
    else:
        sparse = dense
    return library.masks[dense], library.masks[sparse]


def dsa_terms(arch, library, conventions, count, component=""):
    formulas = library.formulas
    dense, sparse = _masks(library, conventions)
    core = conventions.variant("dsa_core")

    def term(name, mask=None):
        return Term(formulas[name], count, mask, component=component)

    # MLA's projections (DSA always compresses the query: the indexer reads its latent)
    for name in ("mla_q_a_proj", "mla_q_b_proj", "mla_q_norm", "mla_kv_a_proj", "mla_kv_norm", "mla_o_proj"):
        yield term(name)
    if core == "absorbed":
        yield term("mla_absorb_uk")
        yield term("mla_absorb_uv")
        yield term("dsa_attention_core_absorbed", sparse)
    else:
        keys = sparse if core == "naive" else dense
        yield term("mla_kv_b_proj")
        yield term("dsa_kv_b_proj_cached", keys)
        yield term("dsa_attention_core", keys)

    # the lightning indexer
    yield term("dsa_indexer_k_norm")
    projections, scores, extra = INDEXER[conventions.variant("dsa_indexer")]
    yield term(projections)
    if scores is not None:
        yield term(scores, dense)
    for name, keys in extra:
        yield term(name, sparse if keys == "sparse" else dense)


def _elementwise(arch, library, conventions, count):
    """Softmax over the keys the core attends to, MLA's rotary embedding, and the
    indexer's ReLU, scalings, rotary and key norm."""
    formulas = library.formulas
    dense, sparse = _masks(library, conventions)
    keys = dense if conventions.variant("dsa_core") == "dense" else sparse
    yield Term(formulas["softmax"], count, keys)
    yield Term(formulas["rotary_mla"], count)
    yield Term(formulas["dsa_indexer_elementwise"], count, dense)


def _check(arch, source):
    """DSA runs on MLA with a compressed query (the indexer projects the query latent),
    and the indexer's rotary part fits in its heads."""
    if not arch.mla:
        raise ConfigError(source, "kv_lora_rank", "missing (the stack has dsa layers: DeepSeek sparse attention runs "
                                                  "on multi-head latent attention)")
    if not arch.q_lora_rank:
        raise ConfigError(source, "q_lora_rank", "missing (dsa layers project the indexer's queries from MLA's query "
                                                 "latent: give q_lora_rank)")
    if arch.size("index_head_dim") < arch.qk_rope_head_dim:
        raise ConfigError(source, "index_head_dim", f"{arch.size('index_head_dim')} is smaller than qk_rope_head_dim "
                                                    f"({arch.qk_rope_head_dim}), the rotary part of the indexer's heads")


BLOCKS = (
    Block(name="dsa", part="mixer", count_symbol="n_dsa_layers",
          sizes=("n_heads", "index_topk", "index_head_dim", "index_n_heads"),
          variants=("dsa_core", "dsa_indexer"),
          description="DeepSeek sparse attention (DeepSeek-V3.2): MLA over the index_topk keys a lightning indexer "
                      "selects",
          terms=dsa_terms, nonmatmul=_elementwise, check=_check),
)
