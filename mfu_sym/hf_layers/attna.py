"""Layer patterns of the dense attention families whose windows need more than the generic
`windows` rule of hf.py: OLMo 3 and Cohere 2 (a sliding-window mask is built at every
forward, so the window must be set), SmolLM3 (windows on its NoPE layers, switched by
use_sliding_window, or given per layer), and the families without windows, where a window
key the modeling code never reads still changes transformers' decode cache."""

from .. import spec
from ..errors import ConfigError
from .common import default_ffns


def _mixers(sliding):
    return ["sliding_attention" if s else "attention" for s in sliding]


def always_windowed(reader, rule, fields, layer_types, dense):
    """OLMo 3, Cohere 2: layer types as the family's `windows` rule reads them (layer_types,
    else every `period`-th layer full). The model builds the sliding-window mask at every
    forward, whatever the layers are, and transformers raises when sliding_window is
    null: so is it refused here."""
    if reader.attrs.get("sliding_window") is None:
        raise ConfigError(reader.source, reader.written.get("sliding_window", "sliding_window"),
                          f"null, but {reader.family['class']}'s model builds a sliding-window mask at every "
                          "forward and transformers fails without a window (expected a positive integer)")
    return _mixers(kind == "sliding_attention" for kind in layer_types), default_ffns(fields, dense)


def smollm3(reader, rule, fields, layer_types, dense):
    """SmolLM3: layer i slides when the config's layer_types says so, else (transformers'
    __post_init__) when use_sliding_window is on, sliding_window is set and layer i is a
    NoPE layer (no_rope_layers[i] == 0; default: every no_rope_layer_interval-th layer).
    `fields["window"]` is set by the family's windows rule only when use_sliding_window is
    on. The attention kernels disagree when layer_types slides with use_sliding_window off
    (eager and SDPA masks slide, flash attention does not): refused. NoPE layers skip the
    rotary embedding only: no matmul FLOPs or parameters change."""
    attrs, source, n_layers = reader.attrs, reader.source, fields["n_layers"]
    rope = _rope_layers(reader, n_layers)
    if attrs.get("layer_types") is None:
        window = fields.get("window", 0)
        return _mixers(bool(window) and not r for r in rope), default_ffns(fields, dense)
    sliding = [kind == "sliding_attention" for kind in spec.parse_layer_types(attrs["layer_types"], source)]
    if any(sliding):
        written = reader.written.get("layer_types", "layer_types")
        if not reader._flag("use_sliding_window"):
            raise ConfigError(source, written, "has sliding_attention layers but use_sliding_window is false: "
                                               "transformers' eager and SDPA masks slide, its flash attention does "
                                               "not (set use_sliding_window, or make every layer full_attention)")
        if attrs.get("sliding_window") is None:
            raise ConfigError(source, reader.written.get("sliding_window", "sliding_window"),
                              "null, but layer_types has sliding_attention layers (transformers fails without a "
                              "window; expected a positive integer)")
    return _mixers(sliding), default_ffns(fields, dense)


def _rope_layers(reader, n_layers):
    """Per layer, whether it applies the rotary embedding (SmolLM3 no_rope_layers: 1 RoPE,
    0 NoPE; indexed by every layer, so a shorter list fails in transformers)."""
    attrs, source = reader.attrs, reader.source
    value = attrs.get("no_rope_layers")
    if value is None:
        interval = spec.size(attrs.get("no_rope_layer_interval"), source, "no_rope_layer_interval")
        return [(i + 1) % interval != 0 for i in range(n_layers)]
    written = reader.written.get("no_rope_layers", "no_rope_layers")
    if not isinstance(value, list):
        raise ConfigError(source, written, "expected a list of 0 (NoPE) and 1 (RoPE), one per layer")
    for i, flag in enumerate(value):
        if flag not in (0, 1) or isinstance(flag, float):
            raise ConfigError(source, f"{written}[{i}]", f"{flag!r} (expected 0 for a NoPE layer or 1 for RoPE)")
    if len(value) < n_layers:
        raise ConfigError(source, written, f"has {len(value)} entries (expected one per layer: {n_layers})")
    return [bool(flag) for flag in value[:n_layers]]


def no_windows(reader, rule, fields, layer_types, dense):
    """GLM, GLM-4, Cohere, Granite, ERNIE 4.5, Hunyuan: every layer attends to every
    previous key. Their attention never reads sliding_window, attention_chunk_size or
    layer_types, but transformers' DynamicCache does (cache_utils.get_layer_types_and_kwargs,
    for any config): a window there makes the cache keep only the last window - 1 positions,
    so decode attends to fewer keys than training did. No one count is what transformers
    executes: such a config is refused."""
    attrs = reader.attrs
    for key in ("sliding_window", "attention_chunk_size"):
        if attrs.get(key) is not None:
            raise ConfigError(reader.source, reader.written.get(key, key),
                              f"{attrs[key]!r}, but {reader.family['class']}'s attention has no window while "
                              "transformers' decode cache would keep only the window (remove it, or set it null)")
    kinds = attrs.get("layer_types")
    if kinds is not None and (not isinstance(kinds, list) or set(kinds) - {"full_attention"}):
        raise ConfigError(reader.source, reader.written.get("layer_types", "layer_types"),
                          f"{kinds!r:.60}: {reader.family['class']}'s attention has no window, but transformers' "
                          "decode cache follows layer_types (expected null, or only full_attention)")
    return ["attention"] * fields["n_layers"], default_ffns(fields, dense)


PATTERNS = {"attna_always_windowed": always_windowed, "attna_smollm3": smollm3, "attna_no_windows": no_windows}
