"""Reading user files safely: size-bounded, UTF-8, YAML through `safe_load` only."""

import json
from pathlib import Path

MAX_FILE_BYTES = 4 * 1024 * 1024  # a model or formula file is a few KB; refuse a flood


def read_text(path, error):
    """The text of `path`; any problem raises `error(path, None, message)`."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise error(path, None, "not a regular file")
        if size > MAX_FILE_BYTES:
            raise error(path, None, f"file is {size} bytes (at most {MAX_FILE_BYTES})")
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(path, None, "no such file") from None
    except OSError as exc:
        raise error(path, None, f"cannot read: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise error(path, None, "binary file (expected UTF-8 text)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(path, None, "not UTF-8 text") from None


def load_yaml(path, error):
    """Parse a YAML file with a safe loader (`yaml.safe_load`'s rules): no tags, no
    objects, only data."""
    import yaml

    text = read_text(path, error)
    # libyaml's safe loader where available (the same rules, ten times faster)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # a safe loader: plain data only, no tags
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(path, None, f"invalid YAML{where}: {problem} (expected plain YAML data, no tags)") from None
    except RecursionError:
        raise error(path, None, "invalid YAML: nested too deeply") from None


def load_json(path, error):
    text = read_text(path, error)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(path, None, f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except RecursionError:
        raise error(path, None, "invalid JSON: nested too deeply") from None
