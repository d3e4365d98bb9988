"""Cross-check tests: mfu-sym against what transformers models execute (FlopCounterMode).

They need the ``[crosscheck]`` extra (torch, transformers).  Without it the whole
directory is skipped at collection, before any test module imports torch (a collection
error instead under MFU_SYM_REQUIRE_OPTIONAL=1, as CI sets; see tests/optional.py).
"""

from pathlib import Path

import pytest

from optional import require

require("torch")
require("transformers")

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    # Every test in this directory carries the `crosscheck` marker (declared in
    # pyproject.toml), so `-m "not crosscheck"` deselects them.
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.crosscheck)
