"""DeepSeek-V3.2's layer pattern: DSA in every layer, MoE where mlp_layer_types says
"sparse" (transformers 5.23 configuration_deepseek_v32.py, modeling_deepseek_v32.py)."""

from .. import spec
from ..errors import ConfigError
from .common import type_list

# the per-layer MLP kinds of mlp_layer_types
MLP_TYPES = {"dense": "dense", "sparse": "moe"}
# what DeepseekV32Config accepts in layer_types that the model can run: "indexed_attention"
# and its legacy name (configuration_utils._LEGACY_LAYER_TYPE_REMAP)
DSA_TYPES = ("indexed_attention", "deepseek_sparse_attention")
EXPERT_FIELDS = ("n_experts", "top_k", "d_expert", "d_shared", "shared_expert_gate")


def deepseek_v32(reader, rule, fields, layer_types, dense):
    """Every layer is DSA: DeepseekV32DecoderLayer builds DeepseekV32Attention (MLA and
    its indexer) whatever layer_types says, which only picks the cache class, and the
    other types' cache layers cannot hold the indexer's keys: only DSA types are read.
    MLPs: mlp_layer_types ("dense" / "sparse" per layer), else __post_init__'s default,
    the first first_k_dense_replace layers dense and the rest MoE. A model with no sparse
    layer builds no expert: its expert sizes are dropped (`fields` is the reader's own)."""
    n_layers = fields["n_layers"]
    _legacy_num_experts(reader)
    if reader.attrs.get("layer_types") is not None:
        types = reader.attrs["layer_types"]
        written = reader.written.get("layer_types", "layer_types")
        if not isinstance(types, list):
            raise ConfigError(reader.source, written, f"expected a list of layer types ({', '.join(DSA_TYPES)})")
        for i, kind in enumerate(types):
            if kind not in DSA_TYPES:
                raise ConfigError(reader.source, f"{written}[{i}]", f"{kind!r} is not supported by mfu-sym (expected "
                                  f"{' or '.join(DSA_TYPES)}: transformers runs DSA in every DeepSeek-V3.2 layer "
                                  "whatever this says, and the cache of another type cannot hold the indexer's keys)")
        if len(types) != n_layers:
            raise ConfigError(reader.source, reader.written.get("layer_types", "layer_types"),
                              f"has {len(types)} entries (expected one per layer: {n_layers})")
    if reader.attrs.get("mlp_layer_types") is not None:
        names = type_list(reader, "mlp_layer_types", list(MLP_TYPES))
        if len(names) != n_layers:
            raise ConfigError(reader.source, reader.written.get("mlp_layer_types", "mlp_layer_types"),
                              f"has {len(names)} entries (expected one per layer: {n_layers})")
        ffns = [MLP_TYPES[name] for name in names]
    else:
        key = rule["first_dense"]
        first = spec.size(reader.attrs.get(key), reader.source, reader.written.get(key, key), minimum=0)
        ffns = ["dense" if i < first else "moe" for i in range(n_layers)]
    if "moe" not in ffns:
        for field in EXPERT_FIELDS:
            fields.pop(field, None)
    return ["dsa"] * n_layers, ffns


def _legacy_num_experts(reader):
    """__post_init__ moves a `num_experts` keyword into n_routed_experts (the family reads
    it so), but its alias num_local_experts is applied after that: which value wins then
    depends on how the file names it. Two different values are refused."""
    legacy = reader.given.get("num_experts")
    if legacy is None:
        return
    for key in ("n_routed_experts", "num_local_experts"):
        if reader.given.get(key) is not None and reader.given[key] != legacy:
            raise ConfigError(reader.source, "num_experts", f"{legacy!r}, but {key} is {reader.given[key]!r} "
                              "(transformers keeps one or the other depending on which key names it: expected "
                              "one value)")


PATTERNS = {"deepseek_v32": deepseek_v32}
