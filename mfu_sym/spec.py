"""One validated architecture description, read from the project's model YAML or from a
Hugging Face `config.json` (see `hf.py`).

The model YAML is flat: every field below, validated on load; an unknown field is an
error (a typo must never be silently ignored). `describe_fields()` is the format's
documentation, used by the README and `mfu-sym derive --help`.
"""

from dataclasses import dataclass, fields, replace
from pathlib import Path

from .errors import ConfigError

CHOICES = {
    "mlp": ("gated", "plain"),
    "attention_bias": ("none", "qkv", "all"),
    "qk_norm": ("none", "per_head", "full"),
    "norm": ("rmsnorm", "layernorm", "layernorm_no_bias"),
    "norm_placement": ("pre", "post", "sandwich"),
    "position_embedding": ("none", "learned"),
}
LAYER_TYPES = ("full_attention", "sliding_attention")


@dataclass(frozen=True)
class Architecture:
    """A dense decoder-only transformer. Sizes are positive integers."""

    name: str
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    vocab_size: int
    n_kv_heads: int = 0  # 0: same as n_heads (filled in by validation)
    d_head: int = 0  # 0: d_model / n_heads (filled in by validation)
    mlp: str = "gated"
    mlp_bias: bool = False
    attention_bias: str = "none"
    qk_norm: str = "none"
    norm: str = "rmsnorm"
    norm_placement: str = "pre"
    tied_embeddings: bool = False
    position_embedding: str = "none"
    n_positions: int = 0
    window: int = 0  # 0: no sliding window
    layer_types: tuple = ()  # per layer: full_attention / sliding_attention
    seq_len: int = 0  # default sequence length for a run (0: none given)
    batch: int = 1
    source: str = ""  # where the figures come from

    @property
    def n_window_layers(self):
        return sum(kind == "sliding_attention" for kind in self.layer_types)

    @property
    def norms_per_layer(self):
        return {"pre": 2, "post": 2, "sandwich": 4}[self.norm_placement]

    def values(self):
        """Symbol name -> value for every architecture symbol this model uses."""
        values = {name: getattr(self, name) for name in
                  ("d_model", "n_layers", "n_heads", "n_kv_heads", "d_head", "d_ff", "vocab_size")}
        if self.position_embedding == "learned":
            values["n_positions"] = self.n_positions
        if self.n_window_layers:
            values["window"] = self.window
        if 0 < self.n_window_layers < self.n_layers:
            values["n_window_layers"] = self.n_window_layers
        return values


_DOCS = {
    "name": "display name",
    "source": "where the figures come from (paper, config URL)",
    "d_model": "hidden size",
    "n_layers": "number of transformer layers",
    "n_heads": "query heads",
    "n_kv_heads": "key/value heads (default n_heads; 1 = MQA)",
    "d_head": "width of one head (default d_model / n_heads)",
    "d_ff": "MLP inner width",
    "vocab_size": "vocabulary size",
    "mlp": "gated (SwiGLU/GeGLU, 3 matmuls) or plain (GELU, 2 matmuls)",
    "mlp_bias": "MLP projections have biases",
    "attention_bias": "none, qkv (Q/K/V biases only) or all (O too)",
    "qk_norm": "none, per_head (Qwen3, Gemma 3) or full (OLMo 2)",
    "norm": "rmsnorm, layernorm (scale + bias) or layernorm_no_bias",
    "norm_placement": "pre (2 norms a layer), post (2, OLMo 2) or sandwich (4, Gemma 2/3)",
    "tied_embeddings": "LM head shares the token embedding",
    "position_embedding": "none (rotary, ...) or learned (GPT-2)",
    "n_positions": "rows of a learned position embedding",
    "window": "sliding-window width (keys per query, itself included)",
    "layer_types": "per layer: full_attention or sliding_attention (default: all sliding when window is set)",
    "full_attention_every": "shorthand for layer_types: layers k, 2k, ... full attention, the others sliding (Gemma 3: 6)",
    "seq_len": "default sequence length for a run",
    "batch": "default sequences per step",
}
_REQUIRED = ("d_model", "n_layers", "n_heads", "d_ff", "vocab_size")
_POSITIVE = ("d_model", "n_layers", "n_heads", "d_ff", "vocab_size", "batch")
_OPTIONAL_POSITIVE = ("n_kv_heads", "d_head", "n_positions", "window", "seq_len")
_BOOLS = ("mlp_bias", "tied_embeddings")


