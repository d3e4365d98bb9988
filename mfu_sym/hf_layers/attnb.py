"""Layer patterns of the attnb families (EXAONE 4, Seed-OSS, StarCoder2, StableLM, Gemma,
Apertus, Arcee, Helium, Ministral): which layers slide, as each modeling code decides it,
and the cross-field rules transformers enforces when it builds the model (a config it
cannot build, or builds differently per kernel or in its decode cache, is refused).

Every reader that reads no window of its own still refuses a window the decode cache
would follow (attna.no_windows says why)."""

from .. import spec
from ..errors import ConfigError
from .attna import no_windows
from .common import default_ffns


def _fail(reader, key, message):
    raise ConfigError(reader.source, reader.written.get(key, key), message)


def _window(reader, fields):
    """The sliding window, set for the layers that slide (a positive integer)."""
    fields["window"] = spec.size(reader.attrs.get("sliding_window"), reader.source, "sliding_window")
    return fields["window"]


def _given_types(reader):
    value = reader.attrs.get("layer_types")
    return None if value is None else spec.parse_layer_types(value, reader.source)


def _mixers(types):
    return ["sliding_attention" if kind == "sliding_attention" else "attention" for kind in types]


def _check_heads(reader, rule, fields):
    """`rule["heads_divide"]`: the class needs num_attention_heads to divide hidden_size
    (Arcee's validate_architecture, StableLM's attention); `rule["heads_width"]`: the
    attention needs heads x head_dim = hidden_size (Helium's o_proj of hidden_size inputs).
    The value says why."""
    hidden, heads = fields["d_model"], fields["n_heads"]
    if rule.get("heads_divide") and hidden % heads:
        _fail(reader, "num_attention_heads", f"{heads} does not divide hidden_size {hidden}, but "
                                             f"{reader.family['class']} {rule['heads_divide']}")
    width = heads * fields.get("d_head", 0)
    if rule.get("heads_width") and width != hidden:
        _fail(reader, "head_dim", f"{fields['d_head']} x {heads} heads = {width}, but {reader.family['class']} "
                                  f"{rule['heads_width']} (expected heads x head_dim = hidden_size = {hidden})")


def plain(reader, rule, fields, layer_types, dense):
    """Gemma, Arcee, StableLM, Helium: every layer full, no window read (stray windows
    refused), and the class's rules on the head count (_check_heads)."""
    _check_heads(reader, rule, fields)
    return no_windows(reader, rule, fields, layer_types, dense)


def seed_oss(reader, rule, fields, layer_types, dense):
    """Seed-OSS: q/k/v biases from attention_bias, the o_proj bias from attention_out_bias.
    An o_proj bias without q/k/v biases is no choice of mfu-sym's attention_bias (none, qkv,
    all): refused."""
    if reader._flag("attention_out_bias"):
        if fields["attention_bias"] != "qkv":
            _fail(reader, "attention_out_bias", "true with attention_bias false: an o_proj bias without q/k/v "
                                                "biases is not modelled (expected both, or attention_out_bias false)")
        fields["attention_bias"] = "all"
    return no_windows(reader, rule, fields, layer_types, dense)


def all_windowed(reader, rule, fields, layer_types, dense):
    """StarCoder2: one window for every layer when sliding_window is set (the attention and
    mask read it; layer_types is not a field). transformers' decode cache follows a
    layer_types or attention_chunk_size in the file: one that disagrees is refused."""
    attrs = reader.attrs
    sliding = attrs.get("sliding_window") is not None
    if sliding:
        _window(reader, fields)
    expected = "sliding_attention" if sliding else "full_attention"
    given = _given_types(reader)
    if given is not None and set(given) != {expected}:
        _fail(reader, "layer_types", f"{list(given)!r:.60}, but {reader.family['class']}'s attention "
                                     f"{'slides on every layer' if sliding else 'has no window'}, while "
                                     f"transformers' decode cache follows layer_types (expected null, or only {expected})")
    if not sliding and attrs.get("attention_chunk_size") is not None:
        _fail(reader, "attention_chunk_size", f"{attrs['attention_chunk_size']!r}, but the attention has no window "
                                              "while transformers' decode cache would keep only the chunk "
                                              "(remove it, or set it null)")
    return ["sliding_attention" if sliding else "attention"] * fields["n_layers"], default_ffns(fields, dense)


def ministral(reader, rule, fields, layer_types, dense):
    """Ministral: layer_types, else (__post_init__) every layer sliding when sliding_window
    is set. Both masks are built at every forward, and transformers fails on a null
    sliding_window (create_sliding_window_causal_mask): refused."""
    if reader.attrs.get("sliding_window") is None:
        _fail(reader, "sliding_window", "null, but MinistralModel builds a sliding-window mask at every forward "
                                        "and transformers fails without a window (expected a positive integer)")
    _window(reader, fields)
    given = _given_types(reader)
    types = given if given is not None else ("sliding_attention",) * fields["n_layers"]
    return _mixers(types), default_ffns(fields, dense)


def exaone4(reader, rule, fields, layer_types, dense):
    """EXAONE 4: layer_types, else (__post_init__) every sliding_window_pattern-th layer
    full. __post_init__ sets the pattern to 0 when sliding_window is null, so a null
    window without layer_types fails in transformers (a modulo by zero), as does a
    pattern written as text ("LLLG") without layer_types: both refused. The sliding
    mask is built when some layer slides, and needs a window."""
    attrs = reader.attrs
    given = _given_types(reader)
    if given is None:
        if attrs.get("sliding_window") is None:
            _fail(reader, "sliding_window", "null without layer_types: Exaone4Config's __post_init__ then divides "
                                            "by a pattern of 0 (give layer_types, or a positive window)")
        period = spec.size(attrs.get("sliding_window_pattern"), reader.source, "sliding_window_pattern")
        given = tuple("sliding_attention" if (i + 1) % period else "full_attention" for i in range(fields["n_layers"]))
    if "sliding_attention" in given:
        if attrs.get("sliding_window") is None:
            _fail(reader, "sliding_window", "null, but layer_types has sliding_attention layers (transformers "
                                            "fails without a window; expected a positive integer)")
        _window(reader, fields)
    return _mixers(given), default_ffns(fields, dense)


def apertus(reader, rule, fields, layer_types, dense):
    """Apertus: every layer full (stray windows refused, as in no_windows). ApertusMLP
    builds XIELUActivation, with two learnable scalars, when hidden_act is "xielu" (the
    default); any other activation is ACT2FN's, without parameters, except prelu (refused)."""
    mixers, ffns = no_windows(reader, rule, fields, layer_types, dense)
    act = reader.attrs.get("hidden_act")
    if not isinstance(act, str):
        _fail(reader, "hidden_act", f"{act!r} (expected the name of an activation, such as \"xielu\")")
    if act == "prelu":  # nn.PReLU: one learnable slope an MLP, which no block here counts
        _fail(reader, "hidden_act", "'prelu' has a learnable parameter that mfu-sym does not model "
                                    "(expected xielu, or an activation without parameters)")
    return mixers, ["xielu_mlp" if act == "xielu" else kind for kind in ffns]


PATTERNS = {"attnb_plain": plain, "attnb_seed_oss": seed_oss, "attnb_all_windowed": all_windowed,
            "attnb_ministral": ministral, "attnb_exaone4": exaone4,
            "attnb_apertus": apertus}
