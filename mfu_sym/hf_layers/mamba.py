"""Layer patterns of the Mamba-1 and short-convolution families: every layer a Mamba
mixer alone (Mamba), Mamba and attention layers by period and offset with MoE layers by
another period and offset (Jamba), and LFM2's conv / attention layers with its MLP width.

Each reader returns (mixers, ffns), one kind per layer, exactly as the family's modeling
code builds the decoder layers (see the docstring of mfu_sym/patterns.py).
"""

from .. import spec
from ..errors import ConfigError
from .common import type_list

# Architecture fields of a mixture of experts, dropped when no layer routes (as hf.py does
# for its `moe` rules: transformers then builds dense MLPs only)
_MOE_FIELDS = ("n_experts", "top_k", "d_expert", "d_shared", "shared_expert_gate")


def mamba_pattern(reader, rule, fields, layer_types, dense):
    """MambaModel: every layer is a norm and a Mamba mixer, no feed-forward block."""
    n_layers = fields["n_layers"]
    return ["mamba"] * n_layers, ["none"] * n_layers


def _period(reader, period_key, offset_key):
    """(period, offset) of a JambaConfig layer rule, validated as JambaConfig does
    (validate_architecture: offset < period; a period of 0 has no layers to pick)."""
    values = []
    for key in (period_key, offset_key):
        value = reader.attrs.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(reader.source, reader.written.get(key, key), f"{value!r} is not an integer")
        values.append(value)
    period, offset = values
    if period < 1:
        raise ConfigError(reader.source, reader.written.get(period_key, period_key),
                          f"{period} is not positive (every {period_key} layers, from {offset_key})")
    if offset >= period:
        raise ConfigError(reader.source, reader.written.get(offset_key, offset_key),
                          f"{offset} is not smaller than {period_key} ({period}) (transformers refuses it)")
    return period, offset


def jamba_pattern(reader, rule, fields, layer_types, dense):
    """JambaConfig.layers_block_type: layer i is attention iff i % attn_layer_period ==
    attn_layer_offset, else Mamba; layers_num_experts: the feed-forward block of layer i
    is a mixture of num_experts experts iff i % expert_layer_period ==
    expert_layer_offset and num_experts > 1, else a dense MLP."""
    n_layers = fields["n_layers"]
    period, offset = _period(reader, "attn_layer_period", "attn_layer_offset")
    expert_period, expert_offset = _period(reader, "expert_layer_period", "expert_layer_offset")
    mixers = ["attention" if i % period == offset else "mamba" for i in range(n_layers)]
    routed = fields.get("n_experts", 0) > 1
    ffns = ["moe" if routed and i % expert_period == expert_offset else "dense" for i in range(n_layers)]
    if "moe" not in ffns:
        for field in _MOE_FIELDS:
            fields.pop(field, None)
    return mixers, ffns


# Lfm2DecoderLayer: any type but "conv" builds attention, and the masks exist for these
# (configuration_utils remaps the legacy "attention" to "full_attention")
_LFM2_TYPES = {"full_attention": "attention", "attention": "attention", "conv": "short_conv"}


def lfm2_pattern(reader, rule, fields, layer_types, dense):
    """Lfm2Config.__post_init__: layer_types as given, else full_attention at the indices
    of full_attn_idxs (every layer when that is null too) and conv elsewhere. Every layer
    has a dense MLP, whose width Lfm2MLP computes (lfm2_ffn_width, stored as d_ff)."""
    n_layers = fields["n_layers"]
    if reader.attrs.get("layer_types") is not None:
        names = type_list(reader, "layer_types", list(_LFM2_TYPES))
        if len(names) != n_layers:
            raise ConfigError(reader.source, reader.written.get("layer_types", "layer_types"),
                              f"has {len(names)} entries (expected one per layer: {n_layers})")
        mixers = [_LFM2_TYPES[name] for name in names]
    else:
        indices = reader.attrs.get("full_attn_idxs")
        if indices is None:
            attention = set(range(n_layers))
        else:
            attention = set(spec.parse_layer_indices(indices, reader.source, "full_attn_idxs"))
        mixers = ["attention" if i in attention else "short_conv" for i in range(n_layers)]
    fields["d_ff"] = lfm2_ffn_width(reader)
    return mixers, ["dense"] * n_layers


def lfm2_ffn_width(reader):
    """Lfm2MLP's width, in the same arithmetic (Python floats and int()): with
    block_auto_adjust_ff_dim, int(2 * intermediate_size / 3), then int(multiplier *
    that) rounded up to a multiple of block_multiple_of (Lfm2MLP skips this step for a
    null multiplier, which Lfm2Config's type refuses); otherwise intermediate_size."""
    attrs, source = reader.attrs, reader.source
    width = spec.size(attrs.get("intermediate_size"), source, reader.written.get("intermediate_size", "intermediate_size"))
    if not reader._flag("block_auto_adjust_ff_dim"):
        return width
    width = int(2 * width / 3)
    multiplier = attrs.get("block_ffn_dim_multiplier")  # typed float | int: Lfm2Config refuses null
    if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)) or not 0 < multiplier < 2**20:
        raise ConfigError(source, "block_ffn_dim_multiplier", f"{multiplier!r} is not a positive number")
    multiple = spec.size(attrs.get("block_multiple_of"), source, "block_multiple_of")
    width = int(multiplier * width)
    width = multiple * ((width + multiple - 1) // multiple)
    return spec.size(width, source, "intermediate_size")


PATTERNS = {"mamba": mamba_pattern, "jamba": jamba_pattern, "lfm2": lfm2_pattern}
