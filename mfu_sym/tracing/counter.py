"""PyTorch's FlopCounterMode, made honest: the counter's traps corrected, every op that
does matrix products checked to have been counted, and backward FLOPs attributed to the
module whose forward created them.

Facts: ../shared/reference/torch-flop-counting.md (torch 2.13, transformers 5.23).

* The CPU SDPA kernel (``_scaled_dot_product_flash_attention_for_cpu`` and its backward)
  is missing from torch's registry: charged with torch's own ``sdpa_flop_count`` /
  ``sdpa_backward_flop_count``.
* ``convolution_backward`` ignores ``groups`` in the weight gradient: a depthwise conv1d
  (Mamba, Gated DeltaNet, short-conv blocks) reads ``channels x`` too much. Charged with
  ``groups`` honoured (:func:`conv_backward_flop`).
* ``linalg_solve_triangular`` (Gated DeltaNet's chunked path) counts 0: charged
  ``n (n - 1) k`` (unit diagonal) or ``n^2 k`` (:func:`solve_triangular_flop`).
* ``_grouped_mm`` (transformers' default experts path) counts 0: charged as the matmuls
  it runs (:func:`grouped_mm_flop`).

Every formula works on plain ints and on symbolic sizes (SymInt) alike: nothing here
turns a size into a Python int, so a trace at symbolic length stays symbolic.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count, sdpa_backward_flop_count, sdpa_flop_count

from ..errors import MfuSymError

aten = torch.ops.aten


class UncountedMatmulError(MfuSymError, RuntimeError):
    """A matmul-like aten op executed that the counter has no formula for."""


# --------------------------------------------------------------------------- corrections


def cpu_flash_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
    """``_scaled_dot_product_flash_attention_for_cpu(q, k, v, ...)``: torch's SDPA formula
    (the full ``S_q x S_k`` square, as for every SDPA kernel; GQA charged by query heads)."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def cpu_flash_sdpa_backward_flop(grad_out_shape, query_shape, key_shape, value_shape, *args,
                                 out_shape=None, **kwargs):
    """Its backward: five bmm-equivalents, ``2 B Hq Sq Sk (3 d_qk + 2 d_v)``."""
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


def conv_backward_flop(grad_out_shape, x_shape, w_shape, bias, stride, padding, dilation, transposed,
                       output_padding, groups, output_mask, out_shape=None, **kwargs):
    """``convolution_backward`` with ``groups`` honoured: each weight element of a grouped
    conv meets ``C_in / groups`` input channels, so the weight gradient is torch's figure
    divided by ``groups``; the input gradient (a transposed conv with the real grouped
    weight) is torch's own."""

    def swapped(shape):
        return [shape[1], shape[0]] + list(shape[2:])

    flops = 0
    if output_mask[0]:
        flops += conv_flop_count(grad_out_shape, w_shape, out_shape[0], not transposed)
    if output_mask[1]:
        if transposed:
            weight = conv_flop_count(swapped(grad_out_shape), swapped(x_shape), swapped(out_shape[1]),
                                     transposed=False)
        else:
            weight = conv_flop_count(swapped(x_shape), swapped(grad_out_shape), swapped(out_shape[1]),
                                     transposed=False)
        flops += weight // groups
    return flops


def solve_triangular_flop(a_shape, b_shape, *args, upper=None, left=True, unitriangular=False,
                          out_shape=None, **kwargs):
    """``linalg_solve_triangular(A, B)``: ``n (n - 1) / 2`` multiply-adds per right-hand
    side for an ``n x n`` triangle (``n (n - 1) k`` FLOPs), plus ``n k`` divisions when the
    diagonal is not unit; batch dimensions broadcast."""
    n = a_shape[-1]
    k = b_shape[-1] if left else b_shape[-2]
    batch = 1
    for dim in torch.broadcast_shapes(tuple(a_shape[:-2]), tuple(b_shape[:-2])):
        batch *= dim
    return batch * (n * (n - 1) if unitriangular else n * n) * k


def grouped_mm_flop(a_shape, b_shape, *args, out_shape=None, **kwargs):
    """``_grouped_mm(a, b, offs)``: the matmuls of every group, 2 FLOPs per multiply-add.

    2-D x 3-D (tokens grouped by expert, one weight per expert): ``2 M K N`` over all M
    rows, however they are grouped. 2-D x 2-D (the weight gradient: the contracted
    dimension is split by group): ``2 M K N`` with K the whole contracted length. 3-D x
    3-D: a batched matmul. 3-D x 2-D: each group's rows against its own slice of b."""
    if len(a_shape) == 2 and len(b_shape) == 2:
        return 2 * a_shape[0] * a_shape[1] * b_shape[1]
    out = 1
    for dim in out_shape:
        out *= dim
    return 2 * out * a_shape[-1]


