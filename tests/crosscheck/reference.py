"""Reference harness: what Hugging Face ``transformers`` models actually execute.

Models are built from plain config dicts (random weights, float32, nothing downloaded)
and run under ``torch.utils.flop_counter.FlopCounterMode``.  The numbers are exact
Python ints and are meant to be compared, exactly, with mfu-sym's analytical engine.

Facts and traps: /work/shared/reference/torch-flop-counting.md.  This module

* charges CPU SDPA (``aten._scaled_dot_product_flash_attention_for_cpu`` and its
  backward), which torch's registry does not list, with torch's own
  ``sdpa_flop_count`` / ``sdpa_backward_flop_count`` (trap 1);
* selects an MoE experts implementation the counter sees: ``"eager"`` (per-expert loop
  of ``mm``) on real devices, ``"batched_mm"`` (``bmm``) on meta (trap 2);
* charges ``convolution_backward``'s weight gradient with ``groups`` honoured: torch's
  formula ignores it, so a depthwise conv1d backward reads ``channels x`` too much
  (trap 3, :func:`_conv_backward_flop`);
* charges ``linalg_solve_triangular`` (Gated DeltaNet's chunked path), which torch
  counts as 0: ``n (n - 1) k`` FLOPs for a unit-triangular ``n x n`` solve against ``k``
  right-hand sides, ``n^2 k`` otherwise (trap 4, :func:`_solve_triangular_flop`);
* records every aten op that really executes and raises :class:`UncountedMatmulError`
  if a matmul-like op ran that the counter has no formula for (so nothing is ever
  silently counted as zero);
* on the meta device, patches ``transformers.masking_utils.find_packed_sequence_indices``
  (which calls ``.item()``) for the duration of the call only;
* attributes backward FLOPs to modules through tags on the autograd nodes, because
  FlopCounterMode's own backward module attribution mixes up sibling modules that
  share an input (q/k/v, gate/up); its totals are used unchanged.

Notes on what the counts mean (transformers 5.23 / torch 2.13, all checked):
* CPU SDPA uses the fused flash kernel (backward = 5 bmm-equivalents, so training is
  not exactly 3x forward) unless d_v != d_qk (DeepSeek MLA) or dropout is active; then
  it uses the math kernel, counted like eager (backward = 2x).  On the meta device SDPA
  always takes the math kernel: sdpa on meta counts exactly like eager.
* Some families (gemma2, gpt_oss) refuse ``attn_implementation="sdpa"`` at build time.

Public API: :func:`build_model`, :func:`measure`, :func:`measure_decode`,
:class:`Measurement`, :class:`DecodeMeasurement`, :class:`UncountedMatmulError`,
:func:`meta_safe_masking`, :func:`count_params`.

No pytest code here; tests import this module (``tests/crosscheck/conftest.py`` skips
the directory when torch or transformers is missing).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import (
    FlopCounterMode,
    sdpa_backward_flop_count,
    sdpa_flop_count,
)

import transformers
import transformers.masking_utils as _masking_utils
from transformers import AutoConfig, AutoModelForCausalLM, DynamicCache

__all__ = [
    "CUSTOM_FLOP_MAPPING",
    "DecodeMeasurement",
    "Measurement",
    "UncountedMatmulError",
    "build_model",
    "count_params",
    "flop_counter",
    "meta_safe_masking",
    "measure",
    "measure_decode",
    "versions",
]

aten = torch.ops.aten


# --------------------------------------------------------------------------- trap 1: CPU SDPA


def _cpu_flash_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """``_scaled_dot_product_flash_attention_for_cpu(q, k, v, dropout_p, is_causal, *, attn_mask, scale)``.

    Shapes are ``(B, H, S, D)``.  K/V may have fewer heads than Q (``enable_gqa``);
    ``sdpa_flop_count`` handles that and charges by the number of query heads.
    Like every torch SDPA formula it charges the full ``S_q x S_k`` square (causal and
    window masks do not reduce it).
    """
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_flash_sdpa_backward_flop(
    grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs
) -> int:
    """``_scaled_dot_product_flash_attention_for_cpu_backward(grad_out, q, k, v, out, lse, ...)``.

    Five bmm-equivalents: ``2*B*Hq*Sq*Sk*(3*d_qk + 2*d_v)``.
    """
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


# --------------------------------------------------------------------------- trap 3: grouped conv backward


def _conv_backward_flop(grad_out_shape, x_shape, w_shape, bias, stride, padding, dilation, transposed,
                        output_padding, groups, output_mask, out_shape=None, **kwargs) -> int:
    """``convolution_backward`` with ``groups`` honoured.

    torch's formula charges the weight gradient as ``conv(input, grad_out)`` over every
    input channel against every output channel, ignoring ``groups``: a depthwise conv1d
    (groups = channels; Mamba, Gated DeltaNet, short-conv blocks) is over-charged by the
    channel count.  Each weight element of a grouped conv meets ``C_in / groups`` input
    channels, so the weight-gradient part is torch's figure divided by ``groups``; the
    input-gradient part (a transposed conv with the real grouped weight) is torch's own.
    """
    from torch.utils.flop_counter import conv_flop_count

    def t(shape):
        return [shape[1], shape[0]] + list(shape[2:])

    flops = 0
    if output_mask[0]:
        flops += conv_flop_count(grad_out_shape, w_shape, out_shape[0], not transposed)
    if output_mask[1]:
        if transposed:
            weight = conv_flop_count(t(grad_out_shape), t(x_shape), t(out_shape[1]), transposed=False)
        else:
            weight = conv_flop_count(t(x_shape), t(grad_out_shape), t(out_shape[1]), transposed=False)
        if weight % groups:
            raise AssertionError(f"grouped conv weight gradient {weight} not divisible by groups {groups}")
        flops += weight // groups
    return flops


# --------------------------------------------------------------------------- trap 4: triangular solve


def _solve_triangular_flop(a_shape, b_shape, *args, upper=None, left=True, unitriangular=False,
                           out_shape=None, **kwargs) -> int:
    """``linalg_solve_triangular(A, B, *, upper, left=True, unitriangular=False)``: 0 in torch.

    Forward (or back) substitution with an ``n x n`` triangular ``A`` against ``k``
    right-hand sides: ``n (n - 1) / 2`` multiply-adds per right-hand side, ``n (n - 1) k``
    FLOPs at 2 per multiply-add, plus ``n k`` divisions when the diagonal is not unit
    (``n^2 k`` in all).  Batch dimensions broadcast (Gated DeltaNet solves one chunk per
    head and sequence).
    """
    n = a_shape[-1]
    k = b_shape[-1] if left else b_shape[-2]
    batch = 1
    for dim in torch.broadcast_shapes(tuple(a_shape[:-2]), tuple(b_shape[:-2])):
        batch *= dim
    per_rhs = n * (n - 1) if unitriangular else n * n
    return batch * per_rhs * k


#: Formulas added to torch's registry (keys are OpOverloadPackets, values take shapes).
CUSTOM_FLOP_MAPPING: dict[Any, Any] = {
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_sdpa_flop,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_flash_sdpa_backward_flop,
    aten.convolution_backward: _conv_backward_flop,
    aten.linalg_solve_triangular: _solve_triangular_flop,
}


def flop_counter() -> FlopCounterMode:
    """A silent ``FlopCounterMode`` with the CPU-SDPA formulas added."""
    return FlopCounterMode(display=False, custom_mapping=CUSTOM_FLOP_MAPPING)


# --------------------------------------------------------------------------- guard


class UncountedMatmulError(RuntimeError):
    """A matmul-like aten op executed that FlopCounterMode has no formula for."""


# Names of ops that do matrix products (or could hide them).  Matched against the
# overload packet's bare name, e.g. "mm", "_grouped_mm", "_scaled_dot_product_...".
_MATMUL_LIKE = re.compile(
    r"mm|matmul|linear|conv|attention|grouped|einsum|tensordot|solve|triangular|cholesky|lstsq|inv"
    r"|^(mv|addmv|dot|vdot|addr|outer|inner|ger|chain_matmul|linalg_multi_dot)$"
)
# Matched by the pattern above but do no matrix product.
_NOT_MATMUL = re.compile(r"^(_?cumm(ax|in)(_helper)?|_convert\w*|\w*upsample\w*linear\w*)$")


def _qualified(packet: Any) -> str:
    """``aten.mm`` / ``transformers.grouped_mm_fallback`` (namespace + name)."""
    qual = getattr(packet, "_qualified_op_name", None)  # OpOverloadPacket: "aten::mm"
    if qual is not None:
        return qual.replace("::", ".")
    return str(packet)


def _is_matmul_like(name: str) -> bool:
    return bool(_MATMUL_LIKE.search(name)) and not _NOT_MATMUL.match(name)


class _OpRecorder(TorchDispatchMode):
    """Records the overload packet of every op that reaches it.

    Entered *outside* the FlopCounterMode, so it sees the ops the counter really
    executes, after the counter's own decompositions (``func.decompose``), with the
    same arguments.  While ``attribute_backward`` is set it also charges each counted
    op (with the counter's own formula) to the module tagged on the autograd node that
    is executing (see :class:`_NodeTagger`).
    """

    def __init__(self, flop_registry: Mapping[Any, Any]) -> None:
        super().__init__()
        self.seen: dict[Any, int] = {}
        self.flop_registry = flop_registry
        self.attribute_backward = False
        self.backward_by_module: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = func._overloadpacket if hasattr(func, "_overloadpacket") else func
        self.seen[packet] = self.seen.get(packet, 0) + 1
        out = func(*args, **kwargs)
        if self.attribute_backward and packet in self.flop_registry:
            flops = int(self.flop_registry[packet](*args, **kwargs, out_val=out))
            if flops:
                node = torch._C._current_autograd_node()
                path = node.metadata.get(_TAG) if node is not None else None
                for p in _ancestors(path):
                    self.backward_by_module[p] = self.backward_by_module.get(p, 0) + flops
        return out


_TAG = "mfu_sym_module"


def _ancestors(path: str | None) -> list[str]:
    """``"a.b.c"`` -> ``["", "a", "a.b", "a.b.c"]``; ``None`` (untagged) -> ``[""]``."""
    if not path:
        return [""]
    parts = path.split(".")
    return [""] + [".".join(parts[: i + 1]) for i in range(len(parts))]


class _NodeTagger(TorchFunctionMode):
    """During the forward, tag every new autograd node with the module that created it.

    FlopCounterMode's ModuleTracker attributes backward ops with grad hooks; siblings
    that share an input (q/k/v projections, gate/up) then overlap and the per-module
    backward totals are wrong (the global total is right).  Here each autograd node
    gets ``node.metadata[_TAG] = path of the innermost module running when it was
    created``; in backward, ``torch._C._current_autograd_node()`` says which node (so
    which module) an op belongs to.  Module nesting in the forward is tracked with
    global module hooks; nodes are tagged after every top-level torch call, and at
    module entry/exit for anything that bypassed ``__torch_function__``.
    """

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
            if node is None:
                continue
            meta = node.metadata
            if _TAG in meta:
                continue
            meta[_TAG] = path
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
        self._handles = [
            register_module_forward_pre_hook(self._pre),
            register_module_forward_hook(self._post),
        ]
        return super().__enter__()

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles = []
        return super().__exit__(*exc)


def _check_all_counted(recorder: _OpRecorder, counter: FlopCounterMode, where: str) -> None:
    missing = []
    for packet, n in recorder.seen.items():
        qual = _qualified(packet)
        name = qual.split(".", 1)[-1]
        if _is_matmul_like(name) and packet not in counter.flop_registry:
            missing.append(f"{qual} (x{n})")
    if missing:
        raise UncountedMatmulError(
            f"{where}: matmul-like ops executed that FlopCounterMode does not count "
            f"(their FLOPs would silently read 0): {', '.join(sorted(missing))}. "
            "Use attn_implementation='eager' or an experts implementation the counter "
            "sees ('eager' / 'batched_mm'), or add a formula to CUSTOM_FLOP_MAPPING."
        )


@contextlib.contextmanager
def _counted(where: str) -> Iterator[tuple[FlopCounterMode, _OpRecorder]]:
    """FlopCounterMode (innermost) + op recorder (outside it) + the guard on exit."""
    counter = flop_counter()
    recorder = _OpRecorder(counter.flop_registry)
    with recorder, counter:
        yield counter, recorder
    _check_all_counted(recorder, counter, where)


# --------------------------------------------------------------------------- meta device


@contextlib.contextmanager
def meta_safe_masking() -> Iterator[None]:
    """Make ``masking_utils.find_packed_sequence_indices`` return ``None`` for meta inputs.

    The packed-sequence check calls ``.item()`` (a data-dependent branch) and meta
    tensors have no values.  With no mask and no cache the positions are
    ``arange(seq)``, never packed, so ``None`` is what real inputs give.  The patch
    is undone on exit; real tensors go to the original function.
    """
    original = _masking_utils.find_packed_sequence_indices

    def patched(position_ids: torch.Tensor, *args: Any, **kwargs: Any):
        if isinstance(position_ids, torch.Tensor) and position_ids.is_meta:
            return None
        return original(position_ids, *args, **kwargs)

    _masking_utils.find_packed_sequence_indices = patched
    try:
        yield
    finally:
        _masking_utils.find_packed_sequence_indices = original


# --------------------------------------------------------------------------- models


_DROPOUT_KEY = re.compile(r"dropout|pdrop", re.IGNORECASE)


def _no_dropout(config: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of ``config`` with every float dropout-like field set to 0."""
    out = dict(config)
    for key, value in config.items():
        if _DROPOUT_KEY.search(key) and isinstance(value, float):
            out[key] = 0.0
    return out


def _make_config(config: Mapping[str, Any]):
    cfg = _no_dropout(config)
    try:
        model_type = cfg.pop("model_type")
    except KeyError:
        raise ValueError("config dict needs a 'model_type' (e.g. 'llama', 'gemma3_text')") from None
    hf_config = AutoConfig.for_model(model_type, **cfg)
    # Also zero dropout fields that the config class defaults to non-zero (GPT-2).
    for key, value in list(vars(hf_config).items()):
        if _DROPOUT_KEY.search(key) and isinstance(value, float) and value != 0.0:
            setattr(hf_config, key, 0.0)
    hf_config.use_cache = False
    return hf_config


def _default_experts_implementation(device: str) -> str:
    # "eager" loops over the experts with real top-k indices (needs values); "batched_mm"
    # gathers one weight matrix per token-expert row and needs none (meta-safe).  Both
    # are counted (mm / bmm) with identical totals.  The default "grouped_mm" is NOT
    # counted (aten._grouped_mm) and would trip the guard.
    return "batched_mm" if torch.device(device).type == "meta" else "eager"


def build_model(
    config: Mapping[str, Any],
    *,
    attn_implementation: str,
    device: str = "cpu",
    experts_implementation: str | None = None,
) -> torch.nn.Module:
    """``AutoModelForCausalLM.from_config`` from a plain dict, float32, eval mode.

    ``config`` holds ``model_type`` plus config-class kwargs (``AutoConfig.for_model``).
    Random weights, nothing downloaded.  ``device="meta"`` builds under
    ``torch.device("meta")`` (no memory, any size).  Dropout fields are zeroed and the
    model is put in eval mode (gradients still flow), so CPU SDPA does not fall back to
    the math kernel because of dropout and MoE routers add no training-time noise.
    ``experts_implementation`` defaults to ``"eager"`` on real devices and
    ``"batched_mm"`` on meta; it is passed for every family (non-MoE models ignore it).
    """
    hf_config = _make_config(config)
    if experts_implementation is None:
        experts_implementation = _default_experts_implementation(device)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(
            hf_config,
            attn_implementation=attn_implementation,
            experts_implementation=experts_implementation,
            dtype=torch.float32,
        )
    model.eval()
    return model


def count_params(model: torch.nn.Module) -> int:
    """``sum(p.numel() for p in model.parameters())`` (tied tensors once, buffers excluded)."""
    return int(sum(p.numel() for p in model.parameters()))


def _input_ids(model: torch.nn.Module, batch: int, seq_len: int, device: str) -> torch.Tensor:
    vocab = model.config.get_text_config().vocab_size
    if torch.device(device).type == "meta":
        return torch.zeros(batch, seq_len, dtype=torch.long, device="meta")
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, vocab, (batch, seq_len), generator=gen).to(device)


