"""Model files in, Models out: the project's YAML or a Hugging Face config.json.

A loaded Architecture remembers the data it was read from (`ModelSource`), so that a
sweep can change one size and read the model again exactly as a file with that size
would be read: layer patterns, dense and MoE layer counts and default head widths are
re-derived, and every point is validated, never patched.
"""

import os
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import ConfigError, UsageError
from .files import load_json, load_yaml, parse_json, read_text
from .hub import names_hub_model


@dataclass(frozen=True)
class ModelSource:
    """The parsed file behind an Architecture."""

    path: str
    kind: str  # "yaml" (the project's format) or "hf" (a config.json)
    data: dict
    root: object = None  # data.DataRoot (the hf_families table a config is read with)

    def read(self, data=None):
        from . import hf, spec
        data = self.data if data is None else data
        if self.kind == "hf":
            return hf.from_config(data, self.path, self.root)
        return spec.from_mapping(data, self.path)

    def key_of(self, field):
        """The file's key that sets architecture field `field`, or None when the file
        format has none (the field is derived, or fixed by the family)."""
        if self.kind == "yaml":
            from . import spec
            return field if field in spec.SIZE_FIELDS else None
        from . import hf
        family = hf.families(self.root)[self.data["model_type"]]
        key = "sliding_window" if field == "window" and family.get("windows", "none") != "none" else None
        key = key or family["keys"].get(field)
        if key is None or field == "tied_embeddings" or key in (family.get("derived") or {}):
            return None
        aliases = family.get("aliases") or {}
        written = [k for k in self.data if aliases.get(k, k) == key]  # as the file writes it
        return written[0] if written else key

    def rebuild(self, sizes):
        """The Architecture of this file with `sizes` (field -> value) changed, read and
        validated exactly as loading such a file would."""
        data = dict(self.data)
        keys = {}
        for field, value in sizes.items():
            key = self.key_of(field)
            if key is None:
                raise UsageError(None, field, "cannot be changed in this model file (it is derived or fixed)")
            if key in keys:
                raise UsageError(None, field, f"sets the same key ({key}) as {keys[key]}: sweep one of them")
            keys[key] = field
            data[key] = value
        return self.read(data)


def load_architecture(model, root=None, revision=None):
    """Read and validate a model: a model file (any file ending in .json is a Hugging Face
    config, read with the hf_families table of `root`, the data root; default the bundled
    one), a directory holding a config.json (a hub snapshot), a hub repo id (owner/name,
    at `revision`), a dict or a transformers PretrainedConfig (see `read_source`)."""
    name, kind, data = read_source(model, revision)
    source = ModelSource(name, kind, data, root)
    try:
        arch = source.read()
    except ConfigError as exc:
        if isinstance(model, dict) and kind == "yaml" and exc.message.startswith("unknown field"):
            hint = exc.message.partition(" (did you mean")[1:]
            hint = f" (did you mean{hint[1]}" if hint[0] else " (see the README's Model files)"
            raise ConfigError(exc.source, exc.field, "neither a Hugging Face config (the dict has no model_type) "
                                                     f"nor one of the project's model fields{hint}") from None
        raise
    return replace(arch, origin=source)


EXPECTED = ("expected the path of a model file, a directory holding a config.json, a Hugging Face hub id "
            "(owner/name), a dict (a config.json's content or the project's model fields) or a transformers "
            "PretrainedConfig")


def read_source(model, revision=None):
    """(name, kind, data) of a model: `name` is what errors call it ("config" for a dict or a
    config object, the repo id, or the path), `kind` "hf" (a config.json) or "yaml" (the
    project's format), `data` the parsed content.

    A str or Path that exists is a file or a directory (which must hold a config.json); one
    that does not exist but has the form owner/name (and is not spelled as a model file,
    name.yaml or name.json) is a Hugging Face hub id, read through huggingface_hub (hub.py);
    anything else is no such file. A Path object is always a path. A dict with a `model_type` is
    a config.json's content, any other dict the project's model fields; an object with
    `to_dict()` and a text `model_type` (a transformers PretrainedConfig, duck-typed so that
    transformers is never imported here) is read from `to_dict()`."""
    if isinstance(model, dict):
        return _from_mapping(model, revision)
    if _is_config_object(model):
        try:
            data = model.to_dict()
        except Exception as exc:  # a foreign object's method: name its failure
            raise UsageError("config", None, f"{type(model).__name__}.to_dict() failed: "
                                             f"{type(exc).__name__}: {exc}") from None
        if not isinstance(data, dict):
            raise UsageError("config", None, f"{type(model).__name__}.to_dict() returned a "
                                             f"{type(data).__name__}, not a dict")
        # as save_pretrained writes it: integer keys (id2label's) become text
        data = _plain(data, "", int_keys=True)
        data.setdefault("model_type", model.model_type)
        if data.get("model_type") in (None, ""):
            raise ConfigError("config", "model_type", f"empty in the {type(model).__name__} (expected the "
                                                      "config of a model, such as a LlamaConfig)")
        return _from_mapping(data, revision)
    if isinstance(model, bool) or not isinstance(model, (str, Path)):
        raise UsageError(None, "model", f"{EXPECTED}; got {type(model).__name__}")
    text = str(model)
    if not text.strip():
        raise ConfigError(repr(text), None, "no such file (an empty path)")
    path = Path(model)
    if os.path.exists(path):  # an existing path wins over a hub id of the same spelling
        if revision is not None:
            raise UsageError(text, "revision", "applies only to a Hugging Face hub id (owner/name); this MODEL "
                                               "is a local path")
        if path.is_dir():
            config = path / "config.json"
            if not os.path.exists(config):
                raise ConfigError(path, None, "a directory without a config.json (expected a model file, a "
                                              "directory holding a Hugging Face config.json such as a hub "
                                              "snapshot, or a hub id owner/name)")
            data = load_json(config, ConfigError, constants=True)
            snapshot = path.resolve()
            if snapshot.parent.name == "snapshots" and snapshot.parent.parent.name.startswith("models--"):
                owner, _, repo = snapshot.parent.parent.name[len("models--"):].partition("--")
                data = _named(data, f"{owner}/{repo}" if repo else owner)  # not "llama (<commit>)"
            return str(config), "hf", data
        return _from_file(path)
    if isinstance(model, str) and names_hub_model(model):
        from .hub import config_path
        local = config_path(model, revision)
        data = parse_json(read_text(local, ConfigError), model, ConfigError, constants=True)
        return model, "hf", _named(data, model)  # as transformers names it: by the repo id
    if revision is not None:
        raise UsageError(text, "revision", "applies only to a Hugging Face hub id (owner/name)")
    return _from_file(path)  # "no such file"