#: Formulas added to torch's registry (keys are overload packets, values take shapes).
CUSTOM_FLOP_MAPPING: dict[Any, Any] = {
    aten._scaled_dot_product_flash_attention_for_cpu: cpu_flash_sdpa_flop,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: cpu_flash_sdpa_backward_flop,
    aten.convolution_backward: conv_backward_flop,
    aten.linalg_solve_triangular: solve_triangular_flop,
    aten._grouped_mm: grouped_mm_flop,
}


def flop_counter() -> FlopCounterMode:
    """A silent ``FlopCounterMode`` with the corrections above."""
    return FlopCounterMode(display=False, custom_mapping=CUSTOM_FLOP_MAPPING)


# --------------------------------------------------------------------------- guard

# Names of ops that do matrix products (or could hide them), matched against the bare
# name of the overload packet ("mm", "_grouped_mm", "_scaled_dot_product_...").
_MATMUL_LIKE = re.compile(
    r"mm|matmul|linear|conv|attention|grouped|einsum|tensordot|solve|triangular|cholesky|lstsq|inv"
    r"|^(mv|addmv|dot|vdot|addr|outer|inner|ger|chain_matmul|linalg_multi_dot)$"
)
# Matched by the pattern above but do no matrix product.
_NOT_MATMUL = re.compile(r"^(_?cumm(ax|in)(_helper)?|_convert\w*|\w*upsample\w*linear\w*)$")


def qualified(packet: Any) -> str:
    """``aten.mm`` (namespace + name of an overload packet)."""
    qual = getattr(packet, "_qualified_op_name", None)
    return qual.replace("::", ".") if qual is not None else str(packet)


def is_matmul_like(name: str) -> bool:
    return bool(_MATMUL_LIKE.search(name)) and not _NOT_MATMUL.match(name)


def _is_zero(value) -> bool:
    # never `if value:` on a symbolic size: that would add a guard (and may specialise it)
    return isinstance(value, int) and value == 0


TAG = "mfu_sym_module"


def ancestors(path: str | None) -> list[str]:
    """``"a.b.c"`` -> ``["", "a", "a.b", "a.b.c"]``; ``None`` (untagged) -> ``[""]``."""
    if not path:
        return [""]
    parts = path.split(".")
    return [""] + [".".join(parts[: i + 1]) for i in range(len(parts))]


class OpRecorder(TorchDispatchMode):
    """Records every op that reaches it (entered outside the counter, so it sees what the
    counter really runs, after its decompositions). While ``attribute_backward`` is set it
    charges each counted op, with the counter's own formula, to the module tagged on the
    autograd node that is executing (:class:`NodeTagger`)."""

    def __init__(self, flop_registry: Mapping[Any, Any]) -> None:
        super().__init__()
        self.seen: dict[Any, int] = {}
        self.flop_registry = flop_registry
        self.attribute_backward = False
        self.backward_by_module: dict[str, Any] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = getattr(func, "_overloadpacket", func)
        self.seen[packet] = self.seen.get(packet, 0) + 1
        out = func(*args, **kwargs)
        if self.attribute_backward and packet in self.flop_registry:
            flops = self.flop_registry[packet](*args, **kwargs, out_val=out)
            if not _is_zero(flops):
                node = torch._C._current_autograd_node()
                path = node.metadata.get(TAG) if node is not None else None
                for p in ancestors(path):
                    self.backward_by_module[p] = self.backward_by_module.get(p, 0) + flops
        return out


