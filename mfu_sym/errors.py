"""One error family. Every message names the file and the field, so the CLI can print
`Error: FILE: FIELD: what is wrong (what was expected)` and nothing else."""


class MfuSymError(Exception):
    """Base of every error the tool reports to a user (never a traceback)."""

    def __init__(self, source, field, message):
        self.source = str(source) if source is not None else None
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self):
        parts = [p for p in (self.source, self.field) if p]
        return ": ".join(parts + [self.message])


class ConfigError(MfuSymError, ValueError):
    """A model file or Hugging Face config is missing a field or holds a bad value."""


class FormulaError(MfuSymError, ValueError):
    """A formula file is malformed or an expression is not allowed."""


class HardwareError(MfuSymError, ValueError):
    """hardware.yaml is malformed, or an accelerator or dtype is unknown."""


class UsageError(MfuSymError, ValueError):
    """A command-line value is out of range (a bad --seq-len, --gpus, ...)."""


class LogError(MfuSymError, ValueError):
    """A training log cannot be read: missing file or column, a bad value on a line."""
