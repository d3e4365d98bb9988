"""Layer patterns of the linear-attention hybrids whose rules go beyond the generic
`layer_types` pattern: OLMo Hybrid."""

from ..errors import ConfigError
from .common import default_ffns, type_list


def olmo_hybrid_pattern(reader, rule, fields, layer_types, dense):
    """OlmoHybridConfig: `layer_types`, else every 4th layer (1-based) full attention
    and, when that leaves none (fewer than 4 layers), the last one; either way at least
    one linear-attention and one attention layer, or transformers refuses the config
    (validate_architecture). Rule `types` maps the type names to mixer kinds."""
    types = rule["types"]
    n_layers = fields["n_layers"]
    key = "layer_types"
    written = reader.written.get(key, key)
    if reader.attrs.get(key) is not None:
        names = list(type_list(reader, key, list(types)))
    else:
        names = ["full_attention" if i % 4 == 3 else "linear_attention" for i in range(n_layers)]
        if "full_attention" not in names:
            names[-1] = "full_attention"
    if len(names) != n_layers:
        raise ConfigError(reader.source, written, f"has {len(names)} entries (expected one per layer: {n_layers})")
    for kind, missing in (("linear_attention", "no linear_attention layer"),
                          ("full_attention", "no attention layer (every layer is linear_attention)")):
        if kind not in names:
            raise ConfigError(reader.source, written, f"{missing}: transformers' OlmoHybridConfig refuses it "
                                                      "(expected at least one of each)")
    return [types[name] for name in names], default_ffns(fields, dense)


PATTERNS = {"olmo_hybrid": olmo_hybrid_pattern}
