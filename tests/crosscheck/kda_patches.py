"""Harness patches for Kimi Delta Attention: its contractions as products the counter sees.

transformers 5.23 writes several contractions of the KDA core (models/kimi_linear/
modeling_kimi_linear.py) as broadcast-multiply-and-sum, which FlopCounterMode counts as
0 (elementwise ops and a reduction):

* ``chunk_kimi_delta_attention``
    - ``attn = -(k_beta.unsqueeze(-2) * key.unsqueeze(-3) * decay_mask).sum(dim=-1)``:
      the decay-weighted K K^T of every chunk (a length-d dot product per (i, j) pair);
    - ``attn[..., i, :i] = row + (row.unsqueeze(-1) * sub).sum(-2)``: the forward
      substitution that inverts the chunk's unit-triangular system, one row-times-matrix
      product per row;
    - ``attn_intra = (q_i.unsqueeze(-2) * k_i.unsqueeze(-3) * decay_mask[:, :, i]).sum(dim=-1)``:
      the decay-weighted Q K^T of the chunk;
* ``recurrent_kimi_delta_attention`` (the decode step)
    - ``kv_mem = (last_recurrent_state * k_i[..., None]).sum(dim=-2)``: the state read k S;
    - ``last_recurrent_state + k_i.unsqueeze(-1) * delta.unsqueeze(-2)``: the rank-1 update;
    - ``(last_recurrent_state * q_i.unsqueeze(-1)).sum(dim=-2)``: the state read q S.

:func:`kda_matmul_forms` replaces both functions, for the duration of a measurement, by
the same computation line for line with each of those contractions written as a
``torch.matmul`` (a batched dot product, a row-times-matrix product, a matrix-vector
product, an outer product with inner dimension 1), which the counter charges at 2 FLOPs
per multiply-add, forward and backward. Nothing else changes: the other products of the
two functions already are matmuls, and the elementwise work (decays, gates, l2 norms)
stays elementwise. ``tests/crosscheck/test_kda.py`` checks that the replacements return
what the originals return on the same inputs (outputs and final states), so the counts
are those of transformers' own algorithm.

MiniMax's lightning attention (models/minimax/modeling_minimax.py) needs no patch: its
block and recurrent paths already use ``torch.matmul`` for every contraction.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from transformers.models.kimi_linear import modeling_kimi_linear as kimi

__all__ = ["chunk_kda_matmul", "kda_matmul_forms", "recurrent_kda_matmul"]

ORIGINAL_CHUNK = kimi.chunk_kimi_delta_attention
ORIGINAL_RECURRENT = kimi.recurrent_kimi_delta_attention


def _weighted_dot(left, right, weight):
    """sum_c left[..., i, c] * right[..., j, c] * weight[..., i, j, c] as one batched
    dot product per (i, j): (left * weight) [.., i, j, 1, c] @ right [.., 1, j, c, 1]."""
    weighted = left.unsqueeze(-2) * weight  # [..., i, j, c], elementwise
    return (weighted.unsqueeze(-2) @ right.unsqueeze(-3).unsqueeze(-1)).squeeze(-1).squeeze(-1)


def chunk_kda_matmul(query, key, value, g, beta, chunk_size=64, initial_state=None, output_final_state=False,
                     use_qk_l2norm_in_kernel=False, **kwargs):
    """transformers 5.23 ``chunk_kimi_delta_attention`` with its three broadcast-sum
    contractions written as matmuls (module docstring); every other line as there."""
    initial_dtype = query.dtype
    query, key, value, beta, g = [x.transpose(1, 2).contiguous().to(torch.float32)
                                  for x in (query, key, value, beta, g)]
    if use_qk_l2norm_in_kernel:
        query = kimi.l2norm(query, dim=-1, eps=1e-6)
        key = kimi.l2norm(key, dim=-1, eps=1e-6)
    batch_size, num_heads, sequence_length, k_head_dim = key.shape
    v_head_dim = value.shape[-1]
    scale = 1 / (query.shape[-1] ** 0.5)
    pad_size = (chunk_size - sequence_length % chunk_size) % chunk_size
    total_sequence_length = sequence_length + pad_size
    query = F.pad(query, (0, 0, 0, pad_size)) * scale
    key = F.pad(key, (0, 0, 0, pad_size))
    value = F.pad(value, (0, 0, 0, pad_size))
    g = F.pad(g, (0, 0, 0, pad_size))
    beta = F.pad(beta, (0, pad_size))
    v_beta = value * beta.unsqueeze(-1)
    k_beta = key * beta.unsqueeze(-1)
    query, key, value, g, k_beta, v_beta = [x.reshape(x.shape[0], x.shape[1], -1, chunk_size, x.shape[-1])
                                            for x in (query, key, value, g, k_beta, v_beta)]
    g = g.cumsum(dim=-2)
    mask = torch.triu(torch.ones(chunk_size, chunk_size, dtype=torch.bool, device=query.device), diagonal=0)
    strict_mask = torch.triu(torch.ones(chunk_size, chunk_size, dtype=torch.bool, device=query.device), diagonal=1)
    decay_mask = (g.unsqueeze(-2) - g.unsqueeze(-3)).masked_fill(strict_mask[..., None], float("-inf")).exp().float()
    # attn = -(k_beta.unsqueeze(-2) * key.unsqueeze(-3) * decay_mask).sum(dim=-1).masked_fill(mask, 0)
    attn = -_weighted_dot(k_beta, key, decay_mask).masked_fill(mask, 0)
    for i in range(1, chunk_size):
        row = attn[..., i, :i].clone()
        sub = attn[..., :i, :i].clone()
        # attn[..., i, :i] = row + (row.unsqueeze(-1) * sub).sum(-2)
        attn[..., i, :i] = row + (row.unsqueeze(-2) @ sub).squeeze(-2)
    attn = attn + torch.eye(chunk_size, dtype=attn.dtype, device=attn.device)
    value = attn @ v_beta
    k_cumdecay = attn @ (k_beta * g.exp())
    last_recurrent_state = (
        torch.zeros(batch_size, num_heads, k_head_dim, v_head_dim, dtype=value.dtype, device=value.device)
        if initial_state is None else initial_state.to(value))
    core_attn_out = torch.zeros_like(value)
    mask = torch.triu(torch.ones(chunk_size, chunk_size, dtype=torch.bool, device=query.device), diagonal=1)
    for i in range(total_sequence_length // chunk_size):
        q_i = query[:, :, i]
        k_i = key[:, :, i]
        v_i = value[:, :, i]
        g_i = g[:, :, i]
        attn_inter = (q_i * g_i.exp()) @ last_recurrent_state
        # attn_intra = (q_i.unsqueeze(-2) * k_i.unsqueeze(-3) * decay_mask[:, :, i]).sum(dim=-1).masked_fill(mask, 0)
        attn_intra = _weighted_dot(q_i, k_i, decay_mask[:, :, i]).masked_fill(mask, 0)
        v_prime = k_cumdecay[:, :, i] @ last_recurrent_state
        v_new = v_i - v_prime
        core_attn_out[:, :, i] = attn_inter + attn_intra @ v_new
        last_recurrent_state = (last_recurrent_state * g_i[:, :, -1].exp().unsqueeze(-1)
                                + (k_i * (g_i[:, :, -1:] - g_i).exp()).transpose(-1, -2) @ v_new)
    if not output_final_state:
        last_recurrent_state = None
    core_attn_out = core_attn_out.reshape(core_attn_out.shape[0], core_attn_out.shape[1], -1, core_attn_out.shape[-1])
    core_attn_out = core_attn_out[:, :, :sequence_length]
    core_attn_out = core_attn_out.transpose(1, 2).contiguous().to(initial_dtype)
    return core_attn_out, last_recurrent_state


def recurrent_kda_matmul(query, key, value, g, beta, initial_state, output_final_state,
                         use_qk_l2norm_in_kernel=False, **kwargs):
    """transformers 5.23 ``recurrent_kimi_delta_attention`` with the state reads and the
    rank-1 update written as matmuls (module docstring); every other line as there."""
    initial_dtype = query.dtype
    query, key, value, g, beta = [x.to(torch.float32) for x in (query, key, value, g, beta)]
    if use_qk_l2norm_in_kernel:
        query = kimi.l2norm(query, dim=-1, eps=1e-6)
        key = kimi.l2norm(key, dim=-1, eps=1e-6)
    batch_size, sequence_length, num_heads, k_head_dim = key.shape
    v_head_dim = value.shape[-1]
    scale = 1 / (query.shape[-1] ** 0.5)
    query = query * scale
    core_attn_out = torch.zeros(batch_size, sequence_length, num_heads, v_head_dim, dtype=value.dtype,
                                device=value.device)
    last_recurrent_state = (
        torch.zeros(batch_size, num_heads, k_head_dim, v_head_dim, dtype=value.dtype, device=value.device)
        if initial_state is None else initial_state.to(value))
    for i in range(sequence_length):
        q_i = query[:, i]
        k_i = key[:, i]
        v_i = value[:, i]
        g_i = g[:, i][..., None].exp()
        b_i = beta[:, i][..., None]
        last_recurrent_state = last_recurrent_state * g_i
        # kv_mem = (last_recurrent_state * k_i[..., None]).sum(dim=-2)
        kv_mem = (k_i.unsqueeze(-2) @ last_recurrent_state).squeeze(-2)
        delta = (v_i - kv_mem) * b_i
        # last_recurrent_state + k_i.unsqueeze(-1) * delta.unsqueeze(-2)
        last_recurrent_state = last_recurrent_state + k_i.unsqueeze(-1) @ delta.unsqueeze(-2)
        # (last_recurrent_state * q_i.unsqueeze(-1)).sum(dim=-2)
        core_attn_out[:, i] = (q_i.unsqueeze(-2) @ last_recurrent_state).squeeze(-2)
    return core_attn_out.to(initial_dtype), last_recurrent_state if output_final_state else None


@contextlib.contextmanager
def kda_matmul_forms():
    """Within the block, Kimi Linear's KDA layers run the matmul forms above (the module
    globals the layer's forward calls are swapped, then restored)."""
    kimi.chunk_kimi_delta_attention = chunk_kda_matmul
    kimi.recurrent_kimi_delta_attention = recurrent_kda_matmul
    try:
        yield
    finally:
        kimi.chunk_kimi_delta_attention = ORIGINAL_CHUNK
        kimi.recurrent_kimi_delta_attention = ORIGINAL_RECURRENT
