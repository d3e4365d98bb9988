"""Layer patterns of gpt-oss, AFMoE and Llama 4, read as their transformers 5.23 modeling
code decides them.

  window_layers  gpt-oss, AFMoE: `layer_types` of sliding_attention / full_attention,
                 else every `every`-th layer (1-based; an integer or an attribute) full;
                 the first `first_dense` layers (an attribute) keep a dense MLP.
  llama4         Llama 4: chunked_attention where `no_rope_layers` says the layer uses
                 RoPE, full_attention (NoPE) elsewhere, unless `layer_types` is given; MoE
                 where the layer index is in `moe_layers`, else every
                 `interleave_moe_layer_step`-th layer.

Readers set the sizes only the present kinds read (`window`, `attention_chunk`) into the
fields, and drop the experts when no layer has any (transformers then builds the dense
model): a size given for no layer would be refused.
"""

from .. import spec
from ..blocks.ffn import FEATURES as MOE_FEATURES
from ..errors import ConfigError
from .common import type_list

EXPERT_FIELDS = ("n_experts", "top_k", "d_expert", "d_shared", "shared_expert_gate")


def _drop_experts(fields):
    for name in EXPERT_FIELDS + tuple(feature.name for feature in MOE_FEATURES):
        fields.pop(name, None)


def _size(reader, key, minimum=1, why=""):
    value = reader.attrs.get(key)
    if value is None:
        raise ConfigError(reader.source, reader.written.get(key, key),
                          f"null or missing ({why or 'the modeling code needs it'})")
    return spec.size(value, reader.source, reader.written.get(key, key), minimum=minimum)


def _ffns(reader, rule, fields):
    """moe after the first `first_dense` layers (all layers moe without the rule)."""
    n_layers = fields["n_layers"]
    first = 0
    if rule.get("first_dense"):
        first = _size(reader, rule["first_dense"], minimum=0,
                      why="transformers compares every layer index with it to choose a dense MLP or experts")
    ffns = ["dense" if i < first else "moe" for i in range(n_layers)]
    if "moe" not in ffns:
        _drop_experts(fields)
    return ffns


def window_layers(reader, rule, fields, layer_types, dense):
    n_layers = fields["n_layers"]
    if reader.attrs.get("layer_types") is not None:
        names = type_list(reader, "layer_types", ["sliding_attention", "full_attention"])
        if len(names) != n_layers:
            raise ConfigError(reader.source, reader.written.get("layer_types", "layer_types"),
                              f"has {len(names)} entries (expected one per layer: {n_layers})")
    else:
        every = rule["every"]
        if isinstance(every, str):
            every = _size(reader, every, why="it places the full-attention layers")
        names = ["sliding_attention" if (i + 1) % every else "full_attention" for i in range(n_layers)]
    mixers = ["sliding_attention" if name == "sliding_attention" else "attention" for name in names]
    if "sliding_attention" in mixers:
        fields["window"] = _size(reader, "sliding_window", why="the model has sliding_attention layers, whose "
                                                               "mask transformers cannot build without it")
    return mixers, _ffns(reader, rule, fields)


def _flags(reader, key, n_layers):
    """A per-layer list of 0/1 with at least n_layers entries (Llama 4 no_rope_layers:
    1 = the layer uses RoPE)."""
    value, written = reader.attrs.get(key), reader.written.get(key, key)
    if not isinstance(value, list):
        raise ConfigError(reader.source, written, "expected a list of 0 and 1, one per layer")
    for i, flag in enumerate(value):
        if isinstance(flag, bool) or flag not in (0, 1):
            raise ConfigError(reader.source, f"{written}[{i}]", f"{flag!r} (expected 0 or 1)")
    if len(value) < n_layers:
        raise ConfigError(reader.source, written, f"has {len(value)} entries (expected at least one per layer: "
                                                  f"{n_layers})")
    return value


def _moe_layers(reader, n_layers):
    """Indices of the MoE layers: moe_layers (indices past the last layer, or negative,
    match no layer, as transformers' `layer_idx in moe_layers`), else every
    interleave_moe_layer_step-th layer."""
    value = reader.attrs.get("moe_layers")
    if value is None:
        step = _size(reader, "interleave_moe_layer_step", why="it places the MoE layers when moe_layers is null")
        return set(range(step - 1, n_layers, step))
    written = reader.written.get("moe_layers", "moe_layers")
    if not isinstance(value, list):
        raise ConfigError(reader.source, written, "expected a list of layer indices")
    for i, index in enumerate(value):
        if isinstance(index, bool) or not isinstance(index, int):
            raise ConfigError(reader.source, f"{written}[{i}]", f"{index!r} is not a layer index (an integer)")
    return set(value)


def llama4(reader, rule, fields, layer_types, dense):
    n_layers = fields["n_layers"]
    interval = _size(reader, "no_rope_layer_interval", why="transformers computes the default no_rope_layers "
                                                           "with it whether or not they are given")
    given = reader.attrs.get("no_rope_layers")
    rope = _flags(reader, "no_rope_layers", n_layers) if given else \
        [int((i + 1) % interval != 0) for i in range(n_layers)]
    if reader.attrs.get("layer_types") is not None:
        names = type_list(reader, "layer_types", ["chunked_attention", "full_attention"])
    else:
        names = ["chunked_attention" if flag else "full_attention" for flag in rope]
    if len(names) != n_layers:
        raise ConfigError(reader.source, reader.written.get("layer_types", "layer_types"),
                          f"has {len(names)} entries (expected one per layer: {n_layers})")
    for i, name in enumerate(names):
        if (name == "chunked_attention") != bool(rope[i]):
            raise ConfigError(reader.source, f"layer_types[{i}]",
                              f"{name!r}, but no_rope_layers[{i}] is {rope[i]}: mfu-sym ties RoPE and the L2 QK norm "
                              "to the chunked layers and NoPE to the global ones, as Llama 4 builds them (expected "
                              "chunked_attention exactly where no_rope_layers is 1)")
    mixers = ["chunked_attention" if name == "chunked_attention" else "attention" for name in names]
    if "chunked_attention" in mixers:
        fields["attention_chunk"] = _size(reader, "attention_chunk_size",
                                          why="the model has chunked_attention layers, whose mask transformers "
                                              "cannot build without it")
    moe = _moe_layers(reader, n_layers)
    ffns = ["moe" if i in moe else "dense" for i in range(n_layers)]
    if "moe" not in ffns:
        _drop_experts(fields)
    return mixers, ffns


PATTERNS = {"window_layers": window_layers, "llama4": llama4}
