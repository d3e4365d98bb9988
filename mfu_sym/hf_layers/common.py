"""What the layer-pattern readers share: per-layer type lists, default feed-forward kinds,
and the generic `layer_types` pattern."""

from ..errors import ConfigError


def default_ffns(fields, dense):
    """Feed-forward kinds from the moe rule: moe except the dense layers (all dense for
    a dense model)."""
    n_layers = fields["n_layers"]
    if not fields.get("n_experts"):
        return ["dense"] * n_layers
    return ["dense" if i in set(dense) else "moe" for i in range(n_layers)]


def type_list(reader, key, allowed):
    """A per-layer list of type names from attribute `key`, each one of `allowed`."""
    value = reader.attrs.get(key)
    written = reader.written.get(key, key)
    if not isinstance(value, list):
        raise ConfigError(reader.source, written, f"expected a list of layer types ({', '.join(allowed)})")
    for i, kind in enumerate(value):
        if kind not in allowed:
            raise ConfigError(reader.source, f"{written}[{i}]", f"{kind!r} (expected one of {', '.join(allowed)})")
    return value


def layer_types_pattern(reader, rule, fields, layer_types, dense):
    """Per-layer type names (rule `key`, default layer_types) mapped to kinds by
    `types`: name -> mixer kind, or [mixer, ffn] for layers that fix both. When the list
    is absent: every `interval`-th layer (1-based; rule `every_key` names the attribute)
    is `every`, the others `others` (Qwen3-Next's full_attention_interval)."""
    key = rule.get("key", "layer_types")
    types = rule["types"]
    n_layers = fields["n_layers"]
    if reader.attrs.get(key) is not None:
        names = type_list(reader, key, list(types))
    else:
        default = rule.get("default")
        if default is None:
            raise ConfigError(reader.source, key, "missing (the family has no default layer pattern)")
        from .. import spec
        interval = spec.size(reader.attrs.get(default["interval"]), reader.source, default["interval"])
        names = [default["every"] if (i + 1) % interval == 0 else default["others"] for i in range(n_layers)]
    ffns = default_ffns(fields, dense)
    mixers = []
    for i, name in enumerate(names[:n_layers] if len(names) >= n_layers else names):
        kind = types[name]
        if isinstance(kind, list):
            mixers.append(kind[0])
            if i < len(ffns):
                ffns[i] = kind[1]
        else:
            mixers.append(kind)
    if len(names) != n_layers:
        raise ConfigError(reader.source, reader.written.get(key, key),
                          f"has {len(names)} entries (expected one per layer: {n_layers})")
    return mixers, ffns


PATTERNS = {"layer_types": layer_types_pattern}
