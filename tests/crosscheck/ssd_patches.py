"""Harness patches for the Mamba-2 (SSD) families (mamba2, bamba, falcon_h1, nemotron_h,
granitemoehybrid), for the duration of a measurement.

transformers 5.23 writes one contraction of these models elementwise, so FlopCounterMode
sees no matmul for it:

* ``mamba2_selective_state_update`` (the recurrent step of a decode token, each family's
  own copy in its modeling module) updates the SSM state with the rank-1 product
  ``dBx = (dB * hidden_states[..., None])``: per head, the outer product of x (head_dim)
  and dt * B (state_size), accumulated into the state. The counting principle charges a
  rank-1 update accumulated into a state 2 * head_dim * state_size per head. The patch
  replaces the function by the same code with that line written as a matmul,
  ``torch.matmul(hidden_states[..., None], dB[..., :1, :])`` (dt is constant over the
  head dimension, so every row of dB is its first row); each product is the same single
  multiplication, so the result is bit-identical. Every call is checked: the original
  runs on a copy of the state outside the counter and its output and new state must equal
  the patched one's exactly.

Everything else is already a matmul the counter sees: the chunked scan's einsums
(``mamba2_chunk_scan``), the read-out ``torch.bmm(ssm_states, C)`` of the decode step,
and both convolutions, ``causal_conv1d_fn`` and ``causal_conv1d_update``, which in 5.23
call ``F.conv1d`` (the update convolves the K-wide cached state and the new token: two
outputs, the last kept).
"""

import contextlib
import importlib

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import _disable_current_modes

MODULES = ("mamba2", "bamba", "falcon_h1", "nemotron_h", "granitemoehybrid")
NAME = "mamba2_selective_state_update"


