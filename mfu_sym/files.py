"""Reading user files safely: size-bounded, UTF-8, plain data only.

YAML is read under the YAML 1.2 core schema, not PyYAML's YAML 1.1 defaults, because
1.1 silently changes numbers and words: `0100` is octal 64, `1:04` is sexagesimal 64,
`yes`/`off` are booleans. Here an integer is decimal (a leading zero is refused, `0o`
and `0x` are explicit), booleans are `true`/`false`, there are no timestamps, a key
given twice is an error, and aliases may not expand into more than MAX_NODES nodes (a
"billion laughs" file is refused before anything is built). JSON refuses duplicate
keys, NaN/Infinity (except in a model config, as transformers reads them) and numbers too
long to read.
"""

import json
import re
from pathlib import Path

MAX_FILE_BYTES = 4 * 1024 * 1024  # a model or formula file is a few KB; refuse a flood
MAX_NODES = 200_000  # YAML nodes after alias expansion (the bundled files have a few thousand)
MAX_DIGITS = 100  # digits of an integer in a data file (a count needs at most ~20)

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_CORE = [  # (tag, pattern, first characters): the YAML 1.2 core schema, and merge keys
    (_NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    (_INT, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (_FLOAT, r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
             r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", list("-+.0123456789")),
    (_MERGE, r"^<<$", ["<"]),
]


class DataError(Exception):
    """A problem in a data file's syntax, with the line it is on (1-based, or None)."""

    def __init__(self, message, line=None):
        super().__init__(message)
        self.line = line


def read_text(path, error):
    """The text of `path`; any problem raises `error(path, None, message)`."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise error(path, None, "not a regular file" + (" (a directory)" if path.is_dir() else ""))
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
    """Parse a YAML file as plain data (see the module docstring for the rules)."""
    return parse_yaml(read_text(path, error), path, error)


def parse_yaml(text, source, error):
    import yaml

    loader = _loader_class()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node)
        return loader.construct_document(node)
    except DataError as exc:
        where = f" at line {exc.line}" if exc.line else ""
        raise error(source, None, f"invalid YAML{where}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(source, None, f"invalid YAML{where}: {problem} (expected plain YAML data, no tags)") from None
    except RecursionError:
        raise error(source, None, "invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()


def load_json(path, error, constants=False):
    return parse_json(read_text(path, error), path, error, constants)


def decode_json(text, constants=False):
    """JSON as plain data: duplicate keys, out-of-range floats and numbers too long to read
    raise DataError (malformed text: json.JSONDecodeError); so do NaN and Infinity, unless
    `constants`: a config.json that transformers 4 saved holds them (Mamba-2's
    time_step_limit: [0.0, Infinity]) and transformers reads them as floats, so a model
    config may; a size that is one is refused where sizes are read."""
    return json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=float if constants else _no_constant,
                      parse_int=_json_int, parse_float=_json_float)


def parse_json(text, source, error, constants=False):
    try:
        return decode_json(text, constants)
    except DataError as exc:
        raise error(source, None, f"invalid JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        raise error(source, None, f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except RecursionError:
        raise error(source, None, "invalid JSON: nested too deeply") from None


def _unique_pairs(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise DataError(f"key {key!r} is given twice (expected each key once)")
        out[key] = value
    return out


def _no_constant(name):
    raise DataError(f"{name} is not a JSON number (expected a finite number)")


def _json_float(text):
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise DataError(f"{text} is out of range (expected a finite number)")
    return value


def _json_int(text):
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise DataError(f"an integer with {digits} digits (at most {MAX_DIGITS})")
    return int(text)


# ------------------------------------------------------------------ the YAML loader

_LOADER = None


def _loader_class():
    """A safe loader (libyaml's parser where available) with the YAML 1.2 core schema."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class CoreLoader(base):
        yaml_implicit_resolvers = {}
        yaml_constructors = dict(base.yaml_constructors)

        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = {}
                for key_node, _ in node.value:
                    if key_node.tag == _MERGE or not isinstance(key_node, yaml.ScalarNode):
                        continue
                    if key_node.value in seen:
                        raise DataError(f"key {key_node.value!r} is given twice (first at line "
                                        f"{seen[key_node.value]}; expected each key once)",
                                        key_node.start_mark.line + 1)
                    seen[key_node.value] = key_node.start_mark.line + 1
            return super().construct_mapping(node, deep=deep)

    for tag, pattern, first in _CORE:
        CoreLoader.add_implicit_resolver(tag, re.compile(pattern), first)
    CoreLoader.add_constructor(_INT, _construct_int)
    CoreLoader.add_constructor(_FLOAT, _construct_float)
    CoreLoader.add_constructor(_BOOL, lambda loader, node: node.value.lower() == "true")
    _LOADER = CoreLoader
    return CoreLoader


def _construct_int(loader, node):
    text = node.value
    line = node.start_mark.line + 1
    body = text.lstrip("+-")
    if body.startswith(("0o", "0x")):
        return int(text, 0)
    if len(body) > MAX_DIGITS:
        raise DataError(f"an integer with {len(body)} digits (at most {MAX_DIGITS})", line)
    if len(body) > 1 and body.startswith("0"):
        raise DataError(f"{text} has a leading zero (YAML 1.1 reads it as octal, YAML 1.2 as decimal: "
                        f"write {int(text, 10)}, or 0o{body.lstrip('0')} for octal)", line)
    return int(text, 10)


def _construct_float(loader, node):
    text = node.value.lower()
    if text.endswith(("inf", "nan")):
        return float(text.replace(".", ""))
    return float(text)


def _check_size(root):
    """Refuse a document whose aliases expand past MAX_NODES nodes, or refer to themselves."""
    import yaml

    sizes, active = {}, set()

    def size(node):
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise DataError("an alias refers to the node that contains it (a recursive structure)",
                            node.start_mark.line + 1)
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        if total > MAX_NODES:
            raise DataError(f"aliases expand to more than {MAX_NODES:,} nodes (expected plain data; "
                            "a file whose aliases multiply is refused)", node.start_mark.line + 1)
        sizes[key] = total
        return total

    size(root)
