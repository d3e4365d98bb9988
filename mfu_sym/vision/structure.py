"""Each family's tower as a list of terms: which formula of formulas/vision.yaml runs how
many times per encoder input, at which quantities (transformers 5.23 module by module).

A term's quantities are sympy expressions in the input's patch grid (grid_h, grid_w), so
one structure gives both the exact count at an image size and the symbolic form.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    formula: str
    forward_count: int  # times it runs in the forward pass
    backward_count: int  # times its backward runs (0 where no gradient reaches it)
    at: tuple = ()  # ((symbol name, value as an expression in grid_h, grid_w), ...)
    params_count: int = -1  # times its parameters exist (-1: forward_count)
    note: str = ""
    downstream: bool = False  # a projector step fed by another projector step, not by the encoder


def terms(config, library):
    """[Term, ...] for one encoder input of the tower described by `config`."""
    gh, gw = library.symbol("grid_h"), library.symbol("grid_w")
    patches = gh * gw
    return _FAMILIES[config.family](config, library, patches, gh, gw)


def _quantity(library, name, config):
    """A vision_quantities closed form at the config's merge (in grid_h, grid_w)."""
    return library.quantities[name].value.subs({library.symbol("merge"): config.merge})


def _layer(n_fwd, n_bwd, tokens, pairs, mlp, norm, norms=2):
    at = (("n_tokens", tokens), ("attn_pairs", pairs))
    return [Term("vit_attention_projections", n_fwd, n_bwd, at), Term("vit_attention_core", n_fwd, n_bwd, at),
            Term(mlp, n_fwd, n_bwd, at), Term(norm, norms * n_fwd, norms * n_bwd)]


def _patch(patches, bias=False, positions=False, cls=False):
    out = [Term("patch_projection", 1, 1, (("n_patches", patches),))]
    if bias:
        out.append(Term("patch_bias", 1, 1))
    if positions:
        out.append(Term("position_table", 1, 1))
    if cls:
        out.append(Term("class_embedding", 1, 1))
    return out


def _siglip(config, library, patches, gh, gw):
    """Gemma 3: SiglipVisionModel (no head) + Gemma3MultiModalProjector."""
    n = config.n_layers
    pooled = _quantity(library, "merged_tokens", config)
    return (_patch(patches, bias=True, positions=True)
            + _layer(n, n, patches, _quantity(library, "full_pairs", config), "vit_mlp", "layer_norm")
            + [Term("layer_norm", 1, 1, note="post_layernorm"), Term("rms_norm", 1, 1, note="mm_soft_emb_norm"),
               Term("mm_projection", 1, 1, (("n_out", pooled),))])


def _llama4(config, library, patches, gh, gw):
    """Llama4VisionModel (class token appended, pixel-shuffle adapter) + Llama4MultiModalProjector."""
    n = config.n_layers
    tokens = patches + 1
    shuffled = _quantity(library, "merged_tokens", config)
    return (_patch(patches, positions=True, cls=True)
            + [Term("layer_norm", 2, 2, note="layernorm_pre, layernorm_post")]
            + _layer(n, n, tokens, tokens ** 2, "vit_mlp", "layer_norm")
            + [Term("pixel_shuffle_adapter", 1, 1, (("n_out", shuffled),)),
               Term("output_projection", 1, 1, (("n_out", shuffled),), downstream=True)])


def _qwen2_5(config, library, patches, gh, gw):
    """Qwen2_5_VisionTransformerPretrainedModel: windowed layers except fullatt_block_indexes."""
    n_full = len(set(config.full_attention_layers))
    n_window = config.n_layers - n_full
    window = library.quantities["window_pairs"].value.subs(
        {library.symbol("merge"): config.merge,
         library.symbol("window_units"): config.window_size // config.merge // config.patch_size})
    merged = _quantity(library, "merged_tokens", config)
    at_full = (("n_tokens", patches), ("attn_pairs", _quantity(library, "full_pairs", config)))
    at_window = (("n_tokens", patches), ("attn_pairs", window))
    return (_patch(patches)
            + [Term("vit_attention_projections", config.n_layers, config.n_layers, at_full),
               Term("vit_attention_core", n_full, n_full, at_full, note="fullatt_block_indexes"),
               Term("vit_attention_core", n_window, n_window, at_window, note="window layers"),
               Term("vit_gated_mlp", config.n_layers, config.n_layers, at_full),
               Term("rms_norm", 2 * config.n_layers, 2 * config.n_layers),
               Term("rms_norm", 1, 1, note="merger ln_q"),
               Term("patch_merger", 1, 1, (("n_out", merged),))])


def _qwen3(config, library, patches, gh, gw):
    """Qwen3VLVisionModel: full attention everywhere, a merger plus one per deepstack layer."""
    n = config.n_layers
    merged = _quantity(library, "merged_tokens", config)
    deep = len(config.deepstack_layers)
    out = (_patch(patches, bias=True, positions=True)
           + _layer(n, n, patches, _quantity(library, "full_pairs", config), "vit_mlp", "layer_norm")
           + [Term("layer_norm", 1, 1, note="merger norm"), Term("patch_merger", 1 + deep, 1 + deep,
                                                                 (("n_out", merged),))])
    if deep:
        out.append(Term("merged_layer_norm", deep, deep, note="deepstack mergers' postshuffle norms"))
    return out


def _idefics3(config, library, patches, gh, gw):
    """Idefics3VisionTransformer / SmolVLMVisionTransformer + the pixel-shuffle connector."""
    n = config.n_layers
    return (_patch(patches, bias=True, positions=True)
            + _layer(n, n, patches, _quantity(library, "full_pairs", config), "vit_mlp", "layer_norm")
            + [Term("layer_norm", 1, 1, note="post_layernorm"),
               Term("shuffle_connector", 1, 1, (("n_out", _quantity(library, "merged_tokens", config)),))])


def llava_layers_used(config):
    """Encoder layers whose output reaches the projector: hidden_states[k] is the output of
    layer k (k = 0 the embeddings); negative k counts from the end (n_layers + 1 states)."""
    n = config.n_layers
    return max(k if k >= 0 else n + 1 + k for k in config.feature_layers)


def _clip(config, library, patches, gh, gw):
    """LLaVA: CLIPVisionModel run to the end (transformers computes every layer and keeps
    all hidden states), LlavaMultiModalProjector on vision_feature_layer's states. The
    layers after the feature layer run forward but get no gradient."""
    n, used = config.n_layers, llava_layers_used(config)
    tokens = patches + 1
    kept = patches if config.select_strategy == "default" else tokens
    out = (_patch(patches, positions=True, cls=True)
           + [Term("layer_norm", 1, 1, note="pre_layrnorm"),
              Term("layer_norm", 1, 0, note="post_layernorm (on the pooled class token, unused)")]
           + _layer(n, used, tokens, tokens ** 2, "vit_mlp", "layer_norm")
           + [Term("mlp_projector", 1, 1, (("n_out", kept), ("n_feature_layers", len(config.feature_layers))))])
    if config.projector_bias:
        out.append(Term("mlp_projector_bias", 1, 1))
    return out


def decoder_tokens(config, library, patches):
    """Tokens one input hands to the decoder, as an expression in its patches."""
    if config.family == "llava":
        return patches if config.select_strategy == "default" else patches + 1
    return _quantity(library, "merged_tokens", config)


_FAMILIES = {"gemma3": _siglip, "llama4": _llama4, "qwen2_5_vl": _qwen2_5, "qwen3_vl": _qwen3,
             "idefics3": _idefics3, "smolvlm": _idefics3, "llava": _clip}
