"""The guard on optional test groups (tests/optional.py): a missing dependency skips the
test locally and fails it under MFU_SYM_REQUIRE_OPTIONAL=1, the flag .ci/run sets; no test
skips on a missing dependency by another route."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from optional import FLAG

TESTS = Path(__file__).resolve().parent

MODULE_TESTS = '''
from optional import require, require_program

def test_missing_module():
    require("mfu_sym_no_such_module")

def test_missing_program():
    require_program("mfu-sym-no-such-program")

def test_present_module():
    assert require("json").dumps(1) == "1"
'''
# a subdirectory guarded at collection, as tests/crosscheck/conftest.py is
DIRECTORY_CONFTEST = '''
from optional import require
require("mfu_sym_no_such_module")
'''


def pytest_in(directory, flag):
    env = {k: v for k, v in os.environ.items() if k != FLAG} | {"PYTHONPATH": str(TESTS),
                                                                 "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    if flag is not None:
        env[FLAG] = flag
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rsf", "-p", "no:cacheprovider", "."],
                          cwd=directory, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def module_tests(tmp_path):
    (tmp_path / "test_guarded.py").write_text(MODULE_TESTS)
    return tmp_path


@pytest.fixture
def directory_tests(tmp_path):
    (tmp_path / "guarded").mkdir()
    (tmp_path / "guarded" / "conftest.py").write_text(DIRECTORY_CONFTEST)
    (tmp_path / "guarded" / "test_inside.py").write_text("def test_inside():\n    pass\n")
    (tmp_path / "test_outside.py").write_text("def test_outside():\n    pass\n")
    return tmp_path


@pytest.mark.parametrize("flag", [None, "0"])
def test_missing_dependency_skips_locally(module_tests, flag):
    code, output = pytest_in(module_tests, flag)
    assert code == 0, output
    assert "1 passed, 2 skipped" in output
    assert "'mfu_sym_no_such_module' is not importable" in output and "'mfu-sym-no-such-program'" in output


def test_missing_dependency_fails_under_the_flag(module_tests):
    code, output = pytest_in(module_tests, "1")
    assert code == 1, output
    assert "2 failed, 1 passed" in output and "skipped" not in output
    assert f"{FLAG} is set" in output and "mfu-sym-no-such-program" in output


def test_guarded_directory_skips_locally(directory_tests):
    code, output = pytest_in(directory_tests, None)
    assert code == 0 and "1 passed, 1 skipped" in output, output


def test_guarded_directory_is_a_collection_error_under_the_flag(directory_tests):
    code, output = pytest_in(directory_tests, "1")
    assert code == 2 and "error" in output and "mfu_sym_no_such_module" in output, output
    assert "passed" not in output and "skipped" not in output


def test_no_test_skips_on_a_missing_dependency_by_another_route():
    # pytest.importorskip or a skipif on shutil.which would skip in CI too, unseen
    offenders = [path.name for path in TESTS.rglob("*.py")
                 if path.name not in ("optional.py", "test_optional.py")
                 and ("importorskip" in path.read_text() or "shutil.which" in path.read_text())]
    assert offenders == [], "use require() / require_program() from tests/optional.py"


def test_no_test_imports_the_tests_directory_as_a_package():
    # CI runs `pytest`, which puts tests/ (not the project root) on sys.path:
    # `from tests.x import` passes under `python -m pytest` and fails collection there
    offenders = [str(path.relative_to(TESTS)) for path in TESTS.rglob("*.py")
                 if re.search(r"^\s*(from|import) tests\b", path.read_text(), re.MULTILINE)]
    assert offenders == [], "import helpers by module name (from cli_helpers import ...)"