def state_update_as_matmul(state, hidden_states, dt, A, B, C, D=None, dt_bias=None, dt_softplus=False, z=None,
                           **kwargs):
    """transformers 5.23 mamba2_selective_state_update, with the rank-1 state update
    ``dBx = (dB * hidden_states[..., None])`` computed as a matmul."""
    batch_size, num_heads, head_dim = hidden_states.shape
    num_groups = B.shape[1]
    state_size = B.shape[-1]
    if dt_bias is not None:
        dt = dt + dt_bias.to(dt.dtype)
    if dt_softplus:
        dt = F.softplus(dt)
    dt = dt[..., None]
    dA = torch.exp(dt.float() * A.float()).to(device=state.device)
    B = B.reshape(batch_size, num_groups, 1, state_size)
    B = B.expand(batch_size, num_groups, num_heads // num_groups, state_size).contiguous()
    B = B.reshape(batch_size, num_heads, 1, state_size)
    dB = dt * B
    if not torch.equal(dB, dB[..., :1, :].expand_as(dB)):
        raise AssertionError("dt varies over the head dimension: the rank-1 form does not apply")
    dBx = torch.matmul(hidden_states[..., None], dB[..., :1, :]).to(device=state.device)
    ssm_states = state * dA + dBx
    state.copy_(ssm_states.to(state.dtype))
    C = C.reshape(batch_size, num_groups, 1, state_size)
    C = C.expand(batch_size, num_groups, num_heads // num_groups, state_size).contiguous()
    C = C.reshape(batch_size, num_heads, state_size)
    ssm_states = ssm_states.to(device=C.device, dtype=C.dtype)
    out = torch.bmm(ssm_states.view(batch_size * num_heads, head_dim, state_size),
                    C.view(batch_size * num_heads, state_size, 1))
    out = out.view(batch_size, num_heads, head_dim)
    if D is not None:
        out = (out + hidden_states * D).to(out.dtype)
    if z is not None:
        out = out * F.silu(z)
    return out.to(hidden_states.dtype)


def _checked(original):
    def update(state, *args, **kwargs):
        with _disable_current_modes():  # the reference runs uncounted
            reference_state = state.clone()
            reference = original(reference_state, *args, **kwargs)
        out = state_update_as_matmul(state, *args, **kwargs)
        if not (torch.equal(out, reference) and torch.equal(state, reference_state)):
            raise AssertionError(f"patched {NAME} differs from transformers' own")
        return out
    return update


@contextlib.contextmanager
def patched():
    """Every family's state update replaced by the checked matmul form, restored on exit."""
    saved = []
    try:
        for family in MODULES:
            module = importlib.import_module(f"transformers.models.{family}.modeling_{family}")
            original = getattr(module, NAME)
            saved.append((module, original))
            setattr(module, NAME, _checked(original))
        yield
    finally:
        for module, original in saved:
            setattr(module, NAME, original)


# --------------------------------------------------------------------------- the chunked algorithm

SCAN = "mamba2_chunk_scan"


def _segment_sum(x):
    """transformers' segment_sum: exp of it is the lower-triangular decay matrix."""
    size = x.size(-1)
    x = x[..., None].expand(*x.size(), size)
    x = x.masked_fill(~torch.tril(torch.ones(size, size, dtype=torch.bool, device=x.device), diagonal=-1), 0)
    x = torch.cumsum(x, dim=-2)
    return x.masked_fill(~torch.tril(torch.ones(size, size, dtype=torch.bool, device=x.device), diagonal=0),
                         -torch.inf)


def chunked_scan(hidden_states, dt, A, B, C, chunk_size, D=None, dt_bias=None, initial_states=None,
                 dt_softplus=False, dt_limit=(0.0, float("inf")), return_final_states=False, **kwargs):
    """The SSD chunked algorithm structured as mamba_ssm's kernels run it
    (ssd_combined._mamba_chunk_scan_combined_fwd), on the sequence padded to whole chunks:
    the scores C B^T once per group (_bmm_chunk_fwd), their masked product with x per head
    and the chunk states B^T x per head (_chunk_scan_fwd, _chunk_state_fwd), the states
    passed from chunk to chunk by a scalar decay per head (_state_passing_fwd:
    elementwise), the read-out C h of each chunk's incoming state. Same inputs and outputs
    as transformers' mamba2_chunk_scan."""
    batch, length, heads, head_dim = hidden_states.shape
    groups, state = B.shape[2], B.shape[3]
    per_group = heads // groups
    if dt_bias is not None:
        dt = dt + dt_bias.to(dt.dtype)
    if dt_softplus:
        dt = F.softplus(dt)
    dt = torch.clamp(dt, min=dt_limit[0], max=dt_limit[1])
    x, B, C = hidden_states.float(), B.float(), C.float()
    pad = (chunk_size - length % chunk_size) % chunk_size
    x_padded = F.pad(x, (0, 0, 0, 0, 0, pad))
    residual = D[..., None] * x_padded if D is not None else None
    x = F.pad(x * dt[..., None].float(), (0, 0, 0, 0, 0, pad))
    a = F.pad(A.to(x.dtype) * dt.float(), (0, 0, 0, pad))
    B, C = (F.pad(t, (0, 0, 0, 0, 0, pad)) for t in (B, C))
    chunks = (length + pad) // chunk_size
    x = x.reshape(batch, chunks, chunk_size, heads, head_dim)
    a = a.reshape(batch, chunks, chunk_size, heads).permute(0, 3, 1, 2)  # b h c l
    B = B.reshape(batch, chunks, chunk_size, groups, state)
    C = C.reshape(batch, chunks, chunk_size, groups, state)
    a_cumsum = torch.cumsum(a, dim=-1)
    scores = torch.einsum("bclgn,bcsgn->bcgls", C, B).repeat_interleave(per_group, dim=2)  # per group
    masked = scores * torch.exp(_segment_sum(a)).permute(0, 2, 1, 3, 4)
    y_diag = torch.einsum("bchls,bcshp->bclhp", masked, x)
    B_heads = B.repeat_interleave(per_group, dim=3)
    C_heads = C.repeat_interleave(per_group, dim=3)
    decay_in = torch.exp(a_cumsum[..., -1:] - a_cumsum).permute(0, 2, 3, 1)[..., None]  # b c l h 1
    states = torch.einsum("bclhn,bclhp->bchpn", B_heads * decay_in, x)
    chunk_decay = torch.exp(a_cumsum[..., -1])  # b h c
    incoming = (initial_states.to(states.dtype) if initial_states is not None
                else torch.zeros_like(states[:, 0]))
    starts = []
    for c in range(chunks):  # state passing: a scalar decay per head, elementwise
        starts.append(incoming)
        incoming = incoming * chunk_decay[:, :, c, None, None] + states[:, c]
    y_off = torch.einsum("bclhn,bchpn->bclhp", C_heads, torch.stack(starts, dim=1))
    y_off = y_off * torch.exp(a_cumsum).permute(0, 2, 3, 1)[..., None]
    output = (y_diag + y_off).reshape(batch, -1, heads, head_dim)
    if residual is not None:
        output = output + residual
    output = output[:, :length].contiguous()  # as transformers' (Falcon-H1 views it)
    return (output, incoming) if return_final_states else output


def _checked_scan(original):
    def scan(*args, **kwargs):
        with _disable_current_modes():
            reference = original(*args, **kwargs)
        out = chunked_scan(*args, **kwargs)
        for ours, theirs in zip(out if isinstance(out, tuple) else (out,),
                                reference if isinstance(reference, tuple) else (reference,)):
            torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
        return out
    return scan


@contextlib.contextmanager
def chunked_algorithm():
    """Every family's mamba2_chunk_scan replaced by chunked_scan (outputs checked close to
    transformers' own on every call), with the state update patched as in patched()."""
    saved = []
    try:
        with patched():
            for family in MODULES:
                module = importlib.import_module(f"transformers.models.{family}.modeling_{family}")
                original = getattr(module, SCAN)
                saved.append((module, original))
                setattr(module, SCAN, _checked_scan(original))
            yield
    finally:
        for module, original in saved:
            setattr(module, SCAN, original)
