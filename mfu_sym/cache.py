"""The start-up cache: the parsed data files and the formula library, kept as plain JSON.

A cold command used to spend more time parsing `formulas/*.yaml` and building the library's
sympy trees than importing sympy. What a parse produced is stored here, keyed by a hash of
every input file's bytes (with their paths), of the source of the modules that read them,
of mfu-sym's, sympy's and Python's versions and of this file's FORMAT: any change to any
of them is another key, so a cache entry is never stale.

Loading it runs no code: the files are JSON (no pickle, marshal, eval or sympify), and a
sympy expression is a table of nodes of the few kinds the library uses (integers,
rationals, symbols with their assumptions, Add, Mul, Pow, Min, Max, floor, ceiling,
Piecewise, comparisons, And/Or/Not, true/false), each node naming earlier nodes as its
arguments. Each is rebuilt with its arguments as stored (`_from_args`, `evaluate=False`)
and checked to have exactly them. The payload's BLAKE2b hash is in the header (a file damaged on disk is ignored). Anything
unexpected (an unknown node kind, a wrong type, a bad checksum, a truncated file, a
number too long) makes `load` answer None and the caller parse the files as before:
the cache never raises and never changes a result. A write goes to a temporary file
renamed into place (os.replace), so concurrent processes see a whole file or none; an
unwritable directory means no cache, silently.

Where: $MFU_SYM_CACHE_DIR, else $XDG_CACHE_HOME/mfu-sym, else ~/.cache/mfu-sym;
MFU_SYM_NO_CACHE=1 turns it off.
"""

import json
import os
import re
import sys
import tempfile
from pathlib import Path

try:  # the built-in BLAKE2: `hashlib` loads OpenSSL first, a tenth of a cold start's budget
    from _blake2 import blake2b
except ImportError:  # pragma: no cover  (an interpreter without it)
    from hashlib import blake2b

FORMAT = 1  # bump when what is stored changes shape
MAX_BYTES = 64 * 1024 * 1024  # a cache file is a few hundred KB
KEEP = 16  # files of one kind (data roots: the bundled one, --formulas directories)
MAX_DIGITS = 1000  # of an integer node
_DIGITS = re.compile(r"^-?[0-9]{1,%d}$" % MAX_DIGITS)
_KIND = re.compile(r"^[a-z]+$")
_KEY = re.compile(r"^[0-9a-f]{64}$")


class Unusable(Exception):
    """The cache's content is not what this version writes: ignore it."""


def directory():
    """The cache directory, or None when the cache is off."""
    if os.environ.get("MFU_SYM_NO_CACHE", "").strip() not in ("", "0"):
        return None
    explicit = os.environ.get("MFU_SYM_CACHE_DIR", "").strip()
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg and os.path.isabs(xdg):  # the XDG spec: a relative path is ignored
        return Path(xdg) / "mfu-sym"
    try:
        return Path.home() / ".cache" / "mfu-sym"
    except (RuntimeError, KeyError, OSError):
        return None


def _hash(data):
    return blake2b(data, digest_size=32).hexdigest()


def digest(parts):
    """BLAKE2b-256 (hex) of a sequence of str/bytes parts, each length-prefixed."""
    h = blake2b(digest_size=32)
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else bytes(part)
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def sources(*modules):
    """The bytes of the named mfu_sym modules (their source is part of a key: the code that
    parsed a file decides what the parse gave)."""
    here = Path(__file__).resolve().parent
    out = []
    for name in modules + ("cache",):
        try:
            out.append((here / f"{name}.py").read_bytes())
        except OSError:
            out.append(b"?")  # no source (a frozen install): the version still keys it
    return out


def versions():
    from . import __version__
    return [f"format {FORMAT}", f"mfu-sym {__version__}", f"python {sys.version_info[:3]}"]


def _file(kind, key):
    base = directory()
    if base is None or not _KIND.match(kind) or not _KEY.match(key):
        return None
    return base / f"{kind}-{key}.json"


def load(kind, key):
    """The payload stored under (kind, key), or None (no cache, or a file that is not
    exactly what `store` writes). Never raises."""
    try:
        path = _file(kind, key)
        if path is None:
            return None
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            return None
        header, sep, body = raw.partition(b"\n")
        if not sep:
            return None
        head = json.loads(header)
        if (not isinstance(head, dict) or head.get("format") != FORMAT or head.get("kind") != kind
                or head.get("key") != key or head.get("blake2b") != _hash(body)):
            return None
        return json.loads(body)
    except Exception:  # any read or decode problem: no cache
        return None