# --------------------------------------------------------------------------- measurement


@dataclass(frozen=True)
class Measurement:
    """Exact counts from one forward (and backward) of a model built from a config.

    ``by_module[phase][path]``: total FLOPs charged to that module, ``phase`` in
    ``{"forward", "backward"}``; ``path`` is the module's name in
    ``model.named_modules()`` (``""`` = the whole model, e.g.
    ``"model.layers.0.self_attn.q_proj"``, ``"lm_head"``).  Parents include their
    children; modules with 0 FLOPs are absent.  Forward: FlopCounterMode's own module
    totals.  Backward: the counter's formulas applied to each backward op, charged to
    the module whose forward created the autograd node running it (FlopCounterMode's
    own backward attribution leaks between siblings sharing an input, e.g. q/k/v);
    ``by_module["backward"][""] == backward`` is checked.  ``by_op[phase][op]``: totals per aten op (``"mm"``, ``"bmm"``,
    ``"addmm"``, ``"_scaled_dot_product_flash_attention_for_cpu"``, ...).
    """

    params: int
    forward: int
    backward: int
    training: int
    by_module: dict[str, dict[str, int]] = field(compare=False)
    by_op: dict[str, dict[str, int]] = field(compare=False)
    attn_implementation: str = ""
    device: str = "cpu"
    batch: int = 0
    seq_len: int = 0


