"""One validated architecture description, read from the project's model YAML or from a
Hugging Face `config.json` (see `hf.py`).

The model YAML is flat: every field below, validated on load; an unknown field is an
error (a typo must never be silently ignored). The README documents the format; `_DOCS`
below gives each field's meaning for error messages.
"""

from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from . import kinds, stack
from .errors import ConfigError

# Bounds checked before anything is built: a per-layer list is allocated for n_layers,
# and no transformer has sizes near these.
MAX_LAYERS = 100_000
MAX_SIZE = 2**53

CHOICES = {
    "mlp": ("gated", "plain"),
    "attention_bias": ("none", "qkv", "all"),
    "qk_norm": ("none", "per_head", "full"),
    "norm": ("rmsnorm", "layernorm", "layernorm_no_bias"),
    "norm_placement": ("pre", "post", "sandwich", "parallel"),
    "position_embedding": ("none", "learned"),
    "expert_mlp": ("gated", "plain"),
}
LAYER_TYPES = ("full_attention", "sliding_attention")


@dataclass(frozen=True)
class Architecture:
    """A decoder-only transformer, dense or mixture-of-experts, with standard or latent
    (MLA) attention. Sizes are positive integers; 0 means "none" for optional parts."""

    name: str
    d_model: int
    n_layers: int
    n_heads: int = 0  # 0: no attention layer (needed by the attention kinds)
    d_ff: int = 0  # 0: no dense MLP (needed by the dense ffn kind)
    vocab_size: int = 0
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
    layers: tuple = ()  # the layer stack (stack.LayerGroup), built by validate()
    # mixture of experts (n_experts 0: dense)
    n_experts: int = 0
    top_k: int = 0
    d_expert: int = 0
    expert_mlp: str = "gated"
    d_shared: int = 0  # total width of the shared experts (0: none)
    shared_expert_gate: bool = False
    # multi-head latent attention (kv_lora_rank 0: ordinary attention)
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    n_mtp_layers: int = 0  # multi-token-prediction modules
    sizes: tuple = ()  # ((symbol, value), ...): the sizes of other mixers and blocks (blocks/)
    features: tuple = ()  # ((name, value), ...): model-wide choices blocks read (kinds.FEATURES)
    seq_len: int = 0  # default sequence length for a run (0: none given)
    batch: int = 1
    context_len: int = 0  # the longest context the model supports (reported; never a run's length)
    source: str = ""  # where the figures come from
    notes: tuple = ()  # what reading the file noticed (keys transformers would not read)
    origin: object = field(default=None, compare=False, repr=False)  # loader.ModelSource, when read from a file

    @property
    def n_window_layers(self):
        return stack.count_of(self.layers, "mixer", "sliding_attention")

    @property
    def n_moe_layers(self):
        return stack.count_of(self.layers, "ffn", "moe")

    def size(self, name):
        """A size symbol's value: an Architecture field, or one of `sizes` (0: not given)."""
        if name in _FIELD_NAMES:
            return getattr(self, name)
        return dict(self.sizes).get(name, 0)

    def feature(self, name):
        """A feature's value, or its default (kinds.FEATURES)."""
        chosen = dict(self.features)
        return chosen[name] if name in chosen else kinds.FEATURES[name].default

    def blocks(self):
        """The Blocks of the stack's kinds, mixers first."""
        return [kinds.get(part, kind) for part in kinds.PARTS for kind in stack.counts(self.layers, part)]

    @property
    def layer_types(self):
        """Per layer: full_attention or sliding_attention (transformers' layer_types)."""
        return tuple("sliding_attention" if mixer == "sliding_attention" else "full_attention"
                     for mixer, _ in stack.layers(self.layers))

    @property
    def mla(self):
        return self.kv_lora_rank > 0

    @property
    def norms_per_layer(self):
        return {"pre": 2, "post": 2, "sandwich": 4, "parallel": 1}[self.norm_placement]

    def values(self):
        """Symbol name -> value for every architecture symbol this model uses."""
        values = {name: getattr(self, name) for name in
                  ("d_model", "n_layers", "n_heads", "n_kv_heads", "d_head", "d_ff", "vocab_size") if getattr(self, name)}
        if self.position_embedding == "learned":
            values["n_positions"] = self.n_positions
        if self.n_window_layers:
            values["window"] = self.window
        if self.n_experts:
            values.update(n_experts=self.n_experts, top_k=self.top_k, d_expert=self.d_expert)
            if self.d_shared:
                values["d_shared"] = self.d_shared
        values.update(stack.count_values(self.layers))  # n_window_layers, n_moe_layers, ...: counted
        for block in self.blocks():
            for name in block.sizes + block.optional_sizes:
                if self.size(name):
                    values[name] = self.size(name)
        if self.mla:
            for name in ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
                values[name] = getattr(self, name)
            if self.q_lora_rank:
                values["q_lora_rank"] = self.q_lora_rank
        if self.n_mtp_layers:
            values["n_mtp_layers"] = self.n_mtp_layers
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
    "norm_placement": "pre (2 norms a layer), post (2, OLMo 2), sandwich (4, Gemma 2/3) or parallel (1, PaLM)",
    "tied_embeddings": "LM head shares the token embedding",
    "position_embedding": "none (rotary, ...) or learned (GPT-2)",
    "n_positions": "rows of a learned position embedding",
    "window": "sliding-window width (keys per query, itself included)",
    "layer_types": "per layer: full_attention or sliding_attention (default: all sliding when window is set)",
    "full_attention_every": "shorthand for layer_types: layers k, 2k, ... full attention, the others sliding (Gemma 3: 6)",
    "n_experts": "routed experts per MoE layer (0: dense model)",
    "top_k": "routed experts per token",
    "d_expert": "inner width of one routed expert",
    "expert_mlp": "gated or plain routed experts",
    "d_shared": "total inner width of the shared experts (0: none)",
    "shared_expert_gate": "a d_model -> 1 sigmoid gate on the shared expert (Qwen2-MoE)",
    "dense_layers": "indices of layers whose MLP stays dense (DeepSeek: the first 3)",
    "layers": "the layer stack as groups in order: [{count: 3, mixer: mla, ffn: dense}, {count: 58, ffn: moe}]",
    "first_dense_layers": "shorthand for dense_layers: the first k layers stay dense (DeepSeek-V3: 3)",
    "q_lora_rank": "MLA query compression rank (0: a plain query projection)",
    "kv_lora_rank": "MLA key/value compression rank (0: no MLA)",
    "qk_nope_head_dim": "MLA per-head key width without rotary embedding",
    "qk_rope_head_dim": "MLA per-head key width with rotary embedding",
    "v_head_dim": "MLA per-head value width",
    "n_mtp_layers": "multi-token-prediction modules (left out of totals unless --mtp)",
    "seq_len": "default sequence length for a run",
    "batch": "default sequences per step",
}
_REQUIRED = ("d_model", "n_layers", "vocab_size")  # and what the stack's blocks need (Block.sizes)
_POSITIVE = ("d_model", "n_layers", "n_heads", "d_ff", "vocab_size", "batch", "n_kv_heads", "d_head", "n_positions",
             "seq_len", "top_k", "d_expert", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
# optional parts, where 0 means "none" (as transformers reads num_nextn_predict_layers: 0)
_NONE_IF_ZERO = ("window", "n_experts", "d_shared", "q_lora_rank", "kv_lora_rank", "n_mtp_layers")
_BOOLS = ("mlp_bias", "tied_embeddings", "shared_expert_gate")
SIZE_FIELDS = tuple(k for k in _POSITIVE + _NONE_IF_ZERO if k not in ("seq_len", "batch"))
_TEXT = ("name", "source")
_FIELD_NAMES = {f.name for f in fields(Architecture)}


def block_sizes():
    """Size symbols that some block reads and the Architecture has no field for."""
    names = {name for part in kinds.PARTS for kind in kinds.kinds(part)
             for name in kinds.get(part, kind).sizes + kinds.get(part, kind).optional_sizes}
    return tuple(sorted(names - _FIELD_NAMES))


def from_mapping(data, source):
    """Validate a plain mapping (already parsed) into an Architecture."""
    if not isinstance(data, dict):
        raise ConfigError(source, None, f"expected a mapping of fields, got {type(data).__name__}")
    known = ({f.name for f in fields(Architecture)} - {"notes", "origin", "context_len", "sizes", "features"}
             | {"layer_types", "full_attention_every", "dense_layers", "first_dense_layers"}
             | set(block_sizes()) | set(kinds.FEATURES))
    for key in data:
        if key not in known:
            import difflib
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else f" (expected one of {', '.join(sorted(known))})"
            raise ConfigError(source, str(key), "unknown field" + hint)
    for key in _REQUIRED:
        if data.get(key) is None and not (key == "n_layers" and "layers" in data):
            raise ConfigError(source, key, f"missing ({_DOCS[key]})")
    values = {}
    for key in _POSITIVE + _NONE_IF_ZERO:
        if data.get(key) is not None:
            values[key] = size(data[key], source, key, minimum=0 if key in _NONE_IF_ZERO else 1)
    sizes = {key: size(data[key], source, key) for key in block_sizes() if data.get(key) is not None}
    if sizes:
        values["sizes"] = tuple(sorted(sizes.items()))
    features = {key: feature_value(key, data[key], source) for key in kinds.FEATURES if key in data}
    if features:
        values["features"] = tuple(sorted(features.items()))
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
    for key in _TEXT:
        if data.get(key) is not None:
            if not isinstance(data[key], str):
                raise ConfigError(source, key, f"{data[key]!r} is not text (expected a string)")
            values[key] = display_name(data[key])
    values.setdefault("name", display_name(Path(str(source)).stem))
    layer_types, dense_layers, groups = _layer_inputs(data, values, source)
    return validate(Architecture(**values), source, layer_types=layer_types, dense_layers=dense_layers,
                    groups=groups)


def _layer_inputs(data, values, source):
    """(layer_types, dense_layers, groups) from the ways the format can give the stack: an
    explicit `layers:` list of groups, or per-layer patterns and their shorthands."""
    groups = None
    if "layers" in data:
        for key in ("layer_types", "full_attention_every", "dense_layers", "first_dense_layers"):
            if key in data:
                raise ConfigError(source, key, "give either layers or the per-layer fields, not both")
        default_mixer = "mla" if values.get("kv_lora_rank") else "attention"
        default_ffn = "moe" if values.get("n_experts") else "dense"
        groups = _parse_groups(data["layers"], source, default_mixer, default_ffn)
        values.setdefault("n_layers", len(groups[0]))
        if values["n_layers"] != len(groups[0]):
            raise ConfigError(source, "n_layers", f"{values['n_layers']}, but the layers add up to {len(groups[0])}")
    layer_types = parse_layer_types(data["layer_types"], source) if "layer_types" in data else ()
    dense_layers = parse_layer_indices(data["dense_layers"], source, "dense_layers") if "dense_layers" in data else ()
    if data.get("full_attention_every") is not None:
        if "layer_types" in data:
            raise ConfigError(source, "full_attention_every", "give either layer_types or full_attention_every, not both")
        every = size(data["full_attention_every"], source, "full_attention_every")
        layer_types = tuple("sliding_attention" if (i + 1) % every else "full_attention"
                            for i in range(values["n_layers"]))
    if data.get("first_dense_layers") is not None:
        if "dense_layers" in data:
            raise ConfigError(source, "first_dense_layers", "give either dense_layers or first_dense_layers, not both")
        first = size(data["first_dense_layers"], source, "first_dense_layers", minimum=0)
        dense_layers = tuple(range(min(first, values["n_layers"])))
    return layer_types, dense_layers, groups


def feature_value(name, value, source):
    choices = kinds.FEATURES[name].choices
    if value not in choices or type(value) is not type(choices[0]):
        raise ConfigError(source, name, f"{_short(value)} (expected one of {', '.join(map(_yaml, choices))}: "
                                        f"{kinds.FEATURES[name].description})")
    return value


def _yaml(value):
    return {True: "true", False: "false"}.get(value, str(value)) if isinstance(value, bool) else str(value)


def size(value, source, field, minimum=1):
    """A size read from a file: an integer >= minimum (1, or 0 where 0 means "none"),
    bounded (MAX_LAYERS for layer counts, MAX_SIZE otherwise) so that nothing built from
    it can run without bound."""
    kind = "a positive integer" if minimum else "a non-negative integer"
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and value >= minimum and abs(value) < 1e16:
            raise ConfigError(source, field, f"{value!r} is a float (expected {kind} such as {int(value)})")
        raise ConfigError(source, field, f"{_short(value)} is not {kind}")
    if value < minimum:
        raise ConfigError(source, field, f"{value} is not positive (expected {kind})" if minimum
                          else f"{value} is negative (expected {kind})")
    bound = MAX_LAYERS if "layer" in field else MAX_SIZE
    if value > bound:
        raise ConfigError(source, field, f"{value} is too large (at most {bound:,})")
    return value


def positive_int(value, source, field):
    return size(value, source, field)


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def display_name(text):
    """A name from a file, safe to print: control and bidirectional-override characters
    become visible escapes (\\n, \\x1b, \\u202e), nothing else changes. LaTeX, Markdown
    and HTML escape their own specials on top of this."""
    from .render import printable
    return printable(text)


def parse_layer_types(value, source):
    if not isinstance(value, list):
        raise ConfigError(source, "layer_types", f"expected a list of {' / '.join(LAYER_TYPES)}")
    for i, kind in enumerate(value):
        if kind not in LAYER_TYPES:
            raise ConfigError(source, f"layer_types[{i}]", f"{kind!r} (expected {' or '.join(LAYER_TYPES)})")
    return tuple(value)


def parse_layer_indices(value, source, field):
    if not isinstance(value, list):
        raise ConfigError(source, field, "expected a list of layer indices (0-based)")
    for i, index in enumerate(value):
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ConfigError(source, f"{field}[{i}]", f"{index!r} is not a layer index (a non-negative integer)")
    return tuple(sorted(set(value)))


def _validate_moe(arch, source, dense_layers):
    if not arch.n_experts:
        for field in ("top_k", "d_expert", "d_shared", "shared_expert_gate"):
            if getattr(arch, field):
                raise ConfigError(source, field, "given, but n_experts is not (a dense model has no experts)")
        if dense_layers:
            raise ConfigError(source, "dense_layers", "given, but n_experts is not (a dense model has no experts)")
        return
    for field in ("top_k", "d_expert"):
        if not getattr(arch, field):
            raise ConfigError(source, field, f"missing ({_DOCS[field]}; needed with n_experts)")
    if arch.top_k > arch.n_experts:
        raise ConfigError(source, "top_k", f"top_k ({arch.top_k}) is larger than n_experts ({arch.n_experts})")
    if arch.shared_expert_gate and not arch.d_shared:
        raise ConfigError(source, "shared_expert_gate", "given, but there is no shared expert (d_shared)")
    for index in dense_layers:
        if index >= arch.n_layers:
            raise ConfigError(source, "dense_layers", f"layer {index} does not exist (n_layers is {arch.n_layers})")
    if len(dense_layers) == arch.n_layers:
        raise ConfigError(source, "dense_layers", "every layer is dense: no layer has experts (drop n_experts)")


def _validate_mla(arch, source):
    fields_ = ("qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
    if not arch.kv_lora_rank:
        for field in fields_ + ("q_lora_rank",):
            if getattr(arch, field):
                raise ConfigError(source, field, "given, but kv_lora_rank is not (MLA needs kv_lora_rank)")
        return
    for field in fields_:
        if not getattr(arch, field):
            raise ConfigError(source, field, f"missing ({_DOCS[field]}; needed with kv_lora_rank)")


def validate(arch, source, layer_types=(), dense_layers=(), groups=None):
    """Fill in derived defaults, check the cross-field rules and build the layer stack:
    from `groups` (per-layer mixer and ffn kinds, the format's `layers:`), or from
    `layer_types` (per layer full_attention / sliding_attention; every layer slides when
    a window is given without them) and `dense_layers` (indices whose MLP stays dense)."""
    changes = {}
    for name in _REQUIRED:
        if not getattr(arch, name):
            raise ConfigError(source, name, f"missing ({_DOCS[name]})")
    if arch.n_heads:
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
    else:
        for name in ("n_kv_heads", "d_head"):
            if getattr(arch, name):
                raise ConfigError(source, name, "given, but n_heads is not (the model has no attention heads)")
    if arch.position_embedding == "learned" and not arch.n_positions:
        raise ConfigError(source, "n_positions", "missing (needed by position_embedding: learned)")
    if arch.position_embedding == "none" and arch.n_positions:
        raise ConfigError(source, "n_positions", "given, but position_embedding is none (set it to learned)")
    _validate_moe(arch, source, dense_layers if groups is None else ())
    _validate_mla(arch, source)
    if groups is None:
        mixers, ffns = _per_layer(arch, source, layer_types, dense_layers)
    else:
        mixers, ffns = groups
    _check_stack(arch, source, mixers, ffns)
    changes["layers"] = stack.from_layers(mixers, ffns)
    return replace(arch, **changes)


def _per_layer(arch, source, layer_types, dense_layers):
    """Per-layer mixer and ffn kinds from transformers-style layer_types and dense_layers."""
    if arch.window and not layer_types:
        layer_types = ("sliding_attention",) * arch.n_layers
    if layer_types and len(layer_types) != arch.n_layers:
        raise ConfigError(source, "layer_types",
                          f"has {len(layer_types)} entries (expected one per layer: {arch.n_layers})")
    full = "mla" if arch.mla else "attention"
    mixers = [kind if kind == "sliding_attention" else full for kind in layer_types] or [full] * arch.n_layers
    dense = set(dense_layers)
    ffns = ["moe" if arch.n_experts and i not in dense else "dense" for i in range(arch.n_layers)]
    return mixers, ffns


def _check_stack(arch, source, mixers, ffns):
    present = [kinds.get("mixer", kind) for kind in dict.fromkeys(mixers)] + \
              [kinds.get("ffn", kind) for kind in dict.fromkeys(ffns)]
    for block in present:
        for name in block.sizes:
            if not arch.size(name):
                what = f"{_DOCS[name]}; " if name in _DOCS else ""
                raise ConfigError(source, name, f"missing ({what}the stack has {block.name} layers: "
                                                f"{block.description})")
    read = {name for block in present for name in block.sizes + block.optional_sizes}
    for name, _ in arch.sizes:
        if name not in read:
            raise ConfigError(source, name, "given, but no layer of the model uses it (layers: "
                                            f"{', '.join(dict.fromkeys(mixers + ffns))})")
    declared = {name for block in present for name in block.features}
    for name, value in arch.features:
        if name not in declared and value != kinds.FEATURES[name].default:
            raise ConfigError(source, name, "given, but no layer of the model has it")
    for block in present:
        if block.check:
            block.check(arch, source)
    if "sliding_attention" in mixers and not arch.window:
        raise ConfigError(source, "window", "missing (the stack has sliding_attention layers)")
    if "mla" in mixers and not arch.mla:
        raise ConfigError(source, "kv_lora_rank", "missing (the stack has mla layers)")
    # kinds that route tokens to experts: moe, and any kind that needs n_experts (blocks/)
    routed = [kind for kind in dict.fromkeys(ffns) if kind == "moe" or "n_experts" in kinds.get("ffn", kind).sizes]
    if routed and not arch.n_experts:
        raise ConfigError(source, "n_experts", f"missing (the stack has {routed[0]} layers)")
    if arch.n_experts and not routed:
        raise ConfigError(source, "layers", "every layer is dense: no layer has experts (drop n_experts)")


def _parse_groups(value, source, default_mixer, default_ffn):
    """The YAML format's `layers:` list of groups, in order: each {count, mixer, ffn}
    (mixer and ffn default to the model's: mla for an MLA model else attention; moe for
    a model with experts else dense)."""
    if not isinstance(value, list) or not value:
        raise ConfigError(source, "layers", "expected a list of groups such as {count: 3, ffn: dense}")
    mixers, ffns = [], []
    for i, group in enumerate(value):
        where = f"layers[{i}]"
        if not isinstance(group, dict):
            raise ConfigError(source, where, "expected a mapping {count: N, mixer: KIND, ffn: KIND}")
        unknown = set(group) - {"count", "mixer", "ffn"}
        if unknown:
            raise ConfigError(source, f"{where}.{sorted(unknown)[0]}", "unknown field (expected count, mixer, ffn)")
        count = size(group.get("count"), source, f"{where}.count")
        mixer = group.get("mixer", default_mixer)
        ffn = group.get("ffn", default_ffn)
        for part, kind in (("mixer", mixer), ("ffn", ffn)):
            if kind not in kinds.kinds(part):
                raise ConfigError(source, f"{where}.{part}", f"{kind!r} (expected one of {', '.join(kinds.kinds(part))})")
        if len(mixers) + count > MAX_LAYERS:
            raise ConfigError(source, f"{where}.count", f"more than {MAX_LAYERS:,} layers in all")
        mixers += [mixer] * count
        ffns += [ffn] * count
    return mixers, ffns
