"""Hugging Face `config.json` -> Architecture, exactly as the `transformers` classes read it.

Plain JSON, no `transformers` import, no remote code. Each family's fields, defaults,
aliases (attribute_map), __post_init__ rules and structure are data (`hf_families.yaml`,
whose header gives the reading order); this module applies them. A field the engine
cannot honour is an error naming it, never silently ignored; a key the class does not
know is reported as a note (transformers stores it, its modeling code never reads it).
"""

import ast
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import sympy

from . import expr, spec
from . import kinds
from .errors import ConfigError

# model_types that are not decoder-only text configs, with what to use instead (none today:
# Gemma 3's multimodal config is read through its text_config, formulas/hf_families_vlm.yaml)
REDIRECTS = {}


def _table(root=None):
    from . import data
    return _read_table(root or data.root())


@lru_cache(maxsize=8)
def _read_table(root):
    """The families table, checked at load (definitions.Entry): known fields of the right
    shapes, every ignored field with a reason, every rule naming only attributes the
    family knows, every structure value one the reader implements."""
    from .definitions import Entry
    reason_of, where = {}, {}
    for path, value in root.sections("hf_reasons"):
        reasons = Entry(path, "hf_reasons", value, ConfigError)
        for key in reasons.value:
            if key in reason_of and reasons.text(key) != reason_of[key]:
                reasons.fail(key, f"a different reason is given in {where[key]}")
            reason_of[key], where[key] = reasons.text(key), path
    families, where = {}, {}
    for path, table in root.sections("hf_families"):
        if not isinstance(table, dict):
            raise ConfigError(path, "hf_families", "expected a mapping of model_type -> family")
        for name, value in table.items():
            entry = Entry(path, f"hf_families.{name}", value, ConfigError)
            if name in families:
                entry.fail(None, f"model_type {name!r} is also described in {where[name]}")
            families[name], where[name] = _family(entry, reason_of), path
    known = set()
    for path, keys in root.sections("hf_known_extra_keys"):
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ConfigError(path, "hf_known_extra_keys", "expected a list of keys")
        known |= set(keys)
    return families, reason_of, frozenset(known)


_MAPPINGS = ("aliases", "defaults", "kwargs", "absent", "when_null", "null_means", "derived", "refuse", "equal",
             "keys", "zero_refused", "architecture", "flags", "switches", "when_auto", "post_init_kwargs", "when_true")
_WINDOW_LAYERS = ("all", "qwen", "qwen2_moe", "pattern")
_MOE_LAYERS = ("all", "first_dense", "qwen")