def _split_counts(counts: Mapping[str, Mapping[Any, int]], root: str) -> tuple[int, dict[str, int], dict[str, int]]:
    """(total, per-module totals keyed by module path, per-op totals) from counter.flop_counts."""
    glob = counts.get("Global", {})
    total = int(sum(glob.values()))
    by_op = {_qualified(k).split(".", 1)[-1]: int(v) for k, v in glob.items() if v}
    by_module: dict[str, int] = {}
    for name, ops in counts.items():
        if name == "Global":
            continue
        if name == root:
            path = ""
        elif name.startswith(root + "."):
            path = name[len(root) + 1 :]
        else:  # not under the model (should not happen)
            path = name
        value = int(sum(ops.values()))
        if value:
            by_module[path] = value
    return total, by_module, by_op


def _subtract(after: Mapping[str, Mapping[Any, int]], before: Mapping[str, Mapping[Any, int]]):
    out: dict[str, dict[Any, int]] = {}
    for mod, ops in after.items():
        prev = before.get(mod, {})
        diff = {op: v - prev.get(op, 0) for op, v in ops.items()}
        out[mod] = {op: v for op, v in diff.items() if v}
    return out


def _snapshot(counter: FlopCounterMode) -> dict[str, dict[Any, int]]:
    return {mod: dict(ops) for mod, ops in counter.flop_counts.items()}


