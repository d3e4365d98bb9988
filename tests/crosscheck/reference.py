"""Reference harness: what Hugging Face ``transformers`` models actually execute.

Models are built from plain config dicts (random weights, float32, nothing downloaded)
and run under ``torch.utils.flop_counter.FlopCounterMode``.  The numbers are exact
Python ints and are meant to be compared, exactly, with mfu-sym's analytical engine.

Facts and traps: /work/shared/reference/torch-flop-counting.md.  The counter is the
package's own (``mfu_sym/tracing/counter.py``, which ``mfu-sym trace`` uses too): it charges
what torch's registry leaves at 0 or gets wrong (CPU SDPA, grouped-conv backward,
``linalg_solve_triangular``, ``_grouped_mm``), raises :class:`UncountedMatmulError` if a
matmul-like op ran that it has no formula for, and attributes backward FLOPs to modules
through tags on the autograd nodes (FlopCounterMode's own backward attribution mixes up
sibling modules that share an input: q/k/v, gate/up). This module also

* selects an MoE experts implementation the counter sees: ``"eager"`` (per-expert loop
  of ``mm``) on real devices, ``"batched_mm"`` (``bmm``) on meta;
* on the meta device, patches ``transformers.masking_utils.find_packed_sequence_indices``
  (which calls ``.item()``) for the duration of the call only;

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

import transformers
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


# The counter's corrections (CPU SDPA, grouped conv backward, triangular solve, grouped
# mm), the guard on uncounted matmul-like ops and the backward attribution by autograd
# node are the package's (mfu_sym/tracing/counter.py): `mfu-sym trace` counts with them too.
from mfu_sym.tracing.counter import (  # noqa: E402
    CUSTOM_FLOP_MAPPING,
    NodeTagger as _NodeTagger,
    UncountedMatmulError,
    counted as _counted,
    flop_counter,
    snapshot as _snapshot,
    split_counts,
    subtract as _subtract,
)


def _split_counts(counts, root):
    """(total, per-module totals, per-op totals) as plain ints (a numeric count)."""
    total, by_module, by_op = split_counts(counts, root)
    return int(total), {k: int(v) for k, v in by_module.items()}, {k: int(v) for k, v in by_op.items()}


# --------------------------------------------------------------------------- meta device


# transformers' packed-sequence check (`.item()`) returns None for meta (and fake)
# inputs: with no mask and no cache the positions are arange(seq), never packed.
from mfu_sym.tracing.patches import no_packed_sequence_check as meta_safe_masking  # noqa: E402


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
