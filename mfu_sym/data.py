"""The data root: every data file the engine reads, found by name, with one override rule.

The bundled files are `formulas/*.yaml` and `hardware.yaml` (in a wheel, under
`mfu_sym/bundled/`; see paths.py). Extra directories (`--formulas DIR`, any number, later
ones winning) override by file name: a file in DIR replaces the bundled file of the same
name, presets.yaml and hardware.yaml included; a new name adds a file.

Every file is a mapping of sections. Each section name belongs to exactly one reader
(SECTIONS below), so a misspelt or stray section is an error naming the file, and each
reader takes its sections from the root (`root.sections(name)`), never from a path of
its own.
"""

import os
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import FormulaError
from .files import MAX_FILE_BYTES, load_yaml
from .paths import data_path

# section -> the module that reads it
SECTIONS = {
    "symbols": "library", "references": "bibliography", "masks": "library", "formulas": "library",
    "presets": "conventions", "variants": "conventions", "scaling_laws": "planning", "dtypes": "dtypes",
    "kv_cache": "memory", "master_weights": "memory", "optimizers": "memory", "zero": "memory",
    "shards": "memory", "training": "memory", "activations": "memory", "saved_activations": "memory",
    "hf_families": "hf", "hf_reasons": "hf", "hf_known_extra_keys": "hf", "hf_base_ignore": "hf",
    "hf_unsupported": "hf", "hf_activations": "hf",
    "version": "hardware", "devices": "hardware",
    "vision_symbols": "vision", "vision_formulas": "vision", "vision_quantities": "vision",
    "vision_families": "vision",
}
# sections each data file may add to (every group of families brings its own formulas, variants,
# caches and HF tables); every other section belongs to exactly one file
SPREAD = frozenset({"symbols", "references", "masks", "formulas", "variants", "kv_cache", "hf_families",
                    "hf_reasons", "hf_known_extra_keys", "hf_base_ignore"})
BUNDLED = ("formulas", "hardware.yaml")


@dataclass(frozen=True)
class DataRoot:
    files: tuple  # ((name, path), ...) in load order: bundled first, then each extra directory

    def path(self, name):
        """The path of the data file called `name` (e.g. "hardware.yaml")."""
        for file_name, path in self.files:
            if file_name == name:
                return path
        raise FormulaError(None, name, "no such data file (bundled, or in a --formulas directory)")

    def documents(self):
        """(path, mapping) of every file, parsed (each file version once per process; from the
        start-up cache when the files' bytes are those it was written from, see cache.py)."""
        return [(path, data) for path, data in _documents(self.files, _versions(self.files))[0] if data is not None]

    def key(self):
        """The start-up cache's key of these files as they are now (a hash of their paths and
        bytes), or None: no cache, or a file that cannot be read (its parse says why)."""
        return _documents(self.files, _versions(self.files))[1]

    def sections(self, name):
        """[(path, value), ...]: section `name` of every file that has it."""
        return [(path, data[name]) for path, data in self.documents() if name in data]

    def section(self, name):
        """(path, value) of the one file that holds section `name`."""
        found = self.sections(name)
        if not found:
            raise FormulaError(None, name, "no data file has this section (a --formulas directory may have "
                                           "replaced the file that holds it)")
        if len(found) > 1:
            raise FormulaError(found[1][0], name, f"also given in {found[0][0]} (a section belongs to one file)")
        return found[0]


def root(extra_dirs=()):
    """The data root with `extra_dirs` (directories of YAML files) over the bundled data."""
    return _root(tuple(str(Path(d)) for d in extra_dirs))


@lru_cache(maxsize=8)
def _root(extra_dirs):
    files = {}
    for file in sorted(Path(data_path("formulas")).glob("*.yaml")):
        files[file.name] = str(file)
    files["hardware.yaml"] = str(data_path("hardware.yaml"))
    for directory in extra_dirs:
        path = Path(directory)
        if not path.is_dir():
            raise FormulaError(path, None, "not a directory of data files")
        for file in sorted(path.glob("*.yaml")):
            files[file.name] = str(file)
    return DataRoot(tuple(files.items()))


def _version(path):
    try:
        info = os.stat(path)
        return (info.st_mtime_ns, info.st_size)
    except OSError:
        return None


def _versions(files):
    return tuple(_version(path) for _, path in files)


@lru_cache(maxsize=16)
def _documents(files, versions):
    """((path, mapping or None), ...) of `files` at `versions`, and the cache key: from the
    start-up cache when it holds these bytes, else parsed file by file (a file's error is
    raised as without a cache) and stored."""
    from . import cache

    key = _key(files)
    if key is not None:
        found = _cached(cache.load("data", key), files)
        if found is not None:
            return found, key
    documents = tuple((path, _parse_version(path, version)) for (_, path), version in zip(files, versions))
    if key is not None and all(cache.plain(data) for _, data in documents):
        cache.store("data", key, [[path, data] for path, data in documents])
    return documents, key


def _key(files):
    """A hash of every file's path and bytes, and of the code that parses them; None when
    the cache is off or a file cannot be read."""
    from . import cache

    if cache.directory() is None:
        return None
    parts = cache.versions() + cache.sources("data", "files")
    for name, path in files:
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):  # its parse says what it is
                return None
            with open(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                return None
            parts += [name, path, data]
        except OSError:
            return None
    return cache.digest(parts)


def _cached(payload, files):
    """The documents of a cache payload, or None where it is not what _documents stores."""
    if type(payload) is not list or len(payload) != len(files):
        return None
    out = []
    for item, (_, path) in zip(payload, files):
        if type(item) is not list or len(item) != 2 or item[0] != path:
            return None
        data = item[1]
        if data is not None and (type(data) is not dict or not all(k in SECTIONS for k in data)):
            return None
        out.append((path, data))
    return tuple(out)


@lru_cache(maxsize=64)
def _parse_version(path, _version):
    """One parse per file version (a file edited in a running notebook is read again)."""
    data = load_yaml(path, FormulaError)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise FormulaError(path, None, f"expected a mapping of sections ({', '.join(sorted(SECTIONS))})")
    for key in data:
        if key not in SECTIONS:
            import difflib
            close = difflib.get_close_matches(str(key), list(SECTIONS), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise FormulaError(path, str(key), f"unknown section ({hint}expected one of {', '.join(sorted(SECTIONS))})")
    return data