def _maybe_meta(device: str):
    return meta_safe_masking() if torch.device(device).type == "meta" else contextlib.nullcontext()


def measure(
    config: Mapping[str, Any],
    *,
    batch: int,
    seq_len: int,
    attn_implementation: str = "eager",
    device: str = "cpu",
    backward: bool = True,
    experts_implementation: str | None = None,
) -> Measurement:
    """Build the model and count one forward (and backward) of ``batch x seq_len`` tokens.

    Forward: ``model(input_ids, use_cache=False)`` (no mask, no cache), logits for every
    position.  Backward: ``logits.sum().backward()`` (the loss itself is not counted;
    gradients reach every parameter, embedding included).  One counter spans both
    passes; its counts are snapshotted after the forward, so ``by_module`` and ``by_op``
    are split exactly into the two phases (a second counter would lose the backward
    module attribution, which rides on hooks the first one installs during forward).

    Raises :class:`UncountedMatmulError` if a matmul-like op ran uncounted.
    """
    model = build_model(
        config,
        attn_implementation=attn_implementation,
        device=device,
        experts_implementation=experts_implementation,
    )
    root = type(model).__name__
    params = count_params(model)
    input_ids = _input_ids(model, batch, seq_len, device)

    with _maybe_meta(device), torch.enable_grad():
        with _counted(f"measure({config.get('model_type')}, {attn_implementation}, {device})") as (counter, rec):
            with _NodeTagger(model) as tagger:
                logits = model(input_ids=input_ids, use_cache=False).logits
            fwd_counts = _snapshot(counter)
            if backward:
                rec.attribute_backward = True
                logits.sum().backward()
                rec.attribute_backward = False
            all_counts = _snapshot(counter)

    fwd_total, fwd_mod, fwd_op = _split_counts(fwd_counts, root)
    bwd_total, _tracker_bwd_mod, bwd_op = _split_counts(_subtract(all_counts, fwd_counts), root)
    # Per-module backward from the autograd-node tags (FlopCounterMode's own backward
    # attribution overlaps siblings); its root total must equal the counter's.
    # (Containers never called in the forward, e.g. the ModuleList "model.layers", are
    # dropped, as FlopCounterMode's forward totals do not have them either.)
    bwd_mod = {
        p: v for p, v in rec.backward_by_module.items() if v and (p == "" or p in tagger.entered)
    }
    if bwd_mod.get("", 0) != bwd_total:
        raise AssertionError(
            f"backward attribution lost FLOPs: tagged {bwd_mod.get('', 0)} != counted {bwd_total}"
        )
    return Measurement(
        params=params,
        forward=fwd_total,
        backward=bwd_total,
        training=fwd_total + bwd_total,
        by_module={"forward": fwd_mod, "backward": bwd_mod},
        by_op={"forward": fwd_op, "backward": bwd_op},
        attn_implementation=attn_implementation,
        device=device,
        batch=batch,
        seq_len=seq_len,
    )


