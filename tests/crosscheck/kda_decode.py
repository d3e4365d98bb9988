"""One decode step of the linear-attention hybrids, with the caches their own families use.

reference.measure_decode runs a DynamicCache and sizes only its key/value tensors. Kimi
Linear's DynamicCache also holds a LinearAttentionLayer (convolution and recurrent states)
for every KDA layer, and MiniMax refuses any cache but its own MiniMaxCache (key/value
layers for softmax attention, `linear_cache` for lightning layers). :func:`measure_decode_states`
prefills such a cache with ``context - 1`` tokens (not counted), counts one more token per
sequence under FlopCounterMode (the guard against uncounted matmuls included) with the
KDA core in its matmul form (kda_patches), and reports every tensor the cache holds after
the step, by kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import DynamicCache
from transformers.models.minimax.modeling_minimax import MiniMaxCache

from . import reference
from .kda_patches import kda_matmul_forms


@dataclass(frozen=True)
class DecodeStates:
    forward: int
    by_module: dict
    key_value_elements: int  # elements of every key/value tensor (softmax attention and MLA layers)
    state_elements: int  # elements of every recurrent and convolution state
    positions: tuple  # per key/value layer, the positions it holds
    states: tuple  # (kind, shape) of every state tensor


def _cache_for(model):
    return MiniMaxCache() if model.config.model_type == "minimax" else DynamicCache(config=model.config)


def _elements(tensor):
    return 0 if tensor is None else int(tensor.numel())


def _inventory(cache):
    key_value, positions, states = 0, [], []
    for layer in cache.layers:
        keys, values = getattr(layer, "keys", None), getattr(layer, "values", None)
        if keys is not None and keys.numel():
            key_value += _elements(keys) + _elements(values)
            positions.append(int(keys.shape[2]))
        for kind in ("conv_states", "recurrent_states"):
            for tensor in (getattr(layer, kind, None) or {}).values():
                if tensor is not None:
                    states.append((kind, tuple(tensor.shape)))
    for tensor in getattr(cache, "linear_cache", ()):
        if isinstance(tensor, torch.Tensor):
            states.append(("linear_cache", tuple(tensor.shape)))
    state_elements = sum(int(torch.Size(shape).numel()) for _, shape in states)
    return key_value, state_elements, tuple(positions), tuple(states)


def measure_decode_states(config, *, batch, context, attn_implementation="eager"):
    """Forward FLOPs of the decode step at total context ``context`` (>= 2: with one
    token or more cached; an empty cache makes the step a one-token prefill) and the
    cache it leaves."""
    if context < 2:
        raise ValueError("context must be >= 2 (a step with an empty cache is a prefill)")
    model = reference.build_model(config, attn_implementation=attn_implementation)
    root = type(model).__name__
    ids = reference._input_ids(model, batch, context, "cpu")
    cache = _cache_for(model)
    with torch.no_grad(), kda_matmul_forms():
        model(input_ids=ids[:, : context - 1], past_key_values=cache, use_cache=True)
        with reference._counted(f"measure_decode_states({config.get('model_type')})") as (counter, _):
            model(input_ids=ids[:, context - 1:], past_key_values=cache, use_cache=True)
            counts = reference._snapshot(counter)
    total, by_module, _ = reference._split_counts(counts, root)
    key_value, state_elements, positions, states = _inventory(cache)
    return DecodeStates(forward=total, by_module=by_module, key_value_elements=key_value,
                        state_elements=state_elements, positions=positions, states=states)
