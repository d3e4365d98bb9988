"""Tracing a Source: the training pass (forward + backward of `batch` sequences of
`seq_len` tokens) or one decode step (one new token per sequence, `context - 1` tokens
already in the cache), turned into a Traced."""

from __future__ import annotations

from typing import Any

import sympy

from ..errors import UsageError
from .patches import no_packed_sequence_check, symbolic_padding, symbolic_polar, symbolic_solve_triangular
from .symbolic import TraceError, run_pass
from .traced import Traced

#: The point an implementation runs at when none is asked for (>= 2: torch fixes sizes 0 and 1).
DEFAULT_HINT = {"seq_len": 17, "batch": 3, "context": 17}
_EXPERTS_ADVICE = (" (transformers' eager experts loop sizes each expert by the tokens routed to it: "
                   "trace with --experts-implementation batched_mm)")


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(None, name, f"{value!r} is not a positive integer")
    if value > 2 ** 40:
        raise UsageError(None, name, f"{value!r} is larger than 2^40")
    return value


def run(model: Any, *, seq_len, batch, decode, backward, attn_implementation, experts_implementation,
        from_config) -> Traced:
    from ..library import load_library
    from .sources import call, resolve
    import torch

    source = resolve(model, attn_implementation=attn_implementation,
                     experts_implementation=experts_implementation, **from_config)
    length_name = "context" if decode else "seq_len"
    point = {name: _check_size(name, value) for name, value in ((length_name, seq_len), ("batch", batch))
             if value is not None}
    # the symbolic pass runs at the point asked for (so its guards hold there), at 2 for a
    # size of 1 (which torch would fix), else at the defaults
    hint = {name: max(2, point.get(name, DEFAULT_HINT[name])) for name in (length_name, "batch")}
    library = load_library()
    symbols = {name: library.symbol(name) for name in (length_name, "batch")}
    advice = _EXPERTS_ADVICE if source.experts_implementation == "eager" else (
        " (routing decides how many tokens reach a module: zero-computation experts, a loop over the experts "
        "that received tokens)")
    where = source.origin

    if decode:
        if not source.is_transformers:
            raise UsageError(None, "decode", "a decode step is traced for transformers models (with a cache)")

        def before(m, sizes):
            from transformers import DynamicCache
            b, c = sizes.size("batch", hint["batch"]), sizes.size("context", hint["context"])
            ids = torch.zeros(b, c, dtype=torch.long)
            cache = DynamicCache(config=m.config)
            with torch.no_grad():
                m(input_ids=ids[:, :-1], past_key_values=cache, use_cache=True)
            return ids[:, -1:], cache

        def step(m, sizes, state):
            ids, cache = state
            return m(input_ids=ids, past_key_values=cache, use_cache=True)

        kwargs = {"before": before, "call": step}
    else:
        def forward(m, sizes):
            b, s = sizes.size("batch", hint["batch"]), sizes.size("seq_len", hint["seq_len"])
            return call(m, source.inputs(m, b, s))

        kwargs = {"call": forward}
    def traced_pass(sizes_at, concrete):
        hint.update(sizes_at)
        try:
            with no_packed_sequence_check(), symbolic_padding(), symbolic_polar(), symbolic_solve_triangular():
                return run_pass(source.build, symbols=symbols, backward=backward, where=where, advice=advice,
                                concrete=concrete, **kwargs)
        except TraceError as exc:
            raise TraceError(where, exc.field, exc.message) from None

    symbolic_hint = dict(hint)
    result = traced_pass(symbolic_hint, False)
    at_point = None
    values = {symbols[name]: value for name, value in point.items()}
    if point and (1 in point.values() or any(g.xreplace(values) is not sympy.true for g in result.guards
                                             if set(g.free_symbols) <= set(values))):
        # torch takes other paths at a size of 1 (and the guards may exclude the point):
        # count that point itself, as a number
        exact = traced_pass({**symbolic_hint, **point}, True)
        at_point = {"sizes": dict(point), "forward": exact.forward, "backward": exact.backward}
    hint.update(symbolic_hint)
    classes = {name: type(module).__name__ for name, module in result.model.named_modules()}
    return Traced(
        name=source.name, origin=source.origin, model_type=source.model_type, phase="decode" if decode else "training",
        symbols=symbols, hint=hint, params=result.params, modules=result.modules, ops=result.ops, classes=classes,
        guards=result.guards, guard_modules=result.guard_modules,
        implementation={"attn_implementation": source.attn_implementation,
                        "experts_implementation": source.experts_implementation,
                        "torch": torch.__version__, "transformers": _version("transformers")},
        has_backward=backward, at_point=at_point, bounded=result.bounded or None)


def _version(package):
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(package)
    except PackageNotFoundError:
        return None
