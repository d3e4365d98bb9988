"""Measurements of the Mamba-2 (SSD) families: reference.measure and a decode step, with
the harness patches of ssd_patches.py in force, and the caches transformers allocates.

A decode step here is reference.measure_decode's (a DynamicCache prefilled with
context - 1 tokens, then one token per sequence, counted), with two differences:
Mamba2ForCausalLM takes its cache as `cache_params` (its forward drops a
`past_key_values`), and the cache is read layer by layer as the conv state, the SSM
state and the attention keys and values each layer holds. A step needs a cache that
holds something (context >= 2): with an empty cache transformers runs the first token
through the chunked scan, which is a prefill.
"""

from dataclasses import dataclass, field

import torch
from transformers import DynamicCache
from transformers.cache_utils import CacheLayerMixin

from . import reference
from .ssd_patches import patched


def measure(config, *, batch, seq_len, attn_implementation="eager", device="cpu"):
    with patched():
        return reference.measure(config, batch=batch, seq_len=seq_len, attn_implementation=attn_implementation,
                                 device=device)


@dataclass(frozen=True)
class DecodeStep:
    forward: int
    by_module: dict = field(compare=False)
    conv_elements: tuple = ()  # per layer: elements of the conv state (0: none)
    ssm_elements: tuple = ()  # per layer: elements of the SSM state
    kv_elements: tuple = ()  # per layer: elements of the attention keys and values held
    cache_bytes: int = 0


def _numel(tensor):
    return 0 if tensor is None else int(tensor.numel())


def _layer_caches(cache):
    rows = []
    for layer in cache.layers:
        conv = sum(_numel(t) for t in (getattr(layer, "conv_states", None) or {}).values())
        ssm = sum(_numel(t) for t in (getattr(layer, "recurrent_states", None) or {}).values())
        kv = _numel(getattr(layer, "keys", None)) + _numel(getattr(layer, "values", None))
        rows.append((conv, ssm, kv))
    return rows


def _bytes(cache):
    total = 0
    for layer in cache.layers:
        tensors = list((getattr(layer, "conv_states", None) or {}).values())
        tensors += list((getattr(layer, "recurrent_states", None) or {}).values())
        tensors += [getattr(layer, "keys", None), getattr(layer, "values", None)]
        total += sum(int(t.numel() * t.element_size()) for t in tensors if isinstance(t, torch.Tensor))
    return total


def measure_decode(config, *, batch, context, attn_implementation="eager"):
    if context < 2:
        raise ValueError("a decode step needs context >= 2 (one cached token at least)")
    model = reference.build_model(config, attn_implementation=attn_implementation)
    root = type(model).__name__
    ids = reference._input_ids(model, batch, context, "cpu")
    cache = DynamicCache(config=model.config)
    mamba2 = config["model_type"] == "mamba2"
    key = "cache_params" if mamba2 else "past_key_values"
    # positions given: without them GraniteMoeHybridModel asks the cache for its length,
    # which a cache of Mamba layers only cannot answer (cache_utils get_seq_length raises)
    positions = torch.arange(context)[None].expand(ids.shape[0], -1)
    prefill = {} if mamba2 else {"position_ids": positions[:, : context - 1]}
    step = {} if mamba2 else {"position_ids": positions[:, context - 1:]}
    if not mamba2 and not any(isinstance(layer, CacheLayerMixin) for layer in cache.layers):
        # no attention layer: the masks as create_causal_mask / create_recurrent_attention_mask
        # give them without padding (None), which GraniteMoeHybridModel cannot build itself
        # from a cache of Mamba layers only (it asks the cache for its length)
        for kwargs in (prefill, step):
            kwargs["attention_mask"] = {"full_attention": None, "linear_attention": None}
    with patched(), torch.no_grad():
        model(input_ids=ids[:, : context - 1], use_cache=True, **{key: cache}, **prefill)
        with reference._counted(f"ssd decode ({config['model_type']})") as (counter, _):
            model(input_ids=ids[:, context - 1:], use_cache=True, **{key: cache}, **step)
            counts = reference._snapshot(counter)
    total, by_module, _ = reference._split_counts(counts, root)
    conv, ssm, kv = zip(*_layer_caches(cache))
    return DecodeStep(total, by_module, conv, ssm, kv, _bytes(cache))
