"""mfu-sym: exact, symbolic FLOP and parameter counts for transformer language models.

    >>> import mfu_sym
    >>> m = mfu_sym.load("examples/llama3_8b.yaml")
    >>> m.forward()                              # per-sequence forward FLOPs, symbolic
    >>> m.evaluate(m.training(), seq_len=8192)   # exact integer at the model's sizes
    >>> t = mfu_sym.trace("examples/hf/llama3_8b/config.json")  # what PyTorch executes, in s and b

The heavy parts (sympy) load on first use, so `mfu-sym --help` starts fast.
"""

from .errors import ConfigError, FormulaError, HardwareError, MfuSymError, UsageError

__version__ = "0.1.0"
_LAZY = {
    "load": "loader", "load_architecture": "loader", "Model": "model", "Conventions": "model",
    "load_library": "library", "Inference": "inference", "TrainingMemory": "memory",
    "MFUMeter": "mfu", "MFUWarning": "mfu", "trace": "tracing.api",
}
__all__ = sorted(_LAZY) + ["MfuSymError", "ConfigError", "FormulaError", "HardwareError", "UsageError"]


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'mfu_sym' has no attribute {name!r}")
