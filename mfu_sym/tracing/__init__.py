"""`mfu_sym.trace`: any PyTorch model to exact closed-form FLOPs in the run's sizes.

    >>> t = mfu_sym.trace("examples/hf/llama3_8b/config.json")
    >>> t.forward()            # 2*batch*seq_len**2*... : what torch executes, per step
    >>> t.evaluate(t.training(), seq_len=8192, batch=1)

Needs the `[trace]` extra (torch, transformers for config.json models); the rest of
mfu-sym works without it. Nothing is allocated and nothing is downloaded: the model is
built on fake tensors and run at symbolic sizes (symbolic.py) under FlopCounterMode with
its traps corrected (counter.py).
"""

from __future__ import annotations

from typing import Any

from ..errors import UsageError

#: The point an implementation runs at when none is asked for (>= 2: torch specialises 0 and 1).
DEFAULT_HINT = {"seq_len": 17, "batch": 3, "context": 17}


INSTALL = ("pip install 'mfu-sym[trace]' (torch's CPU build first, so transformers does not pull CUDA: "
           "pip install torch --index-url https://download.pytorch.org/whl/cpu)")


def require(what: str = "trace", package: str = "torch") -> None:
    """A clear error, naming what to install, when the trace extra is missing."""
    import importlib.util
    if importlib.util.find_spec(package) is None:
        needs = {"torch": "PyTorch", "transformers": "transformers (to build a model from a config.json)"}[package]
        raise UsageError(None, what, f"needs {needs}, which is not installed: {INSTALL}")


def require_torch(what: str = "trace") -> None:
    require(what, "torch")


def trace(model: Any, *, seq_len: int | None = None, batch: int | None = None, decode: bool = False,
          backward: bool = True, attn_implementation: str = "eager", experts_implementation: str = "batched_mm",
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