def _family(entry, reasons):
    family = {"class": entry.text("class"), "source": entry.text("source")}
    for key in _MAPPINGS:
        value = entry.get(key, {})
        if not isinstance(value, dict):
            entry.fail(key, "expected a mapping")
        family[key] = value
    family["ignore"] = tuple(_flatten(entry.items("ignore", [])))
    for key in family["ignore"]:
        if key not in reasons:
            entry.fail("ignore", f"{key!r} has no reason in hf_reasons")
    for key in ("optional", "computed", "towers"):
        family[key] = tuple(entry.texts(key, ()))
    for key in family["towers"]:
        if key not in family["ignore"]:
            entry.fail("towers", f"{key!r} is not among the ignored fields (a tower is not read)")
    family["attention_bias"] = entry.get("attention_bias", "none")
    family["uniform"] = tuple(entry.texts("uniform", ()))
    if entry.has("mlp_bias"):
        family["mlp_bias"] = entry.text("mlp_bias")
    family["windows"] = entry.get("windows", "none")
    windows = family["windows"]
    if windows != "none" and (not isinstance(windows, dict) or windows.get("layers") not in _WINDOW_LAYERS):
        entry.fail("windows", f"expected none or {{layers: {' | '.join(_WINDOW_LAYERS)}, ...}}")
    if entry.has("moe"):
        family["moe"] = entry.get("moe")
        if not isinstance(family["moe"], dict) or family["moe"].get("layers") not in _MOE_LAYERS:
            entry.fail("moe", f"expected {{layers: {' | '.join(_MOE_LAYERS)}, ...}}")
    if entry.has("context"):
        family["context"] = entry.text("context")
    if entry.has("text_config"):
        family["text_config"] = entry.text("text_config")
        # the text_config's own model_type picks its class (an AutoConfig sub-config: LLaVA)
        family["text_model_type"] = entry.choice("text_model_type", ("fixed", "own"), "fixed")
        # a null text_config is built from the top-level keys that are the text class's fields
        family["flat_text"] = entry.flag("flat_text", False)
        if entry.has("lm_head"):  # the *ForConditionalGeneration's own LM head, tied by the composite
            head = entry.entry("lm_head")
            family["lm_head"] = {"tie": head.text("tie"), "or_text": head.flag("or_text", False)}
            head.done()
    if entry.has("stack"):
        from . import patterns
        family["stack"] = entry.get("stack")
        if not isinstance(family["stack"], dict) or family["stack"].get("pattern") not in patterns.PATTERNS:
            entry.fail("stack", f"expected {{pattern: {' | '.join(patterns.PATTERNS)}, ...}}")
    for name in family["flags"]:
        if name not in kinds.FEATURES:
            entry.fail(f"flags.{name}", f"not a feature (expected one of {', '.join(kinds.FEATURES)})")
    for name, rule in family["switches"].items():
        if name not in spec.CHOICES or not isinstance(rule, dict) or set(rule) != {"key", "when_true"} \
                or rule["when_true"] not in spec.CHOICES[name]:
            entry.fail(f"switches.{name}", f"expected {{key: ATTRIBUTE, when_true: VALUE}} for one of "
                                          f"{', '.join(spec.CHOICES)}, VALUE one of the field's choices")
    entry.done()
    known = (set(family["defaults"]) | set(family["kwargs"]) | set(family["absent"]) | set(family["derived"])
             | set(family["aliases"].values()) | set(family["keys"].values())
             | set(family["post_init_kwargs"].values()))
    for name, rules in family["when_true"].items():
        if not isinstance(rules, dict):
            entry.fail(f"when_true.{name}", "expected a mapping of attribute -> expression")
        if name not in known:
            entry.fail(f"when_true.{name}", "not an attribute the family reads (expected a boolean field)")
    for section in ("when_null", "when_auto", "null_means", "absent", "derived", "when_true"):
        rules = family[section] if section != "when_true" else {
            key: rule for rules in family["when_true"].values() for key, rule in rules.items()}
        for key, rule in rules.items():
            try:
                tree = ast.parse(str(rule), mode="eval")
            except SyntaxError:
                entry.fail(f"{section}.{key}", f"{rule!r} is not an expression")
            for node in ast.walk(tree):
                if isinstance(node, ast.Name) and node.id not in expr.FUNCTIONS and node.id not in known:
                    entry.fail(f"{section}.{key}", f"{rule!r} names {node.id!r}, which the family does not read")
    return family


def families(root=None):
    """model_type -> its family entry (formulas/hf_families.yaml)."""
    return _table(root)[0]


def activations(root=None):
    """(activation attributes, {activation with parameters: why}) (hf_activations)."""
    from . import data
    return _activations(root or data.root())


@lru_cache(maxsize=8)
def _activations(root):
    from .definitions import Entry
    path, value = root.section("hf_activations")
    entry = Entry(path, "hf_activations", value, ConfigError)
    keys = tuple(entry.texts("keys"))
    table = entry.entry("with_parameters")
    found = {name: table.text(name) for name in table.value}
    entry.done()
    return keys, found


def unsupported(root=None):
    """model_type -> why mfu-sym does not read it (formulas/hf_unsupported.yaml)."""
    from . import data
    return _unsupported(root or data.root())


@lru_cache(maxsize=8)
def _unsupported(root):
    out = {}
    for path, table in root.sections("hf_unsupported"):
        if not isinstance(table, dict) or not all(isinstance(v, str) and v for v in table.values()):
            raise ConfigError(path, "hf_unsupported", "expected a mapping of model_type -> reason")
        out.update(table)
    return out


def reasons(root=None):
    """field -> why it changes neither FLOPs nor parameters."""
    return _table(root)[1]


def _flatten(items):
    for item in items:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


def field_names(family):
    """Every field of the class the family accounts for: honoured, ignored or refused."""
    return set(family.get("defaults") or ()) | set(family["ignore"]) | set(family.get("refuse") or ())


