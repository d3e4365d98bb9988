"""A multimodal config.json's vision part -> VisionConfig, as transformers reads it.

The whole config dict is given (gemma3, llama4, qwen2_5_vl, qwen3_vl, idefics3, smolvlm,
llava); its `vision_config` is read with the vision class's defaults (formulas/vision.yaml),
plus the outer keys the projector needs and the text width it writes into. A value the
tower cannot honour (a head it does not model, sizes transformers would reject) is a
ConfigError naming the field; a key no reader knows is a note.
"""

from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType

from ..errors import ConfigError

# keys that change neither FLOPs nor parameters (activation choice, eps, dropout, init,
# rotary frequencies, dtypes, token ids, labels) and PretrainedConfig's own bookkeeping
IGNORED = frozenset({
    "model_type", "hidden_act", "layer_norm_eps", "norm_eps", "attention_dropout", "dropout", "initializer_range",
    "initializer_factor", "rope_parameters", "rope_theta", "rope_scaling", "torch_dtype", "dtype",
    "tokens_per_second", "projector_dropout", "attn_implementation", "_attn_implementation_autoset",
    "transformers_version", "architectures", "_name_or_path", "use_cache", "return_dict", "output_hidden_states",
    "output_attentions", "torchscript", "use_bfloat16", "pruned_heads", "tie_word_embeddings", "is_decoder",
    "is_encoder_decoder", "add_cross_attention", "chunk_size_feed_forward", "id2label", "label2id", "problem_type",
    "tokenizer_class", "prefix", "bos_token_id", "pad_token_id", "eos_token_id", "sep_token_id",
    "decoder_start_token_id", "task_specific_params", "finetuning_task", "tie_encoder_decoder",
    "cross_attention_hidden_size", "max_length", "min_length", "do_sample", "early_stopping", "num_beams",
    "num_beam_groups", "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty",
    "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
    "num_return_sequences", "output_scores", "return_dict_in_generate", "forced_bos_token_id",
    "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
    "begin_suppress_tokens", "tf_legacy_loss", "in_chans", "spatial_patch_size", "projection_dim", "vocab_size",
    # Llama 4's vision config carries keys its modeling code never reads for the tower
    "vision_feature_layer", "vision_feature_select_strategy", "multi_modal_projector_bias",
})


@dataclass(frozen=True)
class VisionConfig:
    family: str  # model_type of the composite config
    source: str
    d_vision: int
    d_ff: int
    n_layers: int
    n_heads: int
    patch_size: int
    in_channels: int
    d_text: int
    temporal_patch: int = 1
    image_size: int = 0  # the fixed square input side (0: dynamic resolution, Qwen)
    merge: int = 1  # m x m patches -> one decoder token (pool kernel, shuffle factor, spatial merge)
    d_out: int = 0  # Qwen out_hidden_size, Llama 4 vision_output_dim
    d_adapter: int = 0  # Llama 4 projector_input_dim
    d_adapter_out: int = 0  # Llama 4 projector_output_dim
    n_positions: int = 0  # rows of the learned position table
    full_attention_layers: tuple = ()  # Qwen2.5-VL fullatt_block_indexes
    window_size: int = 0  # Qwen2.5-VL window side in pixels
    deepstack_layers: tuple = ()  # Qwen3-VL deepstack_visual_indexes
    feature_layers: tuple = ()  # LLaVA vision_feature_layer(s), as given (negative allowed)
    select_strategy: str = ""  # LLaVA: "default" drops the class token, "full" keeps it
    projector_bias: bool = False
    processor: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    notes: tuple = ()