def describe_fields():
    return dict(_DOCS)


def from_mapping(data, source):
    """Validate a plain mapping (already parsed) into an Architecture."""
    if not isinstance(data, dict):
        raise ConfigError(source, None, f"expected a mapping of fields, got {type(data).__name__}")
    known = {f.name for f in fields(Architecture)} | {"full_attention_every"}
    for key in data:
        if key not in known:
            import difflib
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else f" (expected one of {', '.join(sorted(known))})"
            raise ConfigError(source, str(key), "unknown field" + hint)
    for key in _REQUIRED:
        if data.get(key) is None:
            raise ConfigError(source, key, f"missing ({_DOCS[key]})")
    values = {}
    for key in _POSITIVE + _OPTIONAL_POSITIVE:
        if data.get(key) is not None:
            values[key] = positive_int(data[key], source, key)
    for key in _BOOLS:
        if key in data:
            if not isinstance(data[key], bool):
                raise ConfigError(source, key, f"{data[key]!r} is not true or false")
            values[key] = data[key]
    for key, choices in CHOICES.items():
        if key in data:
            if data[key] not in choices:
                raise ConfigError(source, key, f"{data[key]!r} (expected one of {', '.join(choices)})")
            values[key] = data[key]
    for key in ("name", "source"):
        if key in data:
            values[key] = str(data[key])
    values.setdefault("name", Path(str(source)).stem)
    if "layer_types" in data:
        values["layer_types"] = parse_layer_types(data["layer_types"], source)
    if data.get("full_attention_every") is not None:
        if "layer_types" in data:
            raise ConfigError(source, "full_attention_every", "give either layer_types or full_attention_every, not both")
        every = positive_int(data["full_attention_every"], source, "full_attention_every")
        values["layer_types"] = tuple("sliding_attention" if (i + 1) % every else "full_attention"
                                      for i in range(values["n_layers"]))
    return validate(Architecture(**values), source)


def positive_int(value, source, field):
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and value > 0:
            raise ConfigError(source, field, f"{value!r} is a float (expected a positive integer such as {int(value)})")
        raise ConfigError(source, field, f"{value!r} is not a positive integer")
    if value <= 0:
        raise ConfigError(source, field, f"{value} is not positive (expected a positive integer)")
    return value


def parse_layer_types(value, source):
    if not isinstance(value, list):
        raise ConfigError(source, "layer_types", f"expected a list of {' / '.join(LAYER_TYPES)}")
    for i, kind in enumerate(value):
        if kind not in LAYER_TYPES:
            raise ConfigError(source, f"layer_types[{i}]", f"{kind!r} (expected {' or '.join(LAYER_TYPES)})")
    return tuple(value)


def validate(arch, source):
    """Fill in derived defaults and check the cross-field rules."""
    changes = {}
    if not arch.n_kv_heads:
        changes["n_kv_heads"] = arch.n_heads
    n_kv_heads = changes.get("n_kv_heads", arch.n_kv_heads)
    if arch.n_heads % n_kv_heads:
        raise ConfigError(source, "n_kv_heads",
                          f"n_heads ({arch.n_heads}) is not divisible by n_kv_heads ({n_kv_heads})")
    if not arch.d_head:
        if arch.d_model % arch.n_heads:
            raise ConfigError(source, "d_head", f"missing, and d_model ({arch.d_model}) is not divisible "
                              f"by n_heads ({arch.n_heads}) (give d_head explicitly)")
        changes["d_head"] = arch.d_model // arch.n_heads
    if arch.position_embedding == "learned" and not arch.n_positions:
        raise ConfigError(source, "n_positions", "missing (needed by position_embedding: learned)")
    if arch.position_embedding == "none" and arch.n_positions:
        raise ConfigError(source, "n_positions", "given, but position_embedding is none (set it to learned)")
    layer_types = arch.layer_types
    if arch.window and not layer_types:
        layer_types = ("sliding_attention",) * arch.n_layers
        changes["layer_types"] = layer_types
    if layer_types:
        if len(layer_types) != arch.n_layers:
            raise ConfigError(source, "layer_types",
                              f"has {len(layer_types)} entries (expected one per layer: {arch.n_layers})")
        if "sliding_attention" in layer_types and not arch.window:
            raise ConfigError(source, "window", "missing (layer_types has sliding_attention layers)")
    return replace(arch, **changes)
