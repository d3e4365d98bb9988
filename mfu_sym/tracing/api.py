"""`mfu_sym.trace(...)`: the entry point (`mfu_sym/tracing/__init__.py` tells the whole story)."""


from __future__ import annotations

from typing import Any

from .extra import require_torch


def trace(model: Any, *, seq_len: int | None = None, batch: int | None = None, decode: bool = False,
          backward: bool = True, attn_implementation: str | None = None, experts_implementation: str | None = None,
          **from_config: Any):
    """Trace `model` (a config.json path, 'module:factory', a config dict, a transformers
    PretrainedConfig, or a factory callable) to a :class:`~mfu_sym.tracing.traced.Traced`.

    `seq_len`/`batch` (or `context`/`batch` with `decode`) are the point the implementation
    runs at; the polynomials hold on the region the guards report (all sizes, usually).
    `decode`: one decode step of a model with a cache, at a symbolic context length."""
    require_torch()
    from .run import run
    return run(model, seq_len=seq_len, batch=batch, decode=decode, backward=backward and not decode,
               attn_implementation=attn_implementation, experts_implementation=experts_implementation,
               from_config=from_config)
