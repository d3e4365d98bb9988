"""Layer patterns of GLM-4.7-Flash (glm4_moe_lite), ERNIE 4.5 MoE and LongCat-Flash, read
as their transformers 5.23 modeling code decides them.

A family whose every layer ends up dense gets no experts at all in transformers; these
readers then drop the expert sizes from `fields`, as hf.py's moe rule does, so the model
is read as the dense model transformers builds.
"""

from .. import spec
from ..errors import ConfigError
from .common import type_list

_EXPERT_FIELDS = ("n_experts", "top_k", "d_expert", "d_shared", "shared_expert_gate", "n_zero_experts")


def _dense_if_no_experts(fields, ffns, routed):
    if routed not in ffns:
        for field in _EXPERT_FIELDS:
            fields.pop(field, None)
    return ffns


def glm_lite_mlp_layer_types(reader, rule, fields, layer_types, dense):
    """Glm4MoeLiteDecoderLayer: MoE where mlp_layer_types[i] == "sparse"; when the list
    is null, __post_init__ makes the first layer dense and every other one sparse. Every
    layer is MLA."""
    n_layers = fields["n_layers"]
    key = "mlp_layer_types"
    if reader.attrs.get(key) is None:
        names = ["dense"] + ["sparse"] * (n_layers - 1)
    else:
        names = type_list(reader, key, ["dense", "sparse"])
        if len(names) < n_layers:  # transformers indexes the list by layer: a short one fails to build
            raise ConfigError(reader.source, reader.written.get(key, key),
                              f"has {len(names)} entries (expected one per layer: {n_layers})")
        names = names[:n_layers]
    ffns = ["moe" if name == "sparse" else "dense" for name in names]
    return ["mla"] * n_layers, _dense_if_no_experts(fields, ffns, "moe")


def ernie_moe_layers(reader, rule, fields, layer_types, dense):
    """Ernie4_5_MoeDecoderLayer: layer i is MoE when (i + 1) % moe_layer_interval == 0 and
    moe_layer_start_index <= i <= moe_layer_end_index (-1, as __post_init__ reads it:
    the last layer); the others are dense MLPs of intermediate_size."""
    n_layers = fields["n_layers"]
    attrs, source = reader.attrs, reader.source

    def index(key):
        value = attrs.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(source, reader.written.get(key, key),
                              f"{value!r} is not an integer (transformers compares layer indices with it)")
        return value

    interval = spec.size(attrs.get("moe_layer_interval"), source, "moe_layer_interval")
    start, end = index("moe_layer_start_index"), index("moe_layer_end_index")
    end = n_layers - 1 if end == -1 else end
    ffns = ["ernie_moe" if (i + 1) % interval == 0 and start <= i <= end else "dense" for i in range(n_layers)]
    return ["attention"] * n_layers, _dense_if_no_experts(fields, ffns, "ernie_moe")


def longcat_layers(reader, rule, fields, layer_types, dense):
    """LongcatFlashDecoderLayer: each of num_layers layers holds two blocks (attention
    sublayers layer_idx * 2 and layer_idx * 2 + 1, transformers' num_hidden_layers =
    2 * num_layers). Read as two layers of the stack: MLA with a dense MLP and, beside it
    on the same input, the shortcut MoE (dense_zero_moe); then MLA with a dense MLP."""
    n_layers = fields["n_layers"]
    return ["mla"] * n_layers, ["dense_zero_moe" if i % 2 == 0 else "dense" for i in range(n_layers)]


PATTERNS = {
    "glm_lite_mlp_layer_types": glm_lite_mlp_layer_types,
    "ernie_moe_layers": ernie_moe_layers,
    "longcat_layers": longcat_layers,
}
