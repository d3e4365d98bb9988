"""Layer patterns of the linear-attention hybrids: Kimi Linear (KDA and MLA layers,
dense or MoE feed-forward blocks) and MiniMax-Text-01 / M1 (lightning and softmax
attention, MoE everywhere), read as transformers 5.23 reads them.

Both readers also settle what the pattern decides about the sizes: the sizes a kind
needs are dropped when no layer has that kind (a model without KDA layers reads no KDA
size, one without MoE layers no expert size), and Kimi Linear's linear_attn_config dict
overrides the linear_* fields as KimiLinearConfig.__post_init__ does. They write those
into `fields`, the Architecture fields read so far (hf._Reader.architecture builds the
Architecture from them after the pattern).

The family's `stack` rule may list `refuse_keys: {key: [values transformers' model
honours]}` for keys the config class does not declare but published configs carry:
transformers stores them and its modeling code never reads them, so any other value
describes a model transformers does not build (Kimi-K3's latent MoE, gated MLA, block
attention residuals; MiniMax's shared experts).
"""

from ..errors import ConfigError
from .. import spec

# transformers 5.23 configuration_utils._LEGACY_LAYER_TYPE_REMAP, applied by
# PreTrainedConfig.__post_init__ (remap_legacy_layer_types) to every layer_types list
LEGACY_LAYER_TYPES = {"mamba": "linear_attention", "attention": "full_attention"}

KIMI_MIXERS = {"full_attention": "mla", "linear_attention": "kimi_delta_attention"}
KIMI_FFNS = {"dense": "dense", "sparse": "moe"}
KIMI_SIZES = {"kda_heads": ("num_heads", "linear_num_heads"), "kda_head_dim": ("head_dim", "linear_head_dim"),
              "kda_conv_kernel": ("short_conv_kernel_size", "linear_conv_kernel_dim")}
# linear_attn_config keys KimiLinearConfig reads, and those its modeling code ignores
# because they change nothing it builds (gate_lower_bound clamps the forget gate,
# elementwise) or are refused below (use_full_rank_gate)
KIMI_LINEAR_KEYS = ("num_heads", "head_dim", "short_conv_kernel_size", "kda_layers", "full_attn_layers",
                    "gate_lower_bound", "use_full_rank_gate")
MINIMAX_MIXERS = {"full_attention": "attention", "linear_attention": "lightning_attention"}
EXPERT_FIELDS = ("n_experts", "top_k", "d_expert", "d_shared", "shared_expert_gate")


def refuse_keys(reader, rule):
    """Keys of the file that transformers stores without reading, refused unless their
    value is one the model transformers builds has."""
    for key, allowed in (rule.get("refuse_keys") or {}).items():
        if key in reader.given and reader.given[key] not in allowed:
            raise ConfigError(reader.source, key, f"{reader.given[key]!r} is not supported: transformers 5.23's "
                                                  f"{reader.family['class']} does not read it, so the model it builds "
                                                  f"is not the one this describes (expected it absent or "
                                                  f"{' or '.join(map(repr, allowed))})")


def type_names(reader, key, allowed, n_layers):
    """A per-layer list of type names (legacy names remapped as transformers does), each
    one of `allowed`, one per layer."""
    value = reader.attrs.get(key)
    written = reader.written.get(key, key)
    if not isinstance(value, list):
        raise ConfigError(reader.source, written, f"expected a list of layer types ({', '.join(allowed)})")
    names = [LEGACY_LAYER_TYPES.get(name, name) if isinstance(name, str) else name for name in value]
    for i, name in enumerate(names):
        if name not in allowed:
            raise ConfigError(reader.source, f"{written}[{i}]", f"{value[i]!r} (expected one of {', '.join(allowed)})")
    if len(names) != n_layers:
        raise ConfigError(reader.source, written, f"has {len(names)} entries (expected one per layer: {n_layers})")
    return names


def _drop(fields, names):
    for name in names:
        fields.pop(name, None)


# ------------------------------------------------------------------ Kimi Linear


def _linear_attn_config(reader):
    value = reader.attrs.get("linear_attn_config")
    if not isinstance(value, dict):
        raise ConfigError(reader.source, "linear_attn_config", "expected a mapping (head_dim, num_heads, "
                                                               "short_conv_kernel_size, kda_layers, full_attn_layers)")
    for key in value:
        if key not in KIMI_LINEAR_KEYS:
            raise ConfigError(reader.source, f"linear_attn_config.{key}",
                              f"unknown key (expected one of {', '.join(KIMI_LINEAR_KEYS)})")
    if value.get("use_full_rank_gate") not in (None, False):
        raise ConfigError(reader.source, "linear_attn_config.use_full_rank_gate",
                          f"{value['use_full_rank_gate']!r} is not supported: transformers 5.23's KimiLinearDeltaAttention "
                          "always builds the low-rank output gate (g_a_proj, g_b_proj), so a full-rank checkpoint is "
                          "not the model it builds (a model file can say kda_output_gate: full_rank)")
    return value


