"""Harness patches for the Mamba-1 and short-convolution families: transformers' PyTorch
path rewritten, for the duration of a measurement, into equivalent forms whose
contractions FlopCounterMode sees.

transformers 5.23 (models/mamba, models/jamba, models/lfm2) runs without mamba_ssm and
causal_conv1d as follows, and FlopCounterMode sees:

* the selective scan (``mamba_selective_scan``, sequential loop) and its decode step
  (``mamba_selective_state_update``): the read-out ``torch.matmul(ssm_state, C)`` is a
  bmm (counted, 2 d_in N a token), but the rank-1 update of the state is a broadcast
  multiply (``deltaB_u = discrete_B * hidden_states[:, :, :, None]``; at decode
  ``dBx = dB * hidden_states[..., None]``), which it does not count. The counting
  principle charges it 2 d_in N: :func:`scan_patches` writes that product as a batched
  matmul of a (N x 1) column and a (1 x 1) row per channel and step (each product a
  single multiplication, bitwise the same values; the counter charges 2 d_in N). The
  rest of the function is transformers' code unchanged (tests/crosscheck/test_mamba.py
  checks outputs and final states equal the original's on the same inputs).
* the depthwise conv (``causal_conv1d_fn``): ``F.conv1d(..., padding=K - 1)[..., :seq_len]``
  computes seq_len + K - 1 outputs; ``causal_conv1d_update`` convolves the K cached
  inputs and the new one (2 outputs) and keeps the last. The engine counts that as the
  variant ``conv_outputs=padded``. :func:`conv_patches` computes only the kept outputs
  (left-pad K - 1 zeros, ``padding=0``; at decode the last K inputs), as the causal-conv1d
  kernels do: the default ``conv_outputs=causal``.

Without patches a measurement is what transformers executes (the engine's
``mamba_scan=readout``, ``conv_outputs=padded``: the `torch` preset); with both, the
engine's defaults.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from transformers.activations import ACT2FN
from transformers.models.jamba import modeling_jamba
from transformers.models.lfm2 import modeling_lfm2
from transformers.models.mamba import modeling_mamba

SCAN_MODULES = (modeling_mamba, modeling_jamba)
CONV_MODULES = (modeling_mamba, modeling_jamba, modeling_lfm2)


def _outer(columns: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``columns * scale[..., None]`` (N-vectors times one number each) as a batched
    (N x 1) @ (1 x 1) matmul: the same products, charged 2 N FLOPs per vector."""
    return torch.matmul(columns[..., None], scale[..., None, None]).squeeze(-1)


def selective_scan(hidden_states, dt, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   return_last_state=False, **kwargs):
    """``mamba_selective_scan``'s sequential path with the rank-1 update as a matmul.

    transformers: ``deltaB_u = discrete_B * hidden_states[:, :, :, None].float()``
    here:         ``deltaB_u = _outer(discrete_B, hidden_states.float())``
    """
    batch_size, intermediate_size, seq_len = hidden_states.shape
    input_dtype = hidden_states.dtype
    if delta_bias is not None:
        dt = dt + delta_bias.to(dt.dtype)[..., None]
    if delta_softplus:
        dt = F.softplus(dt)
    B = B.transpose(1, 2)
    C = C.transpose(1, 2)
    discrete_A = torch.exp(A[None, :, None, :] * dt[:, :, :, None])
    discrete_B = dt[:, :, :, None] * B[:, None, :, :].float()
    deltaB_u = _outer(discrete_B, hidden_states.float())
    ssm_state = torch.zeros(batch_size, intermediate_size, A.shape[-1], dtype=input_dtype, device=hidden_states.device)
    scan_outputs = []
    for index in range(seq_len):
        ssm_state = discrete_A[:, :, index] * ssm_state + deltaB_u[:, :, index]
        scan_output = torch.matmul(ssm_state.to(input_dtype), C[:, index, :].unsqueeze(-1))
        scan_outputs.append(scan_output[:, :, 0])
    scan_output = torch.stack(scan_outputs, dim=-1)
    if D is not None:
        scan_output = scan_output + hidden_states * D[None, :, None]
    if z is not None:
        scan_output = scan_output * F.silu(z)
    if return_last_state:
        return scan_output, ssm_state
    return scan_output


