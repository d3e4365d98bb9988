"""Layer patterns of the Mamba-2 (SSD) families, read as their transformers 5.23 modeling
code decides them.

  ssd_uniform            every layer the same mixer and ffn (rule `mixer`, `ffn`): Mamba-2
                         (mamba2, none), Falcon-H1 (mamba2_hybrid, dense: every layer
                         runs attention and Mamba-2 side by side, then its MLP)
  ssd_attention_indices  Bamba: layer i is attention when i is in attn_layer_indices,
                         else Mamba-2; every layer has its MLP
  ssd_layer_types        Granite 4.0-H: layer_types of linear_attention / full_attention
                         (legacy mamba / attention), default all Mamba-2; every layer has
                         its MoE (dense MLP of shared_intermediate_size without experts)
  ssd_nemotron           Nemotron-H: each layer ONE block, from layers_block_type, else
                         the legacy hybrid_override_pattern string (M Mamba-2, * attention,
                         - MLP, E MoE), else transformers' default [M, E, *, -]

Every rule may name `head_dim`: the attribute that holds the Mamba head width ("auto",
or an integer that times the heads must give the inner width, as the config class's
validate_architecture demands).
"""

from ..errors import ConfigError
from .. import spec

# transformers' remap_legacy_layer_types (configuration_utils.py), applied in __post_init__
_LEGACY = {"mamba": "linear_attention", "attention": "full_attention"}
_PAIRED = {"linear_attention": "mamba2", "full_attention": "attention"}
# NemotronHConfig._pattern_to_list, and each block as a (mixer, ffn) layer of the stack
_NEMOTRON_CHARS = {"M": "linear_attention", "E": "moe", "*": "full_attention", "-": "mlp"}
_NEMOTRON_BLOCKS = {"linear_attention": ("mamba2", "none"), "full_attention": ("attention", "none"),
                    "mlp": ("none", "dense"), "moe": ("none", "latent_moe")}
_NEMOTRON_DEFAULT = ["linear_attention", "moe", "full_attention", "mlp"]
_EXPERT_FIELDS = ("n_experts", "top_k", "d_expert", "d_shared", "moe_latent")


def _written(reader, key):
    return reader.written.get(key, key)


def _check_head_dim(reader, rule, fields):
    """The Mamba head width, where the config gives one, times the heads must be the
    inner width (the config classes refuse anything else)."""
    key = rule.get("head_dim")
    if key is None:
        return
    value = reader.attrs.get(key)
    if value is None or value == "auto":
        return
    value = spec.size(value, reader.source, _written(reader, key))
    heads, inner = fields["ssd_heads"], fields["ssd_inner"]
    if value * heads != inner:
        raise ConfigError(reader.source, _written(reader, key),
                          f"{value} x {heads} heads is {value * heads}, not the Mamba inner width {inner} "
                          "(transformers refuses this config)")


def _drop_experts(fields):
    for name in _EXPERT_FIELDS:
        fields.pop(name, None)


def _types(reader, key, allowed):
    """A list of layer type names, legacy names remapped as transformers does."""
    value = reader.attrs.get(key)
    if not isinstance(value, list):
        raise ConfigError(reader.source, _written(reader, key), f"expected a list of layer types ({', '.join(allowed)})")
    names = []
    for i, name in enumerate(value):
        name = _LEGACY.get(name, name) if isinstance(name, str) else name
        if name not in allowed:
            raise ConfigError(reader.source, f"{_written(reader, key)}[{i}]",
                              f"{value[i]!r} (expected one of {', '.join(allowed)}, or legacy mamba / attention)")
        names.append(name)
    return names


def uniform(reader, rule, fields, layer_types, dense):
    _check_head_dim(reader, rule, fields)
    n = fields["n_layers"]
    return [rule["mixer"]] * n, [rule["ffn"]] * n


def attention_indices(reader, rule, fields, layer_types, dense):
    """Bamba: BambaConfig.layers_block_type (a property) is full_attention for the indices
    in attn_layer_indices, linear_attention elsewhere (indices past the last layer match
    nothing)."""
    _check_head_dim(reader, rule, fields)
    key = rule["key"]
    indices = reader.attrs.get(key)
    if indices is None:
        indices = ()
    elif not isinstance(indices, list):
        raise ConfigError(reader.source, _written(reader, key), "expected a list of layer indices (0-based)")
    indices = set(spec.parse_layer_indices(list(indices), reader.source, _written(reader, key)))
    n = fields["n_layers"]
    return ["attention" if i in indices else "mamba2" for i in range(n)], [rule["ffn"]] * n


def layer_types(reader, rule, fields, layer_types, dense):
    """Granite 4.0-H: layer_types (default: every layer linear_attention); each layer's
    feed-forward block is the MoE with its shared MLP, or the shared MLP alone (a dense
    MLP) when the model has no experts."""
    _check_head_dim(reader, rule, fields)
    key = rule["key"]
    n = fields["n_layers"]
    if reader.attrs.get(key) is None:
        names = ["linear_attention"] * n
    else:
        names = _types(reader, key, list(_PAIRED))
    if len(names) != n:
        raise ConfigError(reader.source, _written(reader, key),
                          f"has {len(names)} entries (expected one per layer: {n})")
    experts = reader.attrs.get(rule["experts"])
    if experts is None:
        raise ConfigError(reader.source, _written(reader, rule["experts"]),
                          "null (transformers compares it with 0: give 0 for a model without experts)")
    if not fields.get("n_experts"):
        _drop_experts(fields)
        return [_PAIRED[name] for name in names], ["dense"] * n
    return [_PAIRED[name] for name in names], ["moe"] * n


def nemotron(reader, rule, fields, layer_types, dense):
    """Nemotron-H: one block per layer. NemotronHConfig takes layers_block_type, else
    converts hybrid_override_pattern, else a default; the number of layers is the list's
    length (a num_hidden_layers in the file is ignored). Legacy keys (mamba_conv_bias, ...)
    replace their fields, as __post_init__ pops them."""
    attrs, source = reader.attrs, reader.source
    if attrs.get("layers_block_type") is not None:
        names = _types(reader, "layers_block_type", list(_NEMOTRON_BLOCKS))
    elif attrs.get("hybrid_override_pattern") is not None:
        pattern = attrs["hybrid_override_pattern"]
        if not isinstance(pattern, str) or not pattern or set(pattern) - set(_NEMOTRON_CHARS):
            raise ConfigError(source, "hybrid_override_pattern",
                              f"{pattern!r} (expected a string of M (Mamba-2), * (attention), - (MLP), E (MoE))")
        names = [_NEMOTRON_CHARS[char] for char in pattern]
    else:
        names = list(_NEMOTRON_DEFAULT)
    given = fields.get("n_layers")
    fields["n_layers"] = spec.size(len(names), source, "layers_block_type")
    if given and given != len(names):
        fields["notes"] = tuple(fields.get("notes", ())) + (
            f"num_hidden_layers ({given}) differs from the {len(names)} layer types; NemotronHConfig derives "
            "the number of layers from the list, as here",)
    if attrs.get("mamba_conv_bias") is not None:  # popped into use_conv_bias by __post_init__
        fields["ssd_conv_bias"] = reader._flag("mamba_conv_bias")
    if "moe" not in names:
        _drop_experts(fields)
    mixers, ffns = zip(*(_NEMOTRON_BLOCKS[name] for name in names))
    return list(mixers), list(ffns)


PATTERNS = {"ssd_uniform": uniform, "ssd_attention_indices": attention_indices, "ssd_layer_types": layer_types,
            "ssd_nemotron": nemotron}