# --------------------------------------------------------------------------- decode


@dataclass(frozen=True)
class DecodeMeasurement:
    """One decode step: a 1-token forward per sequence with ``context - 1`` cached tokens.

    ``forward``: FLOPs of that step (the prefill is not counted).  Cache figures are
    taken after the step (each full-attention layer then holds ``context`` positions,
    sliding layers at most ``window - 1``): ``cache_shapes`` lists per layer
    ``(keys.shape, values.shape)``; ``cache_bytes`` sums keys+values bytes over layers;
    ``prefill_cache_bytes`` is the same before the step.
    """

    params: int
    forward: int
    by_module: dict[str, int] = field(compare=False)
    by_op: dict[str, int] = field(compare=False)
    cache_bytes: int = 0
    prefill_cache_bytes: int = 0
    cache_shapes: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = ()
    batch: int = 0
    context: int = 0


def _cache_layers(cache: Any) -> list[tuple[torch.Tensor | None, torch.Tensor | None]]:
    layers = getattr(cache, "layers", None)
    if layers is not None:
        return [(getattr(l, "keys", None), getattr(l, "values", None)) for l in layers]
    return [(k, v) for k, v in zip(cache.key_cache, cache.value_cache)]  # older API


def _tensor_bytes(t: torch.Tensor | None) -> int:
    return 0 if t is None else int(t.numel() * t.element_size())