def selective_state_update(state, hidden_states, dt, A, B, C, D=None, dt_bias=None, dt_softplus=False, z=None,
                           **kwargs):
    """``mamba_selective_state_update`` with the rank-1 update as a matmul.

    transformers: ``dBx = dB * hidden_states.float()[..., None]``
    here:         ``dBx = _outer(dB, hidden_states.float())``
    """
    input_dtype = hidden_states.dtype
    if dt_bias is not None:
        dt = dt + dt_bias.to(dt.dtype)
    if dt_softplus:
        dt = F.softplus(dt)
    dA = torch.exp(dt.float()[..., None] * A.float()).to(device=state.device)
    dB = dt.float()[..., None] * B.float()[:, None, :]
    dBx = _outer(dB, hidden_states.float())
    ssm_state = state.float() * dA + dBx
    state.copy_(ssm_state.to(state.dtype))
    out = torch.matmul(ssm_state.to(C.dtype), C.unsqueeze(-1)).squeeze(-1)
    if D is not None:
        out = out + hidden_states * D
    if z is not None:
        out = out * F.silu(z)
    return out.to(input_dtype)


def causal_conv(hidden_states, weight, bias=None, activation=None, **kwargs):
    """``causal_conv1d_fn`` computing only the seq_len outputs it keeps.

    transformers: ``F.conv1d(x, w, b, padding=K - 1, groups=d)[:, :, :seq_len]``
    here:         ``F.conv1d(F.pad(x, (K - 1, 0)), w, b, padding=0, groups=d)``
    """
    _, hidden_size, _ = hidden_states.shape
    padded = F.pad(hidden_states.to(weight.dtype), (weight.shape[-1] - 1, 0))
    out = F.conv1d(padded, weight=weight.unsqueeze(1), bias=bias, padding=0, groups=hidden_size)
    if activation is not None:
        out = ACT2FN[activation](out)
    return out.to(hidden_states.dtype)


def causal_conv_update(hidden_states, conv_state, weight, bias=None, activation=None):
    """``causal_conv1d_update`` computing only the output it keeps (the last K inputs).

    transformers: ``F.conv1d(cat(conv_state, x), w, b, padding=0, groups=d)[:, :, -seq_len:]``
    here:         ``F.conv1d(cat(conv_state, x)[:, :, -K:], w, b, padding=0, groups=d)``
    """
    _, hidden_size, seq_len = hidden_states.shape
    state_len = conv_state.shape[-1]
    hidden_states_new = torch.cat([conv_state, hidden_states], dim=-1).to(weight.dtype)
    conv_state.copy_(hidden_states_new[:, :, -state_len:])
    window = hidden_states_new[:, :, -(weight.shape[-1] + seq_len - 1):]
    out = F.conv1d(window, weight.unsqueeze(1), bias, padding=0, groups=hidden_size)
    if activation is not None:
        out = ACT2FN[activation](out)
    return out.to(hidden_states.dtype)


@contextlib.contextmanager
def _replaced(modules, replacements) -> Iterator[None]:
    saved = [(module, name, getattr(module, name)) for module in modules for name in replacements]
    try:
        for module in modules:
            for name, function in replacements.items():
                setattr(module, name, function)
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def scan_patches():
    """The selective scan and its decode step with the rank-1 update counted."""
    return _replaced(SCAN_MODULES, {"mamba_selective_scan": selective_scan,
                                    "mamba_selective_state_update": selective_state_update})


def conv_patches():
    """The depthwise convs computing one output per token (the causal kernels' count)."""
    return _replaced(CONV_MODULES, {"causal_conv1d_fn": causal_conv, "causal_conv1d_update": causal_conv_update})


@contextlib.contextmanager
def patched(scan: bool = True, conv: bool = True) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        if scan:
            stack.enter_context(scan_patches())
        if conv:
            stack.enter_context(conv_patches())
        yield
