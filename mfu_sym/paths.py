"""Where the bundled data lives: `formulas/` and `hardware.yaml` at the top of the
repository in a source checkout (where they are edited), `mfu_sym/bundled/` in an
installed wheel (setup.cfg makes the repository root the package `mfu_sym.bundled` and
ships exactly those files as its data)."""

from pathlib import Path

from .errors import FormulaError

_PACKAGE = Path(__file__).resolve().parent


def data_path(name):
    """The installed copy of the data file or directory `name` if there is one, else the
    checkout's; an error naming both places if neither exists (a broken install)."""
    installed = _PACKAGE / "bundled" / name
    checkout = _PACKAGE.parent / name
    for path in (installed, checkout):
        if path.exists():
            return path
    raise FormulaError(installed, None, f"bundled data missing (not here, nor at {checkout}): "
                                        "reinstall mfu-sym from a wheel that ships formulas/ and hardware.yaml")
