"""One decode step of a model with recurrent and convolution states, counted by
FlopCounterMode: reference.measure_decode for the Mamba-1 and short-convolution
families, whose caches it cannot read.

* MambaForCausalLM takes its cache as ``cache_params`` (``past_key_values`` would be
  swallowed by ``**kwargs`` and a fresh cache built every call); Jamba and LFM2 take
  ``past_key_values``. Both are a ``DynamicCache(config=model.config)``: a
  LinearAttentionLayer (``conv_states``, ``recurrent_states``) per Mamba or conv layer,
  a DynamicLayer (``keys``, ``values``) per attention layer.
* The cache is prefilled with ``context - 1`` tokens (not counted), then one token per
  sequence is counted. ``context`` must be at least 2: with an empty cache transformers
  runs the sequence path on one token (the conv input padded to K), not the cached step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import DynamicCache

from .reference import _counted, _input_ids, _snapshot, _split_counts, build_model, count_params

# the keyword under which each family's forward takes its cache
CACHE_KEYWORD = {"mamba": "cache_params"}


@dataclass(frozen=True)
class StateDecodeMeasurement:
    """FLOPs of one decode step and the cache after it, layer by layer: ``states`` maps
    a layer index to the shapes of its conv and recurrent states (None where absent),
    ``kv`` a layer index to its key and value shapes."""

    params: int
    forward: int
    by_module: dict[str, int] = field(compare=False)
    states: dict[int, tuple[Any, Any]] = field(compare=False)
    kv: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = field(compare=False)
    state_elements: int = 0
    kv_elements: int = 0


def _shape(tensor):
    return None if tensor is None else tuple(tensor.shape)


def _layers(cache):
    states, kv = {}, {}
    for index, layer in enumerate(cache.layers):
        conv = getattr(layer, "conv_states", None)
        if conv is not None:
            states[index] = (_shape(conv.get(0)), _shape(layer.recurrent_states.get(0)))
        keys = getattr(layer, "keys", None)
        if keys is not None and getattr(keys, "numel", lambda: 0)():
            kv[index] = (tuple(keys.shape), tuple(layer.values.shape))
    return states, kv


def _elements(shapes):
    total = 0
    for shape in shapes:
        if shape:
            count = 1
            for dim in shape:
                count *= dim
            total += count
    return total


def measure_decode_states(config, *, batch: int, context: int, attn_implementation: str = "eager"):
    """Count one decode step at total context ``context`` (>= 2) of a state-keeping
    model; run it inside mamba_patches.patched() to count the rank-1 updates and the
    kernels' single conv output."""
    if context < 2:
        raise ValueError("context must be >= 2 (an empty cache runs the sequence path)")
    model = build_model(config, attn_implementation=attn_implementation)
    root = type(model).__name__
    ids = _input_ids(model, batch, context, "cpu")
    cache = DynamicCache(config=model.config)
    keyword = CACHE_KEYWORD.get(config.get("model_type"), "past_key_values")
    with torch.no_grad():
        model(input_ids=ids[:, : context - 1], use_cache=True, **{keyword: cache})
        with _counted(f"measure_decode_states({config.get('model_type')}, {attn_implementation})") as (counter, _):
            model(input_ids=ids[:, context - 1:], use_cache=True, **{keyword: cache})
            counts = _snapshot(counter)
    total, by_module, _ = _split_counts(counts, root)
    states, kv = _layers(cache)
    return StateDecodeMeasurement(
        params=count_params(model), forward=total, by_module=by_module, states=states, kv=kv,
        state_elements=_elements(shape for pair in states.values() for shape in pair),
        kv_elements=_elements(shape for pair in kv.values() for shape in pair))
