"""The `[trace]` extra: torch (and transformers, for config.json models). Without it,
`trace` says what to install; nothing else in mfu-sym imports torch."""

from ..errors import UsageError

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
