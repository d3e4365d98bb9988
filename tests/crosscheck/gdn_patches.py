"""Harness additions for the Gated DeltaNet families (qwen3_next, qwen3_5_text,
qwen3_5_moe_text, olmo_hybrid).

1. The recurrent decode step. transformers' ``torch_recurrent_gated_delta_rule`` (the
   path of every single-token step with a cache) writes the state read, the rank-1 update
   and the output read as broadcast-multiply-and-sum::

       kv_mem = (last_recurrent_state * k_t.unsqueeze(-1)).sum(dim=-2)
       last_recurrent_state = last_recurrent_state + k_t.unsqueeze(-1) * delta.unsqueeze(-2)
       core_attn_out[:, :, i] = (last_recurrent_state * q_t.unsqueeze(-1)).sum(dim=-2)

   FlopCounterMode counts those as 0. :func:`matmul_recurrent_step` replaces the function,
   for the duration of a measurement, by the same computation with the three contractions
   written as matmuls (``k^T S``, ``k delta^T``, ``q^T S``: 2 d_k d_v FLOPs each per value
   head), and checks on every call that its outputs equal the original's on the same
   inputs (the original runs first; its elementwise ops cost the counter nothing).
   Everything else of these families is counted as it stands: the chunked path
   (``torch_chunk_gated_delta_rule``: matmuls and ``linalg_solve_triangular``, which
   reference.py charges) and the convolutions (``F.conv1d`` in ``causal_conv1d_fn`` and
   ``causal_conv1d_update``; reference.py corrects the grouped backward).

2. :func:`measure_linear_decode`: one decode step like ``reference.measure_decode``, with
   the patch above, that also returns the states transformers' ``LinearAttentionLayer``
   keeps (conv states and recurrent states), which ``measure_decode`` does not see.
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache

from . import reference

# the modeling modules that carry their own copy of the recurrent step
MODULES = (
    "transformers.models.qwen3_next.modeling_qwen3_next",
    "transformers.models.qwen3_5.modeling_qwen3_5",
    "transformers.models.qwen3_5_moe.modeling_qwen3_5_moe",
    "transformers.models.olmo_hybrid.modeling_olmo_hybrid",
)


def _recurrent_matmul(l2norm, query, key, value, g, beta, initial_state=None, output_final_state=False,
                      use_qk_l2norm_in_kernel=False):
    """torch_recurrent_gated_delta_rule with its contractions as matmuls."""
    initial_dtype = query.dtype
    batch_size, sequence_length, num_k_heads, k_head_dim = key.shape
    num_v_heads, v_head_dim = value.shape[-2:]
    if num_k_heads != num_v_heads:
        query = query.repeat_interleave(num_v_heads // num_k_heads, dim=2)
        key = key.repeat_interleave(num_v_heads // num_k_heads, dim=2)
    query, key, value, beta, decay = [
        x.transpose(1, 2).to(torch.float32, memory_format=torch.contiguous_format) for x in (query, key, value, beta, g)
    ]
    if use_qk_l2norm_in_kernel:
        query = l2norm(query, dim=-1, eps=1e-6)
        key = l2norm(key, dim=-1, eps=1e-6)
    query = query / (query.shape[-1] ** 0.5)
    if initial_state is None:
        state = torch.zeros((batch_size, num_v_heads, k_head_dim, v_head_dim), dtype=value.dtype, device=value.device)
    else:
        state = initial_state.to(value)
    out = torch.zeros_like(value)
    for i in range(sequence_length):
        q_t, k_t, v_t = query[:, :, i], key[:, :, i], value[:, :, i]
        state = state * decay[:, :, i].exp()[..., None, None]
        kv_mem = torch.matmul(k_t.unsqueeze(-2), state).squeeze(-2)  # k^T S
        delta = (v_t - kv_mem) * beta[:, :, i].unsqueeze(-1)
        state = state + torch.matmul(k_t.unsqueeze(-1), delta.unsqueeze(-2))  # rank-1 update k delta^T
        out[:, :, i] = torch.matmul(q_t.unsqueeze(-2), state).squeeze(-2)  # q^T S
    state = state if output_final_state else None
    return out.transpose(1, 2).contiguous().to(initial_dtype), state


def _checked(module):
    original = module.torch_recurrent_gated_delta_rule

    def recurrent(query, key, value, g, beta, initial_state=None, output_final_state=False,
                  use_qk_l2norm_in_kernel=False, **kwargs):
        arguments = dict(initial_state=initial_state, output_final_state=output_final_state,
                         use_qk_l2norm_in_kernel=use_qk_l2norm_in_kernel)
        theirs = original(query, key, value, g=g, beta=beta, **arguments)
        ours = _recurrent_matmul(module.l2norm, query, key, value, g, beta, **arguments)
        torch.testing.assert_close(ours[0], theirs[0])
        if theirs[1] is not None:
            torch.testing.assert_close(ours[1], theirs[1])
        return ours

    return original, recurrent


@contextlib.contextmanager
def matmul_recurrent_step():
    """Replace torch_recurrent_gated_delta_rule in every GDN family's modeling module by
    the checked matmul form, and restore it on exit."""
    saved = []
    try:
        for name in MODULES:
            module = importlib.import_module(name)
            original, recurrent = _checked(module)
            saved.append((module, original))
            module.torch_recurrent_gated_delta_rule = recurrent
        yield
    finally:
        for module, original in saved:
            module.torch_recurrent_gated_delta_rule = original


# --------------------------------------------------------------------------- decode


@dataclass(frozen=True)
class LinearDecode:
    """One decode step at context C of a hybrid with linear-attention layers:
    ``forward`` its FLOPs; per layer, after the step, ``kv`` the (keys, values) shapes of
    an attention layer (None for a linear layer) and ``conv``/``recurrent`` the state
    shapes of a linear layer (None for an attention layer); ``cache_bytes`` all of them."""

    forward: int
    by_module: dict = field(compare=False)
    kv: tuple = ()
    conv: tuple = ()
    recurrent: tuple = ()
    cache_bytes: int = 0


def _shape(tensor):
    return None if tensor is None else tuple(tensor.shape)


def _bytes(tensor):
    return 0 if tensor is None else int(tensor.numel() * tensor.element_size())


def measure_linear_decode(config, *, batch, context, attn_implementation="eager"):
    """Prefill context - 1 tokens into a DynamicCache (not counted), then count one token
    per sequence with the recurrent step in matmul form. Needs context >= 2: with an
    empty cache transformers runs the chunked prefill path for the one token."""
    if context < 2:
        raise ValueError("context must be >= 2 (an empty cache is a prefill, not a recurrent step)")
    model = reference.build_model(config, attn_implementation=attn_implementation)
    root = type(model).__name__
    ids = reference._input_ids(model, batch, context, "cpu")
    cache = DynamicCache(config=model.config)
    with torch.no_grad(), matmul_recurrent_step():
        model(input_ids=ids[:, : context - 1], past_key_values=cache, use_cache=True)
        with reference._counted(f"measure_linear_decode({config.get('model_type')})") as (counter, _):
            model(input_ids=ids[:, context - 1:], past_key_values=cache, use_cache=True)
            counts = reference._snapshot(counter)
    total, by_module, _ = reference._split_counts(counts, root)
    kv, conv, recurrent, size = [], [], [], 0
    for layer in cache.layers:
        keys, values = getattr(layer, "keys", None), getattr(layer, "values", None)
        convs = getattr(layer, "conv_states", {}) or {}
        states = getattr(layer, "recurrent_states", {}) or {}
        kv.append(None if keys is None else (_shape(keys), _shape(values)))
        conv.append(_shape(convs.get(0)))
        recurrent.append(_shape(states.get(0)))
        size += _bytes(keys) + _bytes(values) + _bytes(convs.get(0)) + _bytes(states.get(0))
    return LinearDecode(forward=total, by_module=by_module, kv=tuple(kv), conv=tuple(conv),
                        recurrent=tuple(recurrent), cache_bytes=size)
