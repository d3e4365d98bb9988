"""Optional test dependencies: skipped on a machine that lacks them, a failure in CI.

Some test groups need what only the extras or the system provide: the cross-checks
(torch, transformers), the plots (matplotlib), the notebook (nbclient, ipykernel), the
LaTeX compile tests (pdflatex), the packaging test (setuptools, pip). Tests ask for them
through `require` and `require_program`, never `pytest.importorskip` or a `skipif`:
locally a missing dependency skips the test, but with MFU_SYM_REQUIRE_OPTIONAL=1 (set by
.ci/run) it fails it, so CI cannot pass while a whole group silently did not run.
Skips for other reasons (a family transformers refuses to run under sdpa, a README
command that needs the user's own log) stay skips.
"""

import importlib
import importlib.util
import os
import shutil

import pytest

FLAG = "MFU_SYM_REQUIRE_OPTIONAL"


def required():
    """True where a missing optional dependency is a failure (CI)."""
    return os.environ.get(FLAG, "") not in ("", "0")


def _missing(what):
    if required():
        pytest.fail(f"{what} ({FLAG} is set: every optional test group must run)", pytrace=False)
    pytest.skip(what, allow_module_level=True)


def require(module, load=True):
    """Import and return `module`; skip the test (fail it under the CI flag) if it is missing.
    Works at module level too (a conftest.py that guards a whole directory). With
    `load=False` a top-level module is only found, not imported (setuptools, which patches
    distutils on import, is needed by subprocesses only)."""
    try:
        if load:
            return importlib.import_module(module)
        if importlib.util.find_spec(module) is None:
            raise ModuleNotFoundError(f"No module named {module!r}")
    except ImportError as error:
        _missing(f"optional dependency {module!r} is not importable: {error}")


def require_program(program, hint=""):
    """The path of `program` on PATH; skip (fail under the CI flag) if it is not there."""
    path = shutil.which(program)
    if path is None:
        _missing(f"optional program {program!r} is not on PATH" + (f" ({hint})" if hint else ""))
    return path
