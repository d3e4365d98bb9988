"""Ships the data beside the code: `formulas/` and `hardware.yaml` live at the top of the
repository (they are the project's facts, edited as data) and are copied into
`mfu_sym/data/` of every built wheel, where `mfu_sym.paths.data_path` finds them."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DATA = ["formulas", "hardware.yaml"]


class build_py_with_data(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "mfu_sym" / "data"
        target.mkdir(parents=True, exist_ok=True)
        for name in DATA:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, target / name, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("*.md"))
            elif source.exists():
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": build_py_with_data})
