"""Stand-ins, for the duration of a trace, for the few torch functions whose fake-tensor
kernels cannot take symbolic sizes. Each does exactly what the original does, with ops
that count the same FLOPs (none: they move data)."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F


def _symbolic(values) -> bool:
    return any(isinstance(v, torch.SymInt) for v in values)


@contextlib.contextmanager
def symbolic_padding():
    """`F.pad(x, pad, "constant", value)` with a symbolic amount (the chunked scans pad the
    length to a multiple of the chunk: `(chunk - s % chunk) % chunk`): `constant_pad_nd`'s
    kernel needs concrete integers, so the padding is concatenated instead (the same
    tensor; padding does no arithmetic)."""
    original = F.pad

    def pad(input, pad, mode="constant", value=None):
        if mode != "constant" or not (_symbolic(pad) or _symbolic(input.shape)):
            return original(input, pad, mode=mode, value=value)
        out = input
        for i in range(len(pad) // 2):
            dim = input.dim() - 1 - i
            before, after = pad[2 * i], pad[2 * i + 1]
            parts = []
            for amount, where in ((before, 0), (after, 1)):
                if isinstance(amount, int) and amount == 0:
                    continue
                shape = list(out.shape)
                shape[dim] = amount
                parts.append((where, out.new_full(shape, 0 if value is None else value)))
            pieces = [p for w, p in parts if w == 0] + [out] + [p for w, p in parts if w == 1]
            out = torch.cat(pieces, dim=dim) if len(pieces) > 1 else out
        return out

    F.pad = pad
    torch.nn.functional.pad = pad
    try:
        yield
    finally:
        F.pad = original
        torch.nn.functional.pad = original


@contextlib.contextmanager
def symbolic_polar():
    """`torch.polar(abs, angle)` (Llama 4's and DeepSeek-V2's complex rotary tables): its
    fake kernel fixes symbolic sizes, so the same complex tensor is made from its real
    and imaginary parts, `abs * cos(angle) + i abs * sin(angle)` (elementwise: no FLOPs
    the counter charges)."""
    original = torch.polar

    def polar(abs, angle, *, out=None):
        if out is not None or not _symbolic(abs.shape):
            return original(abs, angle) if out is None else original(abs, angle, out=out)
        return torch.view_as_complex(torch.stack([abs * torch.cos(angle), abs * torch.sin(angle)], dim=-1))

    torch.polar = polar
    try:
        yield
    finally:
        torch.polar = original


@contextlib.contextmanager
def no_packed_sequence_check():
    """transformers' packed-sequence check reads position values (`.item()`); fake and
    meta tensors have none. With no mask and no cache the positions are arange(seq_len), never packed,
    so None is what real inputs give. Undone on exit."""
    try:
        import transformers.masking_utils as masking
    except ImportError:
        yield
        return
    original = getattr(masking, "find_packed_sequence_indices", None)
    if original is None:
        yield
        return

    def patched(position_ids, *args, **kwargs):
        from torch._subclasses.fake_tensor import FakeTensor
        if isinstance(position_ids, FakeTensor) or getattr(position_ids, "is_meta", False):
            return None
        return original(position_ids, *args, **kwargs)

    masking.find_packed_sequence_indices = patched
    try:
        yield
    finally:
        masking.find_packed_sequence_indices = original


def _solve_triangular_op():
    """`mfu_sym::solve_triangular`: torch.linalg.solve_triangular as a custom op with a fake
    kernel that takes symbolic sizes (torch's meta kernel fixes them) and the backward
    torch runs (FunctionsManual.cpp, linalg_solve_triangular_backward): a triangular solve
    with the transposed matrix for B's gradient and, for A's, a matmul with the solution
    masked to the triangle. The counter charges it as counter.solve_triangular_flop."""
    namespace = getattr(torch.ops, "mfu_sym", None)
    if namespace is not None and hasattr(namespace, "solve_triangular"):
        return namespace.solve_triangular

    @torch.library.custom_op("mfu_sym::solve_triangular", mutates_args=())
    def solve(A: torch.Tensor, B: torch.Tensor, upper: bool, left: bool, unitriangular: bool) -> torch.Tensor:
        return torch.linalg.solve_triangular(A, B, upper=upper, left=left, unitriangular=unitriangular)

    @solve.register_fake
    def _(A, B, upper, left, unitriangular):
        batch = torch.broadcast_shapes(A.shape[:-2], B.shape[:-2])
        return B.new_empty((*batch, *B.shape[-2:]))

    def setup_context(ctx, inputs, output):
        A, B, upper, left, unitriangular = inputs
        ctx.save_for_backward(A, output)
        ctx.flags = (upper, left, unitriangular)
        ctx.shapes = (A.shape, B.shape)

    def backward(ctx, grad):
        A, X = ctx.saved_tensors
        upper, left, unitriangular = ctx.flags
        grad_B = torch.ops.mfu_sym.solve_triangular(A.mH, grad, not upper, left, unitriangular)
        grad_A = None
        if ctx.needs_input_grad[0]:
            grad_A = -(grad_B @ X.mH) if left else -(X.mH @ grad_B)
            grad_A = grad_A.triu(int(unitriangular)) if upper else grad_A.tril(-int(unitriangular))
            grad_A = grad_A.sum_to_size(ctx.shapes[0])
        grad_B = grad_B.sum_to_size(ctx.shapes[1]) if ctx.needs_input_grad[1] else None
        return grad_A, grad_B, None, None, None

    solve.register_autograd(backward, setup_context=setup_context)
    return torch.ops.mfu_sym.solve_triangular


@contextlib.contextmanager
def symbolic_solve_triangular():
    """`torch.linalg.solve_triangular` on symbolic sizes (Gated DeltaNet's chunked delta
    rule) through the custom op above, counted by the counter's triangular-solve formula;
    concrete sizes go to torch's own."""
    from .counter import CUSTOM_FLOP_MAPPING, solve_triangular_flop
    op = _solve_triangular_op()
    CUSTOM_FLOP_MAPPING.setdefault(
        op, lambda a, b, upper, left, unitriangular, out_shape=None, **kwargs:
        solve_triangular_flop(a, b, upper=upper, left=left, unitriangular=unitriangular))
    original = torch.linalg.solve_triangular

    def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
        if out is not None or not (_symbolic(A.shape) or _symbolic(B.shape)):
            return original(A, B, upper=upper, left=left, unitriangular=unitriangular, out=out)
        return op(A, B, upper, left, unitriangular)

    torch.linalg.solve_triangular = solve_triangular
    try:
        yield
    finally:
        torch.linalg.solve_triangular = original
