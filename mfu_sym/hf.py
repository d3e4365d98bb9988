"""Hugging Face `config.json` -> Architecture, as the `transformers` classes read it.

Plain JSON, no `transformers` import, no remote code. Each family's keys, defaults and
structure are data (`hf_families.yaml`); this module applies them. A field the engine
cannot honour is an error naming it, never silently ignored.
"""

from functools import lru_cache
from pathlib import Path

import sympy

from . import expr, spec
from .errors import ConfigError
from .files import load_yaml

FAMILIES_FILE = Path(__file__).resolve().parent / "hf_families.yaml"
# model_types that are not decoder-only text configs, with what to use instead
REDIRECTS = {
    "gemma3": "is Gemma 3's multimodal config: pass its text_config as a config with model_type gemma3_text",
}


@lru_cache(maxsize=1)
def families():
    data = load_yaml(FAMILIES_FILE, ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(FAMILIES_FILE, None, "expected a mapping of model_type -> family")
    return data


def from_config(config, source):
    """Validate a parsed config.json into an Architecture."""
    if not isinstance(config, dict):
        raise ConfigError(source, None, f"expected a JSON object, got a JSON {_json_kind(config)}")
    model_type = config.get("model_type")
    if model_type is None:
        raise ConfigError(source, "model_type", f"missing (expected one of {', '.join(families())})")
    if model_type in REDIRECTS:
        raise ConfigError(source, "model_type", f"{model_type!r} {REDIRECTS[model_type]}")
    family = families().get(model_type)
    if family is None:
        import difflib
        close = difflib.get_close_matches(str(model_type), list(families()), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(source, "model_type",
                          f"unknown model_type {model_type!r} ({hint}supported: {', '.join(families())})")
    return _Reader(config, family, source).architecture(model_type)


def _json_kind(value):
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "null")


class _Reader:
    def __init__(self, config, family, source):
        self.source, self.family = source, family
        self.given = config
        self.config = dict(config)
        # As the transformers classes do: a default fills an absent key (an explicit null
        # stays null: Mistral's `sliding_window: null` means no window); a derived value
        # fills an absent or null key (`head_dim: null` -> hidden_size // heads).
        for key, value in (family.get("defaults") or {}).items():
            self.config.setdefault(key, value)
        for field, key in family["keys"].items():
            if field != "tied_embeddings" and self.config.get(key) is not None:
                spec.positive_int(self.config[key], source, key)
        for key, rule in (family.get("derived") or {}).items():
            if self.config.get(key) is None:
                self.config[key] = self._derive(key, rule)

    def _derive(self, key, rule):
        import ast
        for node in ast.walk(ast.parse(rule, mode="eval")):  # the rule is our own data
            if isinstance(node, ast.Name) and node.id not in expr.FUNCTIONS and self.config.get(node.id) is None:
                raise ConfigError(self.source, node.id, f"missing (no default in the transformers class; "
                                                        f"{key} is derived from it)")
        names = {name: sympy.Integer(value) for name, value in self.config.items()
                 if isinstance(value, int) and not isinstance(value, bool)}
        value = expr.parse(rule, names, source=self.source, field=key)
        if not value.is_Integer:
            raise ConfigError(self.source, key, f"missing, and {rule} is not an integer here")
        return int(value)

    def architecture(self, model_type):
        family, config, source = self.family, self.config, self.source
        for key, allowed in (family.get("refuse") or {}).items():
            if key in self.given and self.given[key] not in allowed:
                raise ConfigError(source, key, f"{self.given.get(key)!r} is not supported by mfu-sym "
                                  f"(expected {' or '.join(map(repr, allowed))})")
        optional = set(family.get("optional") or ())
        fields = {"name": config.get("_name_or_path") or f"{model_type} ({Path(str(source)).parent.name})",
                  "source": str(source)}
        for field, key in family["keys"].items():
            value = config.get(key)
            if field == "tied_embeddings":
                if not isinstance(value, bool):
                    raise ConfigError(source, key, f"{value!r} is not true or false")
                fields[field] = value
            elif value is None:
                if key not in optional:
                    raise ConfigError(source, key, "missing (no default in the transformers class)")
            else:
                fields[field] = spec.positive_int(value, source, key)
        fields.update(family.get("architecture") or {})
        fields["attention_bias"] = self._bias(family.get("attention_bias", "none"))
        if "mlp_bias" in family:
            fields["mlp_bias"] = self._flag(family["mlp_bias"])
        window, layer_types = self._windows(family.get("windows", "none"), fields["n_layers"])
        if window:
            fields["window"], fields["layer_types"] = window, layer_types
        if "moe" in family:
            fields["dense_layers"] = self._dense_layers(family["moe"], fields["n_layers"])
        seq_key = family.get("seq_len")
        if seq_key and isinstance(config.get(seq_key), int) and config[seq_key] > 0:
            fields["seq_len"] = config[seq_key]
        return spec.validate(spec.Architecture(**fields), source)

    def _flag(self, key):
        value = self.config.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise ConfigError(self.source, key, f"{value!r} is not true or false")
        return value

    def _bias(self, rule):
        if isinstance(rule, str):
            return rule
        return rule["when_true"] if self._flag(rule["key"]) else "none"

    def _windows(self, rule, n_layers):
        """(window, layer_types) as the family's modeling code decides them."""
        config, source = self.config, self.source
        if rule == "none" or (rule.get("enabled_by") and not self._flag(rule["enabled_by"])):
            return 0, ()
        window = config.get("sliding_window")
        if window is None:
            return 0, ()
        window = spec.positive_int(window, source, "sliding_window")
        layers = rule["layers"]
        if layers == "all":
            return window, ("sliding_attention",) * n_layers
        if config.get("layer_types") is not None:
            return window, spec.parse_layer_types(config["layer_types"], source)
        if layers == "pattern":
            period = rule["period"]
            if isinstance(period, str):
                period = spec.positive_int(config.get(period), source, period)
            sliding = [(i + 1) % period != 0 for i in range(n_layers)]
        else:
            first = config.get("max_window_layers")
            first = 0 if first is None else _non_negative(first, source, "max_window_layers")
            if layers == "qwen":
                sliding = [i >= first for i in range(n_layers)]
            else:  # qwen2_moe
                sliding = [(i + 1) % 2 != 0 and i < first for i in range(n_layers)]
        return window, tuple("sliding_attention" if s else "full_attention" for s in sliding)

    def _dense_layers(self, rule, n_layers):
        """Indices of the layers whose MLP stays dense, as the modeling code decides."""
        config, source = self.config, self.source
        if rule["layers"] == "all":
            return ()
        if rule["layers"] == "first_dense":
            key = rule["first_dense"]
            first = _non_negative(config.get(key), source, key)
            return tuple(range(min(first, n_layers)))
        step = spec.positive_int(config.get("decoder_sparse_step"), source, "decoder_sparse_step")
        only = config.get("mlp_only_layers") or []
        if not isinstance(only, list):
            raise ConfigError(source, "mlp_only_layers", "expected a list of layer indices")
        only = spec.parse_layer_indices(only, source, "mlp_only_layers")
        return tuple(i for i in range(n_layers) if i in only or (i + 1) % step != 0)


def _non_negative(value, source, key):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(source, key, f"{value!r} is not a non-negative integer")
    return value
