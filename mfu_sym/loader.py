"""Model files in, Models out: the project's YAML or a Hugging Face config.json.

A loaded Architecture remembers the data it was read from (`ModelSource`), so that a
sweep can change one size and read the model again exactly as a file with that size
would be read: layer patterns, dense and MoE layer counts and default head widths are
re-derived, and every point is validated, never patched.
"""

from dataclasses import dataclass, replace
from pathlib import Path

from .errors import ConfigError, UsageError
from .files import load_json, load_yaml


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


def load_architecture(path, root=None):
    """Read and validate a model file. Any file ending in .json is a Hugging Face config
    (read with the hf_families table of `root`, the data root; default the bundled one)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        data, kind = load_json(path, ConfigError, constants=True), "hf"
    else:
        data, kind = load_yaml(path, ConfigError), "yaml"
        if data is None:
            raise ConfigError(path, None, "empty file (expected the model's fields, see the README)")
    source = ModelSource(str(path), kind, data, root)
    return replace(source.read(), origin=source)


def load(path, *, preset="exact", formulas=(), **switches):
    """A symbolic Model of the file at `path` under a preset (formulas/presets.yaml) and
    switches that override it (mask, attention_kernel, recompute, ...; None = the
    preset's). `formulas`: extra formula directories (same-named files replace bundled
    ones)."""
    from .conventions import Conventions
    from .library import load_library
    from .model import Model
    if isinstance(path, bool) or not isinstance(path, (str, Path)):
        raise UsageError(None, "path", f"expected the path of a model file (a str or Path), "
                                       f"got {type(path).__name__}")
    library = load_library(formulas)
    conventions = Conventions.from_preset(preset or "exact", root=library.root, **switches)
    arch = load_architecture(path, library.root)
    read = Model.variants_read(arch)
    for name in switches.get("variants") or {}:  # a preset's others simply do not apply
        if name not in read:
            raise UsageError(None, "variants", f"{name}: the model has no layer that counts this term (its "
                                               f"disputed terms: {', '.join(read) or 'none'})")
    return Model(arch, conventions, library)