def _int(source, field_name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(source, field_name, f"{value!r} is not an integer")
    if value < minimum:
        raise ConfigError(source, field_name, f"{value} is out of range (expected >= {minimum})")
    return value


def _divides(source, field_name, small, big, what):
    if big % small:
        raise ConfigError(source, field_name, f"{small} does not divide {what} ({big})")


def read(config, family, source):
    """VisionConfig of `config` (a composite config dict) for `family` (library.Family)."""
    vision = config.get("vision_config")
    if vision is None:
        vision = dict(family.absent_vision or {})
    if not isinstance(vision, dict):
        raise ConfigError(source, "vision_config", f"expected a JSON object, got {type(vision).__name__}")
    where = "vision_config"
    values = {**family.vision_defaults, **vision}
    outer = {**family.outer_defaults, **{k: config[k] for k in family.outer_defaults if config.get(k) is not None}}
    text = config.get("text_config") or {}
    if not isinstance(text, dict):
        raise ConfigError(source, "text_config", f"expected a JSON object, got {type(text).__name__}")
    d_text = _int(source, "text_config.hidden_size", text.get("hidden_size", family.text_hidden_default))

    def get(key, minimum=1):
        return _int(source, f"{where}.{key}", values[key], minimum)

    known = set(family.vision_defaults) | IGNORED
    reader = _READERS[family.model_type]
    fields, read_keys = reader(values, outer, get, source, where)
    known |= read_keys
    unknown = sorted(k for k in vision if k not in known)
    notes = ()
    if unknown:
        notes = (f"{where}: {', '.join(unknown)}: not read by the vision tower of {family.vision_class} "
                 f"(transformers stores them; they change no FLOPs or parameters that mfu-sym knows of)",)
    d_vision, n_heads = fields["d_vision"], fields["n_heads"]
    _divides(source, f"{where}.num_attention_heads", n_heads, d_vision, "hidden_size")
    return VisionConfig(family=family.model_type, source=str(source), d_text=d_text,
                        processor=family.processor, notes=notes, **fields)


def _vit(get, layers_key="num_hidden_layers", heads_key="num_attention_heads", channels_key="num_channels"):
    return dict(d_vision=get("hidden_size"), d_ff=get("intermediate_size"), n_layers=get(layers_key),
                n_heads=get(heads_key), patch_size=get("patch_size"), in_channels=get(channels_key))


def _square(get, source, where):
    """The square input side and the position-table rows: a stride-p convolution (or
    unfold) keeps floor(image_size / p) patches a side (SmolVLM: 384 px, p 14 -> 27)."""
    image, patch = get("image_size"), get("patch_size")
    if image < patch:
        raise ConfigError(source, f"{where}.patch_size", f"{patch} is larger than image_size ({image})")
    return image, (image // patch) ** 2


def _gemma3(values, outer, get, source, where):
    if values.get("vision_use_head"):
        raise ConfigError(source, f"{where}.vision_use_head", "true builds SigLIP's attention-pooling head, which "
                                                              "Gemma 3 never uses and mfu-sym does not model "
                                                              "(published Gemma 3 configs set false)")
    fields = _vit(get)
    image, positions = _square(get, source, where)
    tokens = _int(source, "mm_tokens_per_image", outer["mm_tokens_per_image"])
    side = _isqrt_exact(tokens)
    per_side = image // fields["patch_size"]
    if side is None or per_side % side:
        raise ConfigError(source, "mm_tokens_per_image", f"{tokens} is not the square of a divisor of the "
                                                         f"patches per side ({per_side}): the average pool needs one")
    return dict(fields, image_size=image, n_positions=positions, merge=per_side // side), set()


def _llama4(values, outer, get, source, where):
    fields = _vit(get)
    image, positions = _square(get, source, where)
    ratio = values["pixel_shuffle_ratio"]
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or ratio <= 0 \
            or Fraction(ratio).limit_denominator(64).numerator != 1:
        raise ConfigError(source, f"{where}.pixel_shuffle_ratio", f"{ratio!r} (expected 1/k for a whole k, "
                                                                   "e.g. 0.5)")
    merge = Fraction(ratio).limit_denominator(64).denominator
    if fields["d_vision"] * merge * merge != fields["d_ff"]:
        raise ConfigError(source, f"{where}.intermediate_size",
                          f"{fields['d_ff']} must equal hidden_size / pixel_shuffle_ratio^2 "
                          f"({fields['d_vision'] * merge * merge}): the adapter's fc1 reads intermediate_size inputs")
    d_adapter, d_adapter_out = get("projector_input_dim"), get("projector_output_dim")
    d_out = get("vision_output_dim")
    if d_adapter != d_adapter_out or d_out != d_adapter_out:
        raise ConfigError(source, f"{where}.projector_output_dim",
                          f"projector_input_dim ({d_adapter}), projector_output_dim ({d_adapter_out}) and "
                          f"vision_output_dim ({d_out}) must be equal: fc2 and the projector read fc1's output")
    if (image // fields["patch_size"]) % merge:
        raise ConfigError(source, f"{where}.pixel_shuffle_ratio", "the pixel shuffle needs patches per side "
                                                                  f"({image // fields['patch_size']}) divisible by {merge}")
    return dict(fields, image_size=image, n_positions=positions + 1, merge=merge, d_out=d_out, d_adapter=d_adapter,
                d_adapter_out=d_adapter_out), set()


def _qwen_common(values, get, source, where):
    fields = _vit(get, layers_key="depth", heads_key="num_heads", channels_key="in_channels")
    fields.update(temporal_patch=get("temporal_patch_size"), merge=get("spatial_merge_size"),
                  d_out=get("out_hidden_size"))
    return fields


def _indexes(source, key, value, n_layers):
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise ConfigError(source, key, f"{value!r} is not a list of layer indexes")
    bad = [i for i in value if not 0 <= i < n_layers]
    if bad:
        raise ConfigError(source, key, f"{bad[0]} is not a layer of the tower (expected 0 to {n_layers - 1})")
    return tuple(value)


def _qwen2_5_vl(values, outer, get, source, where):
    fields = _qwen_common(values, get, source, where)
    window = get("window_size")
    _divides(source, f"{where}.window_size", fields["merge"] * fields["patch_size"], window,
             "window_size (a window is whole merged units)")
    full = _indexes(source, f"{where}.fullatt_block_indexes", values["fullatt_block_indexes"], fields["n_layers"])
    return dict(fields, window_size=window, full_attention_layers=full), set()


def _qwen3_vl(values, outer, get, source, where):
    fields = _qwen_common(values, get, source, where)
    deep = _indexes(source, f"{where}.deepstack_visual_indexes", values["deepstack_visual_indexes"],
                    fields["n_layers"])
    return dict(fields, n_positions=get("num_position_embeddings"), deepstack_layers=deep), set()


def _idefics3(values, outer, get, source, where):
    fields = _vit(get)
    image, positions = _square(get, source, where)
    scale = _int(source, "scale_factor", outer["scale_factor"])
    if (image // fields["patch_size"]) % scale:
        raise ConfigError(source, "scale_factor", f"{scale} does not divide the patches per side "
                                                  f"({image // fields['patch_size']})")
    return dict(fields, image_size=image, n_positions=positions, merge=scale), set()


def _llava(values, outer, get, source, where):
    fields = _vit(get)
    image, positions = _square(get, source, where)
    layers = outer["vision_feature_layer"]
    layers = tuple(layers) if isinstance(layers, list) else (layers,)
    n = fields["n_layers"]
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, int) or not -(n + 1) <= layer <= n:
            raise ConfigError(source, "vision_feature_layer", f"{layer!r} is not a hidden-state index of a "
                                                              f"{n}-layer tower (expected -{n + 1} to {n})")
    strategy = outer["vision_feature_select_strategy"]
    if strategy not in ("default", "full"):
        raise ConfigError(source, "vision_feature_select_strategy", f"{strategy!r} (expected default or full)")
    bias = outer["multimodal_projector_bias"]
    if not isinstance(bias, bool):
        raise ConfigError(source, "multimodal_projector_bias", f"{bias!r} is not true or false")
    return dict(fields, image_size=image, n_positions=positions + 1, feature_layers=layers,
                select_strategy=strategy, projector_bias=bias), set()


def _isqrt_exact(n):
    from math import isqrt
    root = isqrt(n)
    return root if root * root == n else None


_READERS = {"gemma3": _gemma3, "llama4": _llama4, "qwen2_5_vl": _qwen2_5_vl, "qwen3_vl": _qwen3_vl,
            "idefics3": _idefics3, "smolvlm": _idefics3, "llava": _llava}
