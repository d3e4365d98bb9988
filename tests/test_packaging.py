"""Packaging cannot lose the data: the sdist holds formulas/ and hardware.yaml, a wheel built
FROM THAT SDIST holds the code and exactly that data, and the installed tool works from an
empty directory with the repository out of reach.

Offline: the sdist comes from setuptools' own PEP 517 hook, the wheel from
`pip wheel --no-build-isolation --no-index`, and the install goes into a new venv that
sees this interpreter's site-packages as plain paths (so its .pth files, an editable
install of this repository among them, are not run).
"""

import configparser
import json
import os
import re
import shutil
import site
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from mfu_sym import paths
from mfu_sym.errors import FormulaError
from optional import require

ROOT = Path(__file__).resolve().parent.parent
CFG = configparser.ConfigParser()
CFG.read(ROOT / "setup.cfg")
DATA = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("formulas/*.yaml")) + ["hardware.yaml"]
CODE = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "mfu_sym").rglob("*.py")
              if "__pycache__" not in p.parts)
LLAMA_PARAMS = 8030261248  # sum(p.numel()) of transformers' LlamaForCausalLM, Llama-3-8B config
TIMEOUT = 300


def _lines(value):
    return [line.strip() for line in value.strip().splitlines() if line.strip() and not line.strip().startswith("#")]


def _name(requirement):
    return re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


# ---- configuration, no build -------------------------------------------------------

def test_every_package_under_mfu_sym_is_listed():
    # setup.cfg lists packages (find: cannot also take the data package), so a new one must be added
    found = {".".join(Path(p).parent.parts) for p in CODE}
    listed = set(_lines(CFG["options"]["packages"]))
    assert found | {"mfu_sym.bundled"} == listed, "setup.cfg [options] packages must list every package under mfu_sym/"


def test_the_data_package_is_the_repository_root_with_exactly_the_data():
    assert _lines(CFG["options"]["package_dir"]) == ["mfu_sym.bundled = ."]
    assert _lines(CFG["options.package_data"]["mfu_sym.bundled"]) == ["hardware.yaml, formulas/*.yaml"]
    assert CFG["options"]["include_package_data"].strip() == "False"
    assert not (ROOT / "setup.py").exists()


def test_extras_are_lower_bounds_and_ci_pins_them():
    pins = {}
    for line in _lines((ROOT / "constraints.txt").read_text()):
        name, version = line.split("==")
        pins[_name(name)] = version
    extras = CFG["options.extras_require"]
    for group in ["install_requires"] + [f"extra {k}" for k in extras]:
        requirements = _lines(CFG["options"]["install_requires"] if group == "install_requires"
                              else extras[group.split()[1]])
        for requirement in requirements:
            assert _name(requirement) in pins, f"{requirement} ({group}) is not pinned in constraints.txt"
            if group != "extra crosscheck":  # torch and transformers: the exact reference implementations
                assert "==" not in requirement, f"{requirement} ({group}) must be a lower bound"
    assert any(r.startswith("matplotlib>=") for r in _lines(extras["plot"]))


def test_source_checkout_reads_the_top_level_data(monkeypatch):
    # as when mfu_sym is imported from this checkout (CI's tests import the installed copy)
    monkeypatch.setattr(paths, "_PACKAGE", ROOT / "mfu_sym")
    assert paths.data_path("hardware.yaml") == ROOT / "hardware.yaml"
    assert paths.data_path("formulas") == ROOT / "formulas"


def test_missing_data_is_an_error_naming_both_places(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "_PACKAGE", tmp_path / "site" / "mfu_sym")
    with pytest.raises(FormulaError, match="bundled data missing") as error:
        paths.data_path("hardware.yaml")
    assert str(tmp_path / "site" / "mfu_sym" / "bundled" / "hardware.yaml") in str(error.value)
    assert str(tmp_path / "site" / "hardware.yaml") in str(error.value)


# ---- sdist, wheel from the sdist, install, run --------------------------------------

def _env():
    """The environment without this repository on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
    return env | {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def _run(*args, cwd):
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    require("setuptools", load=False)  # the build backend
    require("pip", load=False)
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".pytest_cache", ".hypothesis"))
    hook = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    sdist = base / "sdist" / _run(sys.executable, "-c", hook, base / "sdist", cwd=source).strip().splitlines()[-1]
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", base / "wheel", sdist, cwd=base)
    (wheel,) = (base / "wheel").glob("mfu_sym-*.whl")
    return sdist, wheel, base


def test_sdist_holds_the_data_and_the_tests(built):
    sdist, _, _ = built
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        names = {n.removeprefix(top + "/") for n in tar.getnames()}
    wanted = set(DATA) | set(CODE) | {"pyproject.toml", "setup.cfg", "MANIFEST.in", "README.md",
                                      "constraints.txt", "examples/llama3_8b.yaml", "tests/test_packaging.py"}
    assert wanted <= names, sorted(wanted - names)


def test_wheel_from_the_sdist_holds_the_code_and_exactly_the_data(built):
    _, wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        names = {n for n in archive.namelist() if ".dist-info/" not in n}
        for name in DATA:
            assert archive.read(f"mfu_sym/bundled/{name}") == (ROOT / name).read_bytes(), name
    assert names == set(CODE) | {f"mfu_sym/bundled/{name}" for name in DATA}


def test_installed_wheel_runs_from_an_empty_directory(built):
    _, wheel, base = built
    venv = base / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=base)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=base).strip()
    # this interpreter's packages (sympy, click, ...) as plain paths: their .pth files do not run
    dependencies = site.getsitepackages() + ([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])
    (Path(purelib) / "_dependencies.pth").write_text("\n".join(dependencies) + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index",
         "--force-reinstall", wheel, cwd=base)

    empty = base / "empty"
    empty.mkdir()
    where = _run(python, "-c", "import mfu_sym, mfu_sym.paths as p; print(mfu_sym.__file__); "
                 "print(p.data_path('formulas')); print(p.data_path('hardware.yaml'))", cwd=empty).splitlines()
    assert all(Path(w).is_relative_to(Path(purelib) / "mfu_sym") for w in where), where
    assert where[1:] == [str(Path(purelib) / "mfu_sym" / "bundled" / n) for n in ("formulas", "hardware.yaml")]

    shutil.copy(ROOT / "examples" / "llama3_8b.yaml", empty)
    derived = json.loads(_run(bin_dir / "mfu-sym", "derive", "llama3_8b.yaml", "--format", "json", cwd=empty))
    assert derived["params"]["total"] == LLAMA_PARAMS
    listed = _run(bin_dir / "mfu-sym", "hardware", "list", cwd=empty)
    assert "B200" in listed and "H100" in listed