def from_config(config, source, root=None):
    """Validate a parsed config.json into an Architecture (`root`: the data root whose
    hf_families table to read; default the bundled one)."""
    if not isinstance(config, dict):
        raise ConfigError(source, None, f"expected a JSON object, got a JSON {_json_kind(config)}")
    model_type = config.get("model_type")
    if model_type is None:
        raise ConfigError(source, "model_type", f"missing (expected one of {', '.join(families(root))})")
    if not isinstance(model_type, str):
        raise ConfigError(source, "model_type", f"expected text such as \"llama\", got a JSON {_json_kind(model_type)}")
    if model_type in REDIRECTS:
        raise ConfigError(source, "model_type", f"{model_type!r} {REDIRECTS[model_type]}")
    family = families(root).get(model_type)
    if family is None and model_type in unsupported(root):
        raise ConfigError(source, "model_type", f"{model_type!r} is not supported by mfu-sym: "
                                                f"{unsupported(root)[model_type]}")
    if family is None:
        import difflib
        close = difflib.get_close_matches(model_type, list(families(root)), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(source, "model_type",
                          f"unknown model_type {model_type!r} ({hint}supported: {', '.join(families(root))})")
    if "text_config" in family:
        return _text_config(config, family, source, root)
    return _Reader(config, family, source, root).architecture(model_type)


def _text_config(config, family, source, root):
    """A composite config whose causal LM transformers builds from its `text_config`
    alone (AutoModelForCausalLM swaps in config.get_text_config()), or whose
    *ForConditionalGeneration's decoder is its text model and an LM head of its own
    (`lm_head`): that part is read as the family's text model_type, whatever model_type
    it names (the config class fixes the text class) unless `text_model_type: own`; a
    null or absent one is that class's defaults (`flat_text`: the top-level keys that are
    its fields)."""
    text, flat = config.get("text_config"), ()
    if text is None and family.get("flat_text"):  # __post_init__ pops the text class's fields
        inner_family = families(root)[family["text_config"]]
        flat = (field_names(inner_family) | {"rope_parameters", "rope_scaling", "rope_theta"}) - {"model_type"}
        text = {key: value for key, value in config.items() if key in flat}
    if text is None:
        text = {}
    if not isinstance(text, dict):
        raise ConfigError(source, "text_config", f"expected a JSON object, got a JSON {_json_kind(text)}")
    model_type = family["text_config"]
    if family.get("text_model_type") == "own" and text.get("model_type") is not None:
        model_type = text["model_type"]
        if not isinstance(model_type, str):
            raise ConfigError(source, "text_config.model_type",
                              f"expected text such as \"llama\", got a JSON {_json_kind(model_type)}")
        if "text_config" in families(root).get(model_type, {}):
            raise ConfigError(source, "text_config.model_type", f"{model_type!r} is itself a composite config "
                                                                 "(expected a text model's model_type)")
    inner = {**text, "model_type": model_type}
    if "_name_or_path" not in inner and config.get("_name_or_path") is not None:
        inner["_name_or_path"] = config["_name_or_path"]
    try:
        arch = from_config(inner, source, root)
    except ConfigError as exc:
        if flat and exc.field and str(exc.field).split(".")[0].split("[")[0] in text:  # a top-level key
            raise
        raise ConfigError(exc.source, f"text_config.{exc.field}" if exc.field else "text_config", exc.message) from None
    towers = [key for key in family["towers"] if config.get(key) is not None]
    if "lm_head" in family:
        arch = _conditional_generation(arch, config, family, source, towers)
    elif towers:  # the causal LM is the text model alone; a checkpoint's count includes the towers
        from .vision import families as vision_families
        counted = "; --images counts it per sample" if config.get("model_type") in vision_families() else ""
        arch = replace(arch, notes=arch.notes + (
            f"{', '.join(towers)}: not counted (AutoModelForCausalLM builds the text model alone; the "
            f"checkpoint's parameters include {'this part' if len(towers) == 1 else 'these parts'}){counted}",))
    _, _, known = _table(root)
    outer = sorted(str(k) for k in config
                   if k not in field_names(family) and k not in known and k not in flat)
    if outer:
        note = (f"{', '.join(outer[:8])}{' ...' if len(outer) > 8 else ''}: not a field of transformers' "
                f"{family['class']}; stored by transformers but not read by its modeling code, so ignored")
        arch = replace(arch, notes=arch.notes + (note,))
    return arch


def _conditional_generation(arch, config, family, source, towers):
    """The decoder of a *ForConditionalGeneration: its language model and its own LM head,
    which the composite's tie_word_embeddings ties (PreTrainedModel.get_expanded_tied_weights_keys
    reads the composite config); `or_text`: __post_init__ also takes the text config's value
    when the composite's is false. The towers are not part of the decoder's counts."""
    key = family["lm_head"]["tie"]
    # absent: the class default; null: None, which the tying code reads as false
    tied = config[key] if key in config else (family.get("defaults") or {}).get(key, False)
    if tied is None:
        tied = False
    if not isinstance(tied, bool):
        raise ConfigError(source, key, f"{_short(tied)} is not true or false")
    if family["lm_head"]["or_text"]:
        tied = tied or arch.tied_embeddings
    notes = arch.notes
    if towers:
        notes += (f"{', '.join(towers)}: the vision tower and projector are not in these counts "
                  "(counted per sample with --images)",)
    # the composite's lm_head is nn.Linear(..., bias=False), whatever the text family's causal LM has
    return replace(arch, tied_embeddings=tied, lm_head_bias=False, notes=notes)


def _short(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _read_by(groups, sizes, features):
    """The sizes and features that some block of the stack (per-layer mixer and ffn
    kinds) reads: a hybrid config whose layers are all attention still carries its
    state-space fields, which then describe nothing transformers builds."""
    present = [kinds.get(part, kind) for part, names in zip(kinds.PARTS, groups) for kind in dict.fromkeys(names)]
    read = {name for block in present for name in block.sizes + block.optional_sizes}
    declared = {name for block in present for name in block.features}
    return ({k: v for k, v in sizes.items() if k in read}, {k: v for k, v in features.items() if k in declared})


def _json_kind(value):
    kinds = {list: "array", dict: "object", str: "string", int: "number", float: "number", bool: "boolean"}
    return kinds.get(type(value), "null")


class _Reader:
    """The attributes a transformers config object would hold, and the architecture
    they describe."""

    def __init__(self, config, family, source, root=None):
        self.source, self.family, self.given, self.root = source, family, config, root
        aliases = family.get("aliases") or {}
        canonical = lambda key: aliases.get(key, key)  # noqa: E731
        # errors name a key as the file wrote it (num_experts, not num_local_experts)
        self.written = {canonical(key): key for key, value in config.items() if value is not None}
        self._check_aliases(canonical)
        fields = field_names(family)
        attrs = {}
        # 1. the class's fields: the file's value, or the class default
        for field, default in (family.get("defaults") or {}).items():
            attrs[canonical(field)] = config[field] if field in config else default
        for field in family.get("refuse") or ():
            if field in config:
                attrs[canonical(field)] = config[field]
        self.attrs = attrs
        # 2. __post_init__: attributes left null or "auto"; keyword arguments it pops into
        #    an attribute (`x = kwargs.pop(key, x)`: the key wins, and is not stored)
        for key, rule in (family.get("when_null") or {}).items():
            if attrs.get(key) is None:
                attrs[key] = self._evaluate(key, rule)
        for key, rule in (family.get("when_auto") or {}).items():
            if attrs.get(key) == "auto":
                attrs[key] = self._evaluate(key, rule)
        for flag, rules in (family.get("when_true") or {}).items():  # `if self.flag: x = ...`
            if self._flag(flag):
                for key, rule in rules.items():
                    attrs[key] = self._evaluate(key, rule)
        popped = family.get("post_init_kwargs") or {}
        for key, attribute in popped.items():
            if key in config:
                attrs[attribute] = config[key]
        # 3. every other key, set as an attribute (through the attribute_map)
        for key, value in config.items():
            if key not in fields and key not in popped:
                attrs[canonical(key)] = value
        for key, value in (family.get("kwargs") or {}).items():
            attrs.setdefault(key, value)
        for key in family.get("uniform") or ():
            if isinstance(attrs.get(key), list):
                attrs[key] = self._uniform(key, attrs[key])
        for key, rule in (family.get("absent") or {}).items():
            if key not in attrs:
                attrs[key] = self._evaluate(key, rule)
        for key, rule in (family.get("null_means") or {}).items():
            if attrs.get(key) is None:
                attrs[key] = self._evaluate(key, rule)
        for key, rule in (family.get("derived") or {}).items():
            attrs[key] = self._evaluate(key, rule)
        self.notes = self._notes(fields, aliases)

    def _check_aliases(self, canonical):
        """An alias and its attribute given together must agree (transformers keeps the
        one it sets last: refuse rather than guess). A null beside a value is what
        `to_dict()` writes for an alias field; transformers then keeps the value."""
        seen = {}
        for key, value in self.given.items():
            attr = canonical(key)
            if value is None:
                continue
            if attr in seen and seen[attr][1] != value:
                other, first = seen[attr]
                raise ConfigError(self.source, key, f"{_short(value)}, but {other} (the same attribute, "
                                                    f"{attr}) is {_short(first)} (expected one value)")
            seen.setdefault(attr, (key, value))

    def _uniform(self, key, values):
        """A per-layer list (moe_topk as a list) read as its one value: the engine has one
        value for every layer, so entries that differ are refused."""
        written = self.written.get(key, key)
        if not values:
            raise ConfigError(self.source, written, "an empty list (expected a value, or one per layer)")
        for i, value in enumerate(values):
            if value != values[0] or isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(self.source, f"{written}[{i}]", f"{_short(value)}, but {written}[0] is "
                                  f"{_short(values[0])} (mfu-sym has one value for every layer; expected equal "
                                  "integers)")
        return values[0]

    def _notes(self, fields, aliases):
        _, _, known = _table(self.root)
        family = self.family
        honoured = fields | set(aliases) | set(family.get("kwargs") or ()) | set(family.get("absent") or ())
        honoured |= set(aliases.values())  # an alias's target: the attribute transformers stores and reads
        honoured |= set(family["keys"].values()) | set(family.get("computed") or ()) | known
        honoured |= set(family.get("post_init_kwargs") or ())
        unknown = sorted(str(k) for k in self.given if k not in honoured)
        if not unknown:
            return ()
        return (f"{', '.join(unknown[:8])}{' ...' if len(unknown) > 8 else ''}: not a field of transformers' "
                f"{family['class']}; stored by transformers but not read by its modeling code, so ignored",)

    def _evaluate(self, key, rule):
        # inputs are sizes; they may be 0 only where the result may be ("none")
        minimum = 0 if key in (self.family.get("optional") or ()) else 1
        for node in ast.walk(ast.parse(rule, mode="eval")):  # the rule is our own data
            if isinstance(node, ast.Name) and node.id not in expr.FUNCTIONS:
                value = self.attrs.get(node.id)
                if value is None:
                    raise ConfigError(self.source, node.id, f"missing (no default in the transformers class; "
                                                            f"{key} is derived from it)")
                spec.size(value, self.source, node.id, minimum=minimum)
        names = {name: sympy.Integer(value) for name, value in self.attrs.items()
                 if isinstance(value, int) and not isinstance(value, bool)}
        value = expr.parse(rule, names, source=self.source, field=key)
        if not value.is_Integer:
            raise ConfigError(self.source, key, f"{rule} is not an integer here (a division by zero?)")
        return int(value)

    # ---- the architecture ----------------------------------------------------------
    def architecture(self, model_type):
        family, attrs, source = self.family, self.attrs, self.source
        for key, allowed in (family.get("refuse") or {}).items():
            if key in attrs and attrs[key] not in allowed:
                raise ConfigError(source, key, f"{attrs[key]!r} is not supported by mfu-sym "
                                  f"(expected {' or '.join(map(repr, allowed))})")
        keys, with_parameters = activations(self.root)
        for key in sorted(set(keys) & set(family["ignore"])):  # ignored fields are read only here
            value = self.given.get(self._key(key))
            if isinstance(value, str) and value in with_parameters:
                raise ConfigError(source, self._key(key), f"{value!r} is not supported by mfu-sym for "
                                  f"{family['class']}: {with_parameters[value]}, which its count leaves out "
                                  f"(expected an activation without parameters)")
        for key, other in (family.get("equal") or {}).items():
            if attrs.get(key) != attrs.get(other):
                raise ConfigError(source, key, f"{attrs.get(key)!r}, but {family['class']}'s attention assumes it "
                                               f"equals {other} ({attrs.get(other)!r})")
        optional = set(family.get("optional") or ())
        fields = {"name": self._name(model_type), "source": str(source), "notes": self.notes}
        for field, key in family["keys"].items():
            value = attrs.get(key)
            if field in ("tied_embeddings", "lm_head_bias"):
                if not isinstance(value, bool):
                    raise ConfigError(source, self._key(key), f"{_short(value)} is not true or false")
                fields[field] = value
            elif value is None:
                default = (family.get("defaults") or {}).get(key)
                if key not in optional and default is not None:  # the file's null replaced the default
                    raise ConfigError(source, self._key(key), f"null, but {family['class']}'s model needs a size "
                                                              f"here (expected an integer; the class default is "
                                                              f"{default})")
                if key not in optional:
                    raise ConfigError(source, self._key(key), "missing (no default in the transformers class)")
            elif key in optional:
                fields[field] = spec.size(value, source, self._key(key), minimum=0)
                if fields[field] == 0 and key in (family.get("zero_refused") or {}):
                    raise ConfigError(source, self._key(key), family["zero_refused"][key])
            else:
                fields[field] = spec.size(value, source, self._key(key))
        fields.update(family.get("architecture") or {})
        for name, key in family["flags"].items():
            fields[name] = self._flag(key)
        for name, rule in family["switches"].items():  # a boolean attribute that selects a choice
            if self._flag(rule["key"]):
                fields[name] = rule["when_true"]
        fields["attention_bias"] = self._bias(family.get("attention_bias", "none"))
        if "mlp_bias" in family:
            fields["mlp_bias"] = self._flag(family["mlp_bias"])
        window, layer_types = self._windows(family.get("windows", "none"), fields["n_layers"])
        if window:
            fields["window"] = window
        dense = ()
        if "moe" in family:
            dense = self._dense_layers(family["moe"], fields["n_layers"], fields.get("n_experts", 0))
            if len(dense) == fields["n_layers"]:  # transformers builds no expert at all
                for field in ("n_experts", "top_k", "d_expert", "d_shared", "shared_expert_gate"):
                    fields.pop(field, None)
                dense = ()
        groups = None
        if "stack" in family:
            from . import patterns
            groups = patterns.read(self, family["stack"], fields, layer_types if window else (), dense)
        context = family.get("context")
        if context and attrs.get(context) is not None:
            fields["context_len"] = spec.size(attrs[context], source, context)
        sizes = {name: fields.pop(name) for name in list(fields) if name in spec.block_sizes()}
        features = {name: fields.pop(name) for name in list(fields) if name in kinds.FEATURES}
        if groups is not None:  # a config carries every field: keep what the stack's blocks read
            sizes, features = _read_by(groups, sizes, features)
        arch = spec.Architecture(**fields, sizes=tuple(sorted((k, v) for k, v in sizes.items() if v)),
                                 features=tuple(sorted(features.items())))
        if groups is not None:
            return spec.validate(arch, source, groups=groups)
        return spec.validate(arch, source, layer_types=layer_types if window else (), dense_layers=dense)

    def _key(self, attr):
        return self.written.get(attr, attr)

    def _name(self, model_type):
        name = self.given.get("_name_or_path")
        if name is None or name == "":
            return f"{model_type} ({Path(str(self.source)).parent.name})"
        if not isinstance(name, str):
            raise ConfigError(self.source, "_name_or_path", f"expected text, got a JSON {_json_kind(name)}")
        return spec.display_name(name)

    def _flag(self, key):
        value = self.attrs.get(key, False)
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
        attrs, source = self.attrs, self.source
        if rule == "none" or (rule.get("enabled_by") and not self._flag(rule["enabled_by"])):
            return 0, ()
        window = attrs.get("sliding_window")
        if window is None:
            return 0, ()
        window = spec.size(window, source, "sliding_window")
        layers = rule["layers"]
        if layers == "all":
            return window, ("sliding_attention",) * n_layers
        if attrs.get("layer_types") is not None:
            return window, spec.parse_layer_types(attrs["layer_types"], source)
        if layers == "pattern":
            period = rule["period"]
            if isinstance(period, str):
                period = spec.size(attrs.get(period), source, period)
            sliding = [(i + 1) % period != 0 for i in range(n_layers)]
        else:
            first = attrs.get("max_window_layers")
            first = 0 if first is None else spec.size(first, source, "max_window_layers", minimum=0)
            if layers == "qwen":
                sliding = [i >= first for i in range(n_layers)]
            else:  # qwen2_moe
                sliding = [(i + 1) % 2 != 0 and i < first for i in range(n_layers)]
        return window, tuple("sliding_attention" if s else "full_attention" for s in sliding)

    def _dense_layers(self, rule, n_layers, n_experts):
        """Indices of the layers whose MLP stays dense, as the modeling code decides."""
        attrs, source = self.attrs, self.source
        if rule["layers"] == "all":
            return ()
        if rule["layers"] == "first_dense":
            key = rule["first_dense"]
            first = spec.size(attrs.get(key), source, key, minimum=0)
            return tuple(range(min(first, n_layers)))
        if not n_experts:
            return tuple(range(n_layers))
        step = spec.size(attrs.get("decoder_sparse_step"), source, "decoder_sparse_step")
        only = attrs.get("mlp_only_layers") or []
        if not isinstance(only, list):
            raise ConfigError(source, "mlp_only_layers", "expected a list of layer indices")
        only = set(spec.parse_layer_indices(only, source, "mlp_only_layers"))
        return tuple(i for i in range(n_layers) if i in only or (i + 1) % step != 0)