def _from_file(path):
    if path.suffix.lower() == ".json":
        return str(path), "hf", load_json(path, ConfigError, constants=True)
    data = load_yaml(path, ConfigError)
    if data is None:
        raise ConfigError(path, None, "empty file (expected the model's fields, see the README)")
    return str(path), "yaml", data


def _from_mapping(mapping, revision):
    if revision is not None:
        raise UsageError("config", "revision", "applies only to a Hugging Face hub id (owner/name), not to a "
                                               "config given as data")
    data = _plain(mapping, "")  # a copy: the caller's dict may change later, the model may not
    if not data:
        raise ConfigError("config", None, "an empty dict (expected a config.json's content, with its "
                                          "model_type, or the project's model fields)")
    if "model_type" not in data:
        return "config", "yaml", data
    return "config", "hf", _named(data, data["model_type"] if isinstance(data["model_type"], str) else None)


def _named(data, name):
    """`data` with `_name_or_path` set to `name` where the config leaves it out or empty (a
    config.json read from a file is named by its directory instead): the model's name in
    every output, nothing else."""
    if isinstance(data, dict) and data.get("_name_or_path") in (None, "") and name:
        data = {**data, "_name_or_path": name}
    return data


def _plain(value, where, depth=0, int_keys=False):
    """A deep copy of `value` as plain data (dicts with text keys, lists, text, numbers,
    booleans, None), as a parsed file would hold; anything else is refused by its path.
    `int_keys`: integer keys become text, as JSON writes them."""
    if depth > 100:
        raise ConfigError("config", where or None, "nested too deeply")
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if int_keys and isinstance(key, int) and not isinstance(key, bool):
                key = str(key)
            if not isinstance(key, str):
                raise ConfigError("config", where or None, f"key {key!r} is of type {type(key).__name__} "
                                                           "(expected text keys, as in a config file)")
            out[key] = _plain(item, f"{where}.{key}" if where else key, depth + 1, int_keys)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{i}]", depth + 1, int_keys) for i, item in enumerate(value)]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise ConfigError("config", where or None, f"a value of type {type(value).__name__} (expected plain data: text, numbers, "
                                               "true/false, null, lists and mappings)")


def _is_config_object(model):
    """A transformers PretrainedConfig, by its shape (no import of transformers)."""
    return (not isinstance(model, (str, bytes, Path, dict)) and callable(getattr(model, "to_dict", None))
            and isinstance(getattr(model, "model_type", None), str))


def load(path, *, preset="exact", formulas=(), revision=None, **switches):
    """A symbolic Model of `path` under a preset (formulas/presets.yaml) and switches that
    override it (mask, attention_kernel, recompute, ...; None = the preset's).

    `path`: a model file (the project's YAML or a config.json), a directory holding a
    config.json (a Hugging Face snapshot), a hub id such as "meta-llama/Llama-3.1-8B"
    (config.json through huggingface_hub at `revision`; the local cache and HF_HUB_OFFLINE
    honoured), a dict (a config.json's content when it has a model_type, else the project's
    model fields) or a transformers PretrainedConfig. `formulas`: extra formula directories
    (same-named files replace bundled ones)."""
    from .conventions import Conventions
    from .library import load_library
    from .model import Model
    library = load_library(formulas)
    conventions = Conventions.from_preset(preset or "exact", root=library.root, **switches)
    arch = load_architecture(path, library.root, revision)
    read = Model.variants_read(arch)
    for name in switches.get("variants") or {}:  # a preset's others simply do not apply
        if name not in read:
            raise UsageError(None, "variants", f"{name}: the model has no layer that counts this term (its "
                                               f"disputed terms: {', '.join(read) or 'none'})")
    return Model(arch, conventions, library)