class NodeTagger(TorchFunctionMode):
    """During the forward, tags every new autograd node with the innermost module running
    when it was created; in backward, ``torch._C._current_autograd_node()`` then says
    which module an op belongs to. (FlopCounterMode's own backward attribution uses grad
    hooks, which mix up siblings that share an input: q/k/v, gate/up.) ``stack`` is the
    module path being run, for errors that name where they happened."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.names = {id(m): name for name, m in model.named_modules(remove_duplicate=False)}
        self.stack: list[str] = []
        self.entered: set[str] = set()
        self._handles: list[Any] = []

    @property
    def current(self) -> str | None:
        return self.stack[-1] if self.stack else None

    def _tag(self, tensors: Any, path: str | None) -> None:
        todo = [t.grad_fn for t in tree_leaves(tensors) if isinstance(t, torch.Tensor) and t.grad_fn is not None]
        while todo:
            node = todo.pop()
            if node is None or TAG in node.metadata:
                continue
            node.metadata[TAG] = path
            todo.extend(n for n, _ in node.next_functions if n is not None)

    def _pre(self, module, args) -> None:
        name = self.names.get(id(module))
        if name is None:
            return
        self._tag(args, self.current)
        self.stack.append(name)
        self.entered.add(name)

    def _post(self, module, args, output) -> None:
        name = self.names.get(id(module))
        if name is None:
            return
        self._tag(output, name)
        if self.stack and self.stack[-1] == name:
            self.stack.pop()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if torch.is_grad_enabled():
            self._tag(out, self.current)
        return out

    def __enter__(self):
        self._handles = [register_module_forward_pre_hook(self._pre), register_module_forward_hook(self._post)]
        return super().__enter__()

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles = []
        return super().__exit__(*exc)


def uncounted(recorder: OpRecorder, counter: FlopCounterMode) -> list[str]:
    """The matmul-like ops that ran and that the counter has no formula for."""
    return sorted(f"{qualified(packet)} (x{n})" for packet, n in recorder.seen.items()
                  if is_matmul_like(qualified(packet).split(".", 1)[-1]) and packet not in counter.flop_registry)


def check_all_counted(recorder: OpRecorder, counter: FlopCounterMode, where: str) -> None:
    missing = uncounted(recorder, counter)
    if missing:
        raise UncountedMatmulError(
            where, "ops", f"matmul-like ops ran that FlopCounterMode does not count (their FLOPs would read 0): "
            f"{', '.join(missing)} (run attention eagerly, or experts with batched_mm, or add a formula)")


@contextlib.contextmanager
def counted(where: str) -> Iterator[tuple[FlopCounterMode, OpRecorder]]:
    """FlopCounterMode (innermost), the op recorder outside it, and the guard on exit."""
    counter = flop_counter()
    recorder = OpRecorder(counter.flop_registry)
    with recorder, counter:
        yield counter, recorder
    check_all_counted(recorder, counter, where)


def snapshot(counter: FlopCounterMode) -> dict[str, dict[Any, Any]]:
    return {module: dict(ops) for module, ops in counter.flop_counts.items()}


def subtract(after: Mapping[str, Mapping[Any, Any]], before: Mapping[str, Mapping[Any, Any]]):
    out: dict[str, dict[Any, Any]] = {}
    for module, ops in after.items():
        previous = before.get(module, {})
        out[module] = {op: value - previous.get(op, 0) for op, value in ops.items()}
    return out


def split_counts(counts: Mapping[str, Mapping[Any, Any]], root: str):
    """(total, per-module totals keyed by path under the root, per-op totals) from a
    counter's ``flop_counts``; entries that are exactly 0 are dropped."""
    glob = counts.get("Global", {})
    total = sum(glob.values(), 0)
    by_op = {qualified(k).split(".", 1)[-1]: v for k, v in glob.items() if not _is_zero(v)}
    by_module: dict[str, Any] = {}
    for name, ops in counts.items():
        if name == "Global":
            continue
        path = "" if name == root else name[len(root) + 1:] if name.startswith(root + ".") else name
        value = sum(ops.values(), 0)
        if not _is_zero(value):
            by_module[path] = value
    return total, by_module, by_op


class BroadcastContractions(TorchDispatchMode):
    """Finds contractions written as a broadcast product and a sum, `(a[..., :, None] *
    b[..., None, :]).sum(-1)`: the counter charges elementwise ops and reductions nothing,
    so such a contraction reads 0 FLOPs (Kimi Delta Attention's chunk products, Mamba's
    scan in transformers 5.23). A product is a float `mul` whose output is larger than
    each of its inputs (or an elementwise scaling of such a product); a contraction is a
    sum or mean that reduces one. `found` maps the module running (from `tagger`) to how
    many ran."""

    def __init__(self, tagger: NodeTagger) -> None:
        super().__init__()
        self.tagger = tagger
        self.products: dict[int, Any] = {}  # id -> weak reference (tensors compare elementwise)
        self.found: dict[str, int] = {}

    def _is_product(self, tensor) -> bool:
        ref = self.products.get(id(tensor))
        return ref is not None and ref() is tensor

    def _add(self, tensor) -> None:
        import weakref
        self.products[id(tensor)] = weakref.ref(tensor)

    @staticmethod
    def _ratio(a, b):
        """numel(a) / numel(b) at the point the model runs at (the sizes' hints: this only
        decides whether to refuse, never a count), or None where a size has no hint."""
        from fractions import Fraction

        def hinted(tensor):
            n = tensor.numel()
            return n.node.hint if isinstance(n, torch.SymInt) else n
        top, bottom = hinted(a), hinted(b)
        if top is None or bottom in (None, 0):
            return None
        return Fraction(int(top), int(bottom))

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        packet = getattr(func, "_overloadpacket", func)
        if packet is aten.mul and isinstance(out, torch.Tensor) and out.is_floating_point():
            inputs = [a for a in args if isinstance(a, torch.Tensor)]
            ratios = [self._ratio(out, a) for a in inputs]
            if len(inputs) == 2 and all(r is not None and r > 1 for r in ratios):
                self._add(out)
            elif any(self._is_product(a) and r == 1 for a, r in zip(inputs, ratios)):
                self._add(out)
        elif packet in (aten.sum, aten.mean) and args and isinstance(args[0], torch.Tensor) \
                and self._is_product(args[0]) and isinstance(out, torch.Tensor) \
                and (lambda r: r is not None and r > 1)(self._ratio(args[0], out)):
            where = self.tagger.current or "(model)"
            self.found[where] = self.found.get(where, 0) + 1
        return out
