"""What a trace runs: a transformers model built from a config.json (any model_type the
installed transformers has, read by the formula library or not), or a user's own
PyTorch model named `module.path:factory` (or `file.py:factory`).

A factory is a callable taking no arguments that returns `(module, make_inputs)`;
`make_inputs(batch, seq_len)` returns the model's input: a tensor, a tuple of positional
arguments or a dict of keyword arguments. It is called with symbolic sizes (SymInts) on
fake tensors, so it must build its inputs from them with torch factories
(`torch.randint(0, vocab, (batch, seq_len))`), never from data.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError, UsageError

_FACTORY = re.compile(r"^(?P<module>[A-Za-z_][\w.]*|.+\.py):(?P<name>[A-Za-z_]\w*)$")
_DROPOUT_KEY = re.compile(r"dropout|pdrop", re.IGNORECASE)
# Experts implementations whose FLOPs do not depend on the routing (see counter.py):
# batched_mm gathers one weight per (token, expert) pair; grouped_mm is charged by
# counter.grouped_mm_flop. The eager loop's sizes are the routing's token counts.
EXPERTS = ("batched_mm", "grouped_mm", "eager")


@dataclass(frozen=True)
class Source:
    """A model to trace: `build()` makes the module (called inside the fake mode),
    `inputs(model, batch, seq_len)` its input, `name` and `model_type` for reports."""

    name: str
    origin: str
    build: Callable[[], Any]
    inputs: Callable[[Any, Any, Any], Any]
    model_type: str | None = None
    config: dict | None = None
    is_transformers: bool = False
    attn_implementation: str | None = None  # transformers' paths the model was built with
    experts_implementation: str | None = None


def is_factory(text: str) -> bool:
    return bool(_FACTORY.match(text)) and not Path(text).exists()


def resolve(model: Any, *, attn_implementation: str | None = None, experts_implementation: str | None = None,
            **from_config: Any) -> Source:
    """A Source from a path to a config.json, a `module:factory` text, a config dict, a
    transformers PretrainedConfig, or a callable factory. The implementation options
    (default eager attention, batched_mm experts) are transformers' and are refused for a
    factory, which would ignore them."""
    options = {"attn_implementation": attn_implementation, "experts_implementation": experts_implementation,
               **from_config}
    given = [name for name, value in options.items() if value is not None]

    def factory(function, origin):
        if given:
            raise UsageError(None, given[0], "applies to transformers models built from a config, not to a "
                                             "factory (which builds its own module)")
        return _factory_source(function, origin)

    attn_implementation = attn_implementation or "eager"
    experts_implementation = experts_implementation or "batched_mm"
    if callable(model) and not isinstance(model, (str, Path)):
        return factory(model, getattr(model, "__qualname__", repr(model)))
    if isinstance(model, dict):
        return _config_source(dict(model), "config", attn_implementation, experts_implementation, from_config)
    if hasattr(model, "to_dict") and hasattr(model, "model_type"):  # a transformers PretrainedConfig
        return _config_source(model.to_dict(), type(model).__name__, attn_implementation, experts_implementation,
                              from_config)
    if isinstance(model, bool) or not isinstance(model, (str, Path)):
        raise UsageError(None, "model", f"expected a config.json path, 'module:factory', a config dict or a "
                                        f"factory, got {type(model).__name__}")
    text = str(model)
    if is_factory(text):
        return factory(_import_factory(text), text)
    path = Path(text)
    if path.suffix.lower() != ".json":
        if path.is_file():
            raise ConfigError(path, None, "trace runs a PyTorch implementation: give a Hugging Face config.json "
                                          "or a factory as module.path:name (a model YAML has no implementation)")
    from ..files import load_json
    data = load_json(path, ConfigError, constants=True)
    if not isinstance(data, dict):
        raise ConfigError(path, None, "expected a JSON object (a Hugging Face config)")
    return _config_source(data, str(path), attn_implementation, experts_implementation, from_config)


# --------------------------------------------------------------------------- transformers


def _config_source(data: dict, origin: str, attn_implementation: str, experts_implementation: str,
                   from_config: dict) -> Source:
    model_type = data.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise ConfigError(origin, "model_type", "missing (a Hugging Face config names its model_type)")
    if experts_implementation not in EXPERTS:
        raise UsageError(None, "experts_implementation", f"{experts_implementation!r} (expected one of "
                                                         f"{', '.join(EXPERTS)})")
    from .extra import require
    require("trace", "transformers")
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    if model_type not in CONFIG_MAPPING:
        raise ConfigError(origin, "model_type", f"{model_type!r} is not a model type of the installed transformers")
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise ConfigError(origin, "model_type", f"{model_type!r} has no causal language model in transformers "
                                                "(trace runs AutoModelForCausalLM)")
    kwargs = {k: v for k, v in data.items() if k not in ("model_type", "auto_map", "transformers_version")}
    try:
        config = AutoConfig.for_model(model_type, **kwargs)
    except Exception as exc:
        raise ConfigError(origin, None, f"transformers refuses the config: {type(exc).__name__}: "
                                        f"{_first_line(exc)}") from None
    _no_dropout(config)
    config.use_cache = False
    name = data.get("_name_or_path") or Path(origin).parent.name or model_type

    options = dict(from_config)
    if experts_implementation == "grouped_mm" and "dtype" not in options:
        import torch
        options["dtype"] = torch.bfloat16  # _grouped_mm's kernels take bf16 (the dtype changes no FLOP count)

    def build():
        model = AutoModelForCausalLM.from_config(config, attn_implementation=attn_implementation,
                                                 experts_implementation=experts_implementation, **options)
        model.eval()  # dropout off; gradients still flow
        return model

    def inputs(model, batch, seq_len):
        import torch
        return {"input_ids": torch.zeros(batch, seq_len, dtype=torch.long), "use_cache": False}

    return Source(name=str(name), origin=origin, build=build, inputs=inputs, model_type=model_type,
                  config=data, is_transformers=True, attn_implementation=attn_implementation,
                  experts_implementation=experts_implementation)


def _no_dropout(config: Any) -> None:
    """Dropout off in every (sub)config: with it on, CPU SDPA switches kernels."""
    for value in [config] + [getattr(config, key) for key in getattr(config, "sub_configs", {}) or {}]:
        if value is None:
            continue
        for key, field in list(vars(value).items()):
            if _DROPOUT_KEY.search(key) and isinstance(field, float) and field != 0.0:
                setattr(value, key, 0.0)


# --------------------------------------------------------------------------- factories


def _import_factory(text: str) -> Callable[[], Any]:
    match = _FACTORY.match(text)
    module_name, name = match["module"], match["name"]
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise UsageError(None, "model", f"{module_name}: no such file")
            spec = importlib.util.spec_from_file_location(f"mfu_sym_user_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            if "" not in sys.path and str(Path.cwd()) not in sys.path:
                sys.path.insert(0, str(Path.cwd()))  # as `python -m` does: modules beside the user
            module = importlib.import_module(module_name)
    except UsageError:
        raise
    except ImportError as exc:
        raise UsageError(None, "model", f"{text}: cannot import {module_name} ({_first_line(exc)})") from None
    except Exception as exc:
        raise UsageError(None, "model", f"{text}: importing {module_name} failed: {type(exc).__name__}: "
                                        f"{_first_line(exc)}") from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise UsageError(None, "model", f"{text}: {module_name} has no callable {name}")
    return factory


def _factory_source(factory: Callable[[], Any], origin: str) -> Source:
    built: dict[str, Any] = {}

    def build():
        import torch
        try:
            result = factory()
        except Exception as exc:
            raise UsageError(None, "model", f"{origin}: the factory failed: {type(exc).__name__}: "
                                            f"{_first_line(exc)}") from None
        if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], torch.nn.Module)
                and callable(result[1])):
            raise UsageError(None, "model", f"{origin}: the factory must return (module, make_inputs), with "
                                            "make_inputs(batch, seq_len) building the module's input")
        built["inputs"] = result[1]
        return result[0]

    def inputs(model, batch, seq_len):
        return built["inputs"](batch, seq_len)

    return Source(name=origin.rsplit(":", 1)[-1] if ":" in origin else origin, origin=origin, build=build,
                  inputs=inputs)


def call(model: Any, inputs: Any) -> Any:
    """Run `model` on what make_inputs returned."""
    if isinstance(inputs, dict):
        return model(**inputs)
    if isinstance(inputs, tuple):
        return model(*inputs)
    return model(inputs)


def _first_line(exc: BaseException) -> str:
    """An exception's message on one line (at most 300 characters)."""
    text = " ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())
    return (text or type(exc).__name__)[:300]
