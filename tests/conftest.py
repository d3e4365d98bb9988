from pathlib import Path

import pytest

from optional import FLAG, required

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def pytest_report_header(config):
    # Optional dependencies go through tests/optional.py; say which way a missing one goes.
    if required():
        return f"optional test dependencies: required ({FLAG} is set; a missing one fails its tests)"
    return f"optional test dependencies: a missing one skips its tests (set {FLAG}=1 to fail instead, as CI does)"


@pytest.fixture
def example():
    return lambda name: str(EXAMPLES / name)