def _kimi_indices(reader, config, key, n_layers):
    value = config[key]
    where = f"linear_attn_config.{key}"
    if not isinstance(value, list):
        raise ConfigError(reader.source, where, "expected a list of 1-based layer numbers")
    for i, index in enumerate(value):
        if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= n_layers:
            raise ConfigError(reader.source, f"{where}[{i}]",
                              f"{index!r} is not a layer number (1-based: 1 .. {n_layers})")
    return value


def _kimi_layer_types(reader, config, n_layers):
    """KimiLinearConfig.__post_init__: layer_types as given; else the 1-based
    full_attn_layers then kda_layers of linear_attn_config (a layer in both is KDA); else
    every 4th layer from index 4 full attention (i and i % 4 == 0)."""
    allowed = list(KIMI_MIXERS)
    if reader.attrs.get("layer_types") is not None:
        return type_names(reader, "layer_types", allowed, n_layers)
    if "full_attn_layers" in config and "kda_layers" in config:
        types = [None] * n_layers
        for index in _kimi_indices(reader, config, "full_attn_layers", n_layers):
            types[index - 1] = "full_attention"
        for index in _kimi_indices(reader, config, "kda_layers", n_layers):
            types[index - 1] = "linear_attention"
        missing = [i + 1 for i, kind in enumerate(types) if kind is None]
        if missing:
            raise ConfigError(reader.source, "linear_attn_config",
                              f"layer {missing[0]} is in neither kda_layers nor full_attn_layers (transformers "
                              "builds it as KDA but has no mask for it)")
        return types
    return ["full_attention" if i and i % 4 == 0 else "linear_attention" for i in range(n_layers)]


def _kimi_mlp_types(reader, n_layers):
    """mlp_layer_types as given, else dense for the first first_k_dense_replace layers."""
    if reader.attrs.get("mlp_layer_types") is not None:
        return type_names(reader, "mlp_layer_types", list(KIMI_FFNS), n_layers)
    first = spec.size(reader.attrs.get("first_k_dense_replace"), reader.source,
                      reader.written.get("first_k_dense_replace", "first_k_dense_replace"), minimum=0)
    return ["dense" if i < first else "sparse" for i in range(n_layers)]


def kimi_linear_pattern(reader, rule, fields, layer_types, dense):
    refuse_keys(reader, rule)
    config = _linear_attn_config(reader)
    for size, (key, _field) in KIMI_SIZES.items():
        if key in config:  # the checkpoint's dict wins over the linear_* fields
            fields[size] = spec.size(config[key], reader.source, f"linear_attn_config.{key}")
    n_layers = fields["n_layers"]
    types = _kimi_layer_types(reader, config, n_layers)
    mlp = _kimi_mlp_types(reader, n_layers)
    if "linear_attention" not in types:
        _drop(fields, list(KIMI_SIZES) + ["kda_chunk"])
    if "sparse" not in mlp:  # transformers builds no expert at all
        _drop(fields, EXPERT_FIELDS)
    return [KIMI_MIXERS[t] for t in types], [KIMI_FFNS[t] for t in mlp]


# ------------------------------------------------------------------ MiniMax


def _minimax_attn_type_list(reader, types):
    """The remote-code key attn_type_list (0 lightning, 1 softmax) is not read by
    transformers' MiniMaxConfig: accepted only where it agrees with the layer types
    transformers builds."""
    if "attn_type_list" not in reader.given:
        return
    value = reader.given["attn_type_list"]
    legacy = {0: "linear_attention", 1: "full_attention"}
    if not isinstance(value, list) or any(isinstance(v, bool) or v not in legacy for v in value):
        raise ConfigError(reader.source, "attn_type_list", "expected a list of 0 (lightning) and 1 (softmax attention)")
    if [legacy[v] for v in value] != types:
        source = "layer_types" if reader.attrs.get("layer_types") is not None else \
            "its default pattern (full attention on even layers)"
        raise ConfigError(reader.source, "attn_type_list",
                          f"disagrees with {source}: transformers 5.23's MiniMaxConfig does not read attn_type_list "
                          "(the remote-code key) and builds the layers from layer_types (give layer_types)")


def minimax_pattern(reader, rule, fields, layer_types, dense):
    """MiniMaxConfig.__post_init__: layer_types as given, else full attention on even
    layers ((i + 1) % 2) and lightning on odd ones; every layer's MLP is a MoE."""
    refuse_keys(reader, rule)
    n_layers = fields["n_layers"]
    if reader.attrs.get("layer_types") is not None:
        types = type_names(reader, "layer_types", list(MINIMAX_MIXERS), n_layers)
    else:
        types = ["full_attention" if (i + 1) % 2 else "linear_attention" for i in range(n_layers)]
    _minimax_attn_type_list(reader, types)
    if "linear_attention" not in types:
        _drop(fields, ["lightning_block"])
    return [MINIMAX_MIXERS[t] for t in types], ["moe"] * n_layers


PATTERNS = {"kimi_linear": kimi_linear_pattern, "minimax": minimax_pattern}
