"""Softmax attention mixers: full causal, sliding-window and chunked (local) attention
with their variants (biases, QK norms, output gates, sinks), and DeepSeek's multi-head
latent attention (MLA).

The projections are the same for every mask; the kind decides which keys a query sees
(conventions.mask_for: causal, a window, the query's own chunk; or a convention's full
or halved square).
"""

from ..term import Term
from ..block import Block, Feature

FEATURES = (
    Feature("attention_output_gate", (False, True), False,
            "a sigmoid gate on the attention output, projected from the layer input d_model -> n_heads * d_head "
            "(Qwen3-Next and Qwen3.5 full-attention layers, AFMoE)"),
    Feature("attention_sinks", (False, True), False,
            "one learned logit per head added to the softmax denominator (gpt-oss): n_heads parameters a layer, "
            "no matmul"),
    Feature("rotary_layers", ("all", "local"), "all",
            "the attention layers that rotate queries and keys: all, or only the local (sliding-window and "
            "chunked) ones, the global layers using no position embedding (NoPE: Llama 4, AFMoE); no matmul "
            "changes either way, only the elementwise rotary counted under --nonmatmul"),
    Feature("qk_l2_norm", (False, True), False,
            "queries and keys L2-normalised without weights on the layers that rotate them (Llama 4 "
            "use_qk_norm): no parameters, no matmul; elementwise under --nonmatmul"),
    Feature("bidirectional", (False, True), False,
            "every attention layer bidirectional (Gemma 3 use_bidirectional_attention): a full layer sees "
            "all seq_len keys, a sliding one the keys within window - 1 positions either side; no causal "
            "decode step"),
)

LOCAL = ("sliding_attention", "chunked_attention")


def mask_name(conventions, kind, arch):
    """The mask of a kind's core: the conventions' (conventions.mask_for), except that a
    chunked layer's exact count follows the variant chunked_attention_keys (the keys of
    the query's own chunk, or the last attention_chunk keys transformers computes), and
    that a bidirectional model's exact count sees both sides (a convention's full or
    halved square applies to it as to any layer)."""
    name = conventions.mask_for(kind)
    if arch.feature("bidirectional") and conventions.mask == "causal":
        return {"attention": "bidirectional", "sliding_attention": "bidirectional_window"}[kind]
    if name == "chunked" and conventions.variant("chunked_attention_keys") == "window":
        return "chunked_window"
    return name


def attention_terms(arch, library, conventions, count, kind, component=""):
    """Q/K/V/O projections, their biases, QK norms, an output gate and sinks, and the
    core under the mask the conventions give this kind of layer."""
    formulas = library.formulas
    mask = library.masks[mask_name(conventions, kind, arch)]
    names = ["q_proj", "k_proj", "v_proj", "o_proj"]
    if arch.attention_bias in ("qkv", "all"):
        names.append("qkv_bias")
    if arch.attention_bias == "all":
        names.append("o_bias")
    if arch.feature("attention_output_gate"):
        counted = conventions.variant("output_gate_count") == "counted"
        names.append("attention_output_gate" if counted else "attention_output_gate_uncounted")
    if arch.qk_norm != "none":
        names.append(f"qk_norm_{arch.qk_norm}")
    if arch.feature("attention_sinks"):
        names.append("attention_sinks")
    for name in names:
        yield Term(formulas[name], count, component=component)
    yield Term(formulas["attention_core"], count, mask, component=component)


def mla_terms(arch, library, conventions, count, component=""):
    """MLA's projections, latent norms and core, naive (keys and values up-projected
    for every token, as trained) or absorbed (scores in the latent space)."""
    formulas = library.formulas
    mask = library.masks[conventions.mask_for("mla")]
    names = ["mla_q_a_proj", "mla_q_b_proj", "mla_q_norm"] if arch.q_lora_rank else ["mla_q_proj"]
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


def _elementwise(arch, library, conventions, count, kind):
    """Softmax over the scores, elementwise QK norms, rotary embedding (on the layers
    that rotate: all, or the local ones only)."""
    formulas = library.formulas
    name = conventions.mask_for("mla") if kind == "mla" else mask_name(conventions, kind, arch)
    yield Term(formulas["softmax"], count, library.masks[name])
    rotary = arch.position_embedding == "none" and (
        kind == "mla" or arch.feature("rotary_layers") == "all" or kind in LOCAL)
    if kind != "mla" and arch.qk_norm != "none":
        yield Term(formulas["qk_norm_elementwise"], count)
    if kind != "mla" and arch.feature("qk_l2_norm") and rotary:
        yield Term(formulas["qk_norm_elementwise"], count)
    if rotary:
        yield Term(formulas["rotary_mla" if kind == "mla" else "rotary"], count)


def _gate_variants(arch):
    """The output gate's count is disputed only where the model has one."""
    return ("output_gate_count",) if arch.feature("attention_output_gate") else ()


def _one_way(arch, source):
    if arch.feature("bidirectional"):
        from ..errors import ConfigError
        raise ConfigError(source, "bidirectional", "not modelled for chunked attention layers (expected false)")


def _standard(name, description, count_symbol=None, sizes=(), variants=(), check=None):
    features = ("attention_output_gate", "attention_sinks", "rotary_layers", "qk_l2_norm", "bidirectional")
    return Block(
        name=name, part="mixer", description=description, count_symbol=count_symbol, sizes=("n_heads",) + sizes,
        features=features, variants=variants, variants_for=_gate_variants, check=check,
        terms=lambda arch, library, conventions, count, component="": attention_terms(
            arch, library, conventions, count, name, component),
        nonmatmul=lambda arch, library, conventions, count: _elementwise(arch, library, conventions, count, name))


BLOCKS = (
    _standard("attention", "causal softmax attention over every previous key (GQA/MQA/MHA)"),
    _standard("sliding_attention", "causal softmax attention over the last `window` keys",
              count_symbol="n_window_layers", sizes=("window",)),
    _standard("chunked_attention", "causal softmax attention within the query's own chunk of `attention_chunk` "
                                   "positions (Llama 4's local layers)",
              count_symbol="n_chunked_layers", sizes=("attention_chunk",), variants=("chunked_attention_keys",),
              check=_one_way),
    Block(name="mla", part="mixer", count_symbol="n_mla_layers", sizes=("n_heads",),
          description="multi-head latent attention (DeepSeek-V2/V3): compressed keys and values",
          terms=mla_terms,
          nonmatmul=lambda arch, library, conventions, count: _elementwise(arch, library, conventions, count, "mla")),
)