def store(kind, key, payload):
    """Write the payload (plain JSON data) atomically; any problem means no cache."""
    path = _file(kind, key)
    if path is None:
        return
    tmp = None
    try:
        body = json.dumps(payload, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii")
        header = json.dumps({"format": FORMAT, "kind": kind, "key": key,
                             "blake2b": _hash(body)}).encode("ascii")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{kind}-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(header + b"\n" + body)
        os.replace(tmp, path)
        tmp = None
        _prune(path.parent, kind, path)
    except Exception:  # unwritable directory, full disk, unencodable value: no cache
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _prune(base, kind, keep):
    """At most KEEP files of one kind: the oldest go."""
    files = sorted(base.glob(f"{kind}-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEEP:]:
        if old != keep:
            try:
                old.unlink()
            except OSError:
                pass


def plain(value, depth=0):
    """Whether `value` survives a JSON round trip unchanged: dicts with text keys, lists,
    text, integers, finite floats, booleans, None."""
    if depth > 200:
        return False
    if value is None or isinstance(value, (bool, str)):
        return True
    if type(value) is int:
        return len(str(abs(value))) <= MAX_DIGITS
    if type(value) is float:
        return value == value and value not in (float("inf"), float("-inf"))
    if type(value) is list:
        return all(plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and plain(v, depth + 1) for k, v in value.items())
    return False


# ------------------------------------------------------------------ sympy expressions

def _kinds():
    import sympy
    from sympy.logic.boolalg import BooleanFalse, BooleanTrue
    from sympy.functions.elementary.piecewise import ExprCondPair

    def evaluated(cls):
        return lambda args: cls(*args, evaluate=False)

    return {
        "Add": (sympy.Add, sympy.Add._from_args), "Mul": (sympy.Mul, sympy.Mul._from_args),
        "Pow": (sympy.Pow, evaluated(sympy.Pow)), "Min": (sympy.Min, evaluated(sympy.Min)),
        "Max": (sympy.Max, evaluated(sympy.Max)), "floor": (sympy.floor, evaluated(sympy.floor)),
        "ceiling": (sympy.ceiling, evaluated(sympy.ceiling)),
        "Piecewise": (sympy.Piecewise, evaluated(sympy.Piecewise)),
        "ExprCondPair": (ExprCondPair, lambda args: ExprCondPair(*args)),
        "Lt": (sympy.StrictLessThan, evaluated(sympy.Lt)), "Le": (sympy.LessThan, evaluated(sympy.Le)),
        "Gt": (sympy.StrictGreaterThan, evaluated(sympy.Gt)), "Ge": (sympy.GreaterThan, evaluated(sympy.Ge)),
        "Eq": (sympy.Equality, evaluated(sympy.Eq)), "Ne": (sympy.Unequality, evaluated(sympy.Ne)),
        "And": (sympy.And, evaluated(sympy.And)), "Or": (sympy.Or, evaluated(sympy.Or)),
        "Not": (sympy.Not, evaluated(sympy.Not)),
        "true": (BooleanTrue, None), "false": (BooleanFalse, None),
    }


_KINDS = None


def kinds():
    global _KINDS
    if _KINDS is None:
        _KINDS = _kinds()
    return _KINDS


def _assumption_names():
    from sympy.core.assumptions import _assume_defined
    return frozenset(_assume_defined)


class Encoder:
    """sympy expressions -> a table of nodes, each subexpression once:
    ["I", digits], ["Q", p, q], ["S", name, {assumption: bool}], ["true"], ["false"],
    [kind, arg index, ...] with each index naming an earlier node."""

    def __init__(self):
        self.nodes, self._index = [], {}
        self._by_type = {cls: kind for kind, (cls, _) in kinds().items()}

    def __call__(self, expression):
        """The index of `expression`'s node; an expression of another kind raises Unusable."""
        import sympy

        found = self._index.get(expression)
        if found is not None:
            return found
        if isinstance(expression, sympy.Integer):
            node = ["I", str(int(expression))]
        elif isinstance(expression, sympy.Rational):
            node = ["Q", str(expression.p), str(expression.q)]
        elif type(expression) is sympy.Symbol:
            node = ["S", expression.name, dict(getattr(expression, "_assumptions_orig", None)
                                               or expression.assumptions0)]
        else:
            kind = self._by_type.get(type(expression))
            if kind is None:
                raise Unusable(f"{type(expression).__name__} is not a kind the cache stores")
            node = [kind] if kind in ("true", "false") else [kind, *(self(a) for a in expression.args)]
        self._index[expression] = len(self.nodes)
        self.nodes.append(node)
        return len(self.nodes) - 1


def decode(nodes):
    """The table `Encoder` wrote -> a list of sympy objects; anything else raises Unusable.
    No recursion: a node names only earlier nodes, so the table is built in one pass."""
    import sympy

    table = kinds()
    allowed = _assumption_names()
    if type(nodes) is not list:
        raise Unusable("nodes")
    out = []
    for node in nodes:
        if type(node) is not list or not node or type(node[0]) is not str:
            raise Unusable("node")
        kind = node[0]
        if kind == "I":
            if len(node) != 2 or type(node[1]) is not str or not _DIGITS.match(node[1]):
                raise Unusable("integer")
            out.append(sympy.Integer(int(node[1])))
        elif kind == "Q":
            if len(node) != 3 or not all(type(v) is str and _DIGITS.match(v) for v in node[1:]):
                raise Unusable("rational")
            p, q = int(node[1]), int(node[2])
            if q <= 1:
                raise Unusable("rational")
            value = sympy.Rational(p, q)
            if not value.is_Rational or value.p != p or value.q != q:
                raise Unusable("rational")
            out.append(value)
        elif kind == "S":
            if (len(node) != 3 or type(node[1]) is not str or not node[1] or type(node[2]) is not dict
                    or not all(k in allowed and type(v) is bool for k, v in node[2].items())):
                raise Unusable("symbol")
            out.append(sympy.Symbol(node[1], **node[2]))
        elif kind in ("true", "false"):
            if len(node) != 1:
                raise Unusable(kind)
            out.append(sympy.true if kind == "true" else sympy.false)
        elif kind in table:
            cls, build = table[kind]
            if not all(type(i) is int and 0 <= i < len(out) for i in node[1:]):
                raise Unusable("argument")
            args = tuple(out[i] for i in node[1:])
            value = build(args)
            if type(value) is not cls or value.args != args:
                raise Unusable(f"{kind} rebuilt differently")
            out.append(value)
        else:
            raise Unusable(f"unknown node kind {kind[:20]!r}")
    return out


class ParseMemo:
    """What `expr.parse` gave for each formula text of one section of one data root (the
    memory facts, the presets' identities, the vision library), kept under `key`.

    An entry holds the text's result and the value of every name the text used; it answers
    only when the names given now have exactly those values, so an entry can never give
    another parse than the parser would. Only successful parses are kept: an error is
    always raised by the parser itself, with its message."""

    def __init__(self, key):
        self.key = key
        self.entries = {}  # text -> ({name: value}, result)
        self.added = False
        try:
            self.entries = self._decoded(load("parses", key))
        except Exception:  # anything but what `save` writes: parse as before
            self.entries = {}

    @staticmethod
    def _decoded(payload):
        if payload is None:
            return {}
        if type(payload) is not dict or type(payload.get("texts")) is not dict:
            raise Unusable("parses")
        nodes = decode(payload.get("nodes"))
        entries = {}
        for text, entry in payload["texts"].items():
            if type(entry) is not dict:
                raise Unusable("entry")
            used, value = entry.get("names"), entry.get("value")
            if type(used) is not dict or not all(type(i) is int and 0 <= i < len(nodes) for i in used.values()):
                raise Unusable("names")
            if type(value) is not int or not 0 <= value < len(nodes):
                raise Unusable("value")
            entries[text] = ({name: nodes[i] for name, i in used.items()}, nodes[value])
        return entries

    def get(self, text, names):
        """The kept parse of `text`, or None when there is none for these names' values."""
        entry = self.entries.get(text)
        if entry is None:
            return None
        used, result = entry
        for name, value in used.items():
            given = names.get(name)
            if given is None or not (given == value):
                return None
        return result

    def add(self, text, used, result):
        self.entries[text] = (dict(used), result)
        self.added = True

    def save(self):
        """Store the entries when this process added any; any problem means no cache."""
        if not self.added:
            return
        encode = Encoder()
        try:
            texts = {text: {"names": {name: encode(value) for name, value in used.items()}, "value": encode(result)}
                     for text, (used, result) in self.entries.items()}
        except Unusable:
            return
        store("parses", self.key, {"texts": texts, "nodes": encode.nodes})
        self.added = False
