"""Model files in, Models out: the project's YAML or a Hugging Face config.json."""

from pathlib import Path

from .errors import ConfigError
from .files import load_json, load_yaml


def load_architecture(path):
    """Read and validate a model file. Any file ending in .json is a Hugging Face config."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        from . import hf
        return hf.from_config(load_json(path, ConfigError), path)
    from . import spec
    data = load_yaml(path, ConfigError)
    if data is None:
        raise ConfigError(path, None, "empty file (expected the model's fields, see the README)")
    return spec.from_mapping(data, path)


def load(path, *, preset="exact", formulas=(), **switches):
    """A symbolic Model of the file at `path` under a preset (formulas/presets.yaml) and
    switches that override it (mask, attention_kernel, recompute, ...; None = the
    preset's). `formulas`: extra formula directories (same-named files replace bundled
    ones)."""
    from .conventions import Conventions
    from .library import load_library
    from .model import Model
    conventions = Conventions.from_preset(preset or "exact", **switches)
    return Model(load_architecture(path), conventions, load_library(formulas))
