"""Entry point: a multimodal config.json (path or dict) -> VisionTower.

The decoder of the same file is read by `mfu_sym.hf` (through its text_config); this
reads the vision part only, so Architecture is unchanged.
"""

from pathlib import Path
from types import MappingProxyType

from .config import read as read_config
from .library import load as load_library
from .tower import VisionTower
from ..errors import ConfigError


def _parsed(model):
    """(the config dict, its source name) of a config.json path or an already parsed dict."""
    source = "config"
    if isinstance(model, (str, Path)):
        from ..files import load_json
        source = str(model)
        model = load_json(model, ConfigError)
    if not isinstance(model, dict):
        raise ConfigError(source, None, f"expected a JSON object, got {type(model).__name__}")
    return model, source


def families(extra_dirs=()):
    """The model_types whose vision tower mfu-sym models."""
    return tuple(load_library(extra_dirs).families)


def load_vision(model, processor=None, extra_dirs=(), root=None):
    """VisionTower of a composite config: `model` is a config.json path or its parsed dict.

    `processor` overrides the family's image-processor defaults (formulas/vision.yaml), e.g.
    {"min_pixels": 3136, "max_pixels": 1003520} for Qwen, {"max_patches": 4} for Llama 4,
    {"tiles_per_side": 3} for Idefics3 / SmolVLM. `root`: the data root (data.DataRoot) to
    read the formulas from, e.g. a model's library.root, instead of `extra_dirs`."""
    model, source = _parsed(model)
    from .library import _load
    library = _load(root) if root is not None else load_library(extra_dirs)
    model_type = model.get("model_type")
    family = library.families.get(model_type) if isinstance(model_type, str) else None
    if family is None:
        raise ConfigError(source, "model_type", f"{model_type!r} has no vision tower that mfu-sym models (expected "
                                                f"one of {', '.join(library.families)})")
    config = read_config(model, family, source)
    if processor:
        unknown = sorted(set(processor) - (set(family.processor) - {"rule"}))
        if unknown:
            raise ConfigError(source, f"processor.{unknown[0]}", f"not a setting of {family.model_type}'s image "
                                                                 f"processor rule (expected one of "
                                                                 f"{', '.join(sorted(set(family.processor) - {'rule'}))})")
        from dataclasses import replace
        config = replace(config, processor=MappingProxyType({**config.processor, **processor}))
    return VisionTower(config, library)


def decoder_config(model, extra_dirs=()):
    """The config dict `mfu_sym.hf.from_config` reads for the decoder of the composite
    config `model` (a path or dict), per the family's `decoder` fact in vision.yaml:
    Gemma 3's text_config as gemma3_text (hf refuses the composite gemma3), Llama 4's file
    as it is, LLaVA / Idefics3 / SmolVLM's text_config as it is (llama by default)."""
    model, source = _parsed(model)
    library = load_library(extra_dirs)
    family = library.families.get(model.get("model_type")) if isinstance(model.get("model_type"), str) else None
    if family is None:
        raise ConfigError(source, "model_type", f"{model.get('model_type')!r} is not a composite config mfu-sym "
                                                f"knows (expected one of {', '.join(library.families)})")
    if family.decoder == "composite":
        return dict(model)
    text = model.get("text_config") or {}
    if not isinstance(text, dict):
        raise ConfigError(source, "text_config", f"expected a JSON object, got {type(text).__name__}")
    text = dict(text)
    if family.decoder != "text_config":
        text["model_type"] = family.decoder
    text.setdefault("model_type", "llama")
    return text
