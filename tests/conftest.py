import os
import shutil
import tempfile
from pathlib import Path

import pytest

from optional import FLAG, required

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def pytest_configure(config):
    # The start-up cache (mfu_sym/cache.py) of this run goes to a fresh directory, never the
    # user's ~/.cache; subprocesses inherit it. tests/test_cache.py points it elsewhere per test.
    config._mfu_sym_cache = tempfile.mkdtemp(prefix="mfu-sym-cache-")
    os.environ["MFU_SYM_CACHE_DIR"] = config._mfu_sym_cache


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "_mfu_sym_cache", ""), ignore_errors=True)


def pytest_report_header(config):
    # Optional dependencies go through tests/optional.py; say which way a missing one goes.
    if required():
        return f"optional test dependencies: required ({FLAG} is set; a missing one fails its tests)"
    return f"optional test dependencies: a missing one skips its tests (set {FLAG}=1 to fail instead, as CI does)"


@pytest.fixture
def example():
    return lambda name: str(EXAMPLES / name)