def _cache_bytes(cache: Any) -> int:
    return sum(_tensor_bytes(k) + _tensor_bytes(v) for k, v in _cache_layers(cache))


def _cache_shapes(cache: Any):
    return tuple(
        (tuple(k.shape) if k is not None else (), tuple(v.shape) if v is not None else ())
        for k, v in _cache_layers(cache)
    )


def measure_decode(
    config: Mapping[str, Any],
    *,
    batch: int,
    context: int,
    attn_implementation: str = "eager",
    device: str = "cpu",
    experts_implementation: str | None = None,
) -> DecodeMeasurement:
    """Count the forward FLOPs of one decode step at total context length ``context``.

    A ``DynamicCache(config=model.config)`` is prefilled with ``context - 1`` tokens
    (not counted, no grad); then one token per sequence is run with that cache and
    counted: linear layers run on ``batch`` rows, attention over ``context`` keys
    (``min(context, window)`` on sliding-window layers).  ``context == 1`` means an
    empty cache.
    """
    if context < 1:
        raise ValueError("context must be >= 1")
    model = build_model(
        config,
        attn_implementation=attn_implementation,
        device=device,
        experts_implementation=experts_implementation,
    )
    root = type(model).__name__
    ids = _input_ids(model, batch, context, device)
    cache = DynamicCache(config=model.config)
    with _maybe_meta(device), torch.no_grad():
        if context > 1:
            model(input_ids=ids[:, : context - 1], past_key_values=cache, use_cache=True)
        prefill_bytes = _cache_bytes(cache)
        with _counted(f"measure_decode({config.get('model_type')}, {attn_implementation}, {device})") as (counter, _):
            model(input_ids=ids[:, context - 1 :], past_key_values=cache, use_cache=True)
            counts = _snapshot(counter)
    total, by_module, by_op = _split_counts(counts, root)
    return DecodeMeasurement(
        params=count_params(model),
        forward=total,
        by_module=by_module,
        by_op=by_op,
        cache_bytes=_cache_bytes(cache),
        prefill_cache_bytes=prefill_bytes,
        cache_shapes=_cache_shapes(cache),
        batch=batch,
        context=context,
    )


def versions() -> dict[str, str]:
    """Installed torch / transformers versions (for test ids and reports)."""
    return {"torch": torch.__version__, "transformers": transformers.__version__}
