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


def load(path, *, formulas=(), **switches):
    """A symbolic Model of the file at `path` under the given conventions (the fields of
    model.Conventions: mask, attention_kernel, recompute, ...).
    `formulas`: extra formula directories (same-named files replace bundled ones)."""
    from .library import load_library
    from .model import Conventions, Model
    conventions = Conventions(**switches)
    return Model(load_architecture(path), conventions, load_library(formulas))
