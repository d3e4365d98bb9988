"""Where the bundled data lives: `mfu_sym/data/` in an installed wheel (the build copies
`formulas/` and `hardware.yaml` there), the repository root in a source checkout."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_path(name):
    installed = _PACKAGE / "data" / name
    return installed if installed.exists() else _PACKAGE.parent / name
