"""The start-up cache (mfu_sym/cache.py): what it rebuilds is what a parse builds, a change
to any input file is another key, and anything but a file this version wrote is ignored
(the files are parsed as before: never an error, never another expression)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sympy

from mfu_sym import cache, conventions, data, expr, library, memory_data
from mfu_sym.vision import library as vision_library
from mfu_sym.errors import FormulaError

ROOT = Path(__file__).resolve().parent.parent

USER_FILE = """\
symbols:
  - {name: x_width, latex: 'w_x', kind: architecture, description: a width}
formulas:
  - name: x_custom
    component: mlp
    forward: Piecewise((2 * x_width * d_model / 3, d_ff >= 4), (x_width - 7, x_width < 2), (ceiling(d_model / 8) + floor(x_width / 3), True)) + Min(d_ff, window) * 5 * keys - Max(d_model, x_width ** 2 / 2)
    backward:
      eager: 3 * x_width * d_model * keys
      flash: 4 * x_width * d_model * keys + 1 / 2
    params: x_width * d_model ** 2 - d_model ** -1 * x_width
    description: a formula of every node kind the parser builds
    reference: {cite: kaplan2020, where: here}
"""


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """An empty cache directory of this test, and no library or document in memory."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("MFU_SYM_CACHE_DIR", str(directory))
    monkeypatch.delenv("MFU_SYM_NO_CACHE", raising=False)
    _forget()
    yield directory
    _forget()


_PARSE_VERSION = data._parse_version


def _forget():
    library._load.cache_clear()
    data._documents.cache_clear()
    _PARSE_VERSION.cache_clear()
    conventions._load_presets.cache_clear()
    memory_data._LOADED.clear()
    vision_library._load.cache_clear()


def _user_dir(tmp_path, text=USER_FILE):
    directory = tmp_path / "formulas"
    directory.mkdir(exist_ok=True)
    (directory / "custom.yaml").write_text(text)
    return directory


def _files(directory, kind):
    return sorted(directory.glob(f"{kind}-*.json")) if directory.is_dir() else []


def _expressions(lib):
    """(what, expression) of every expression in a library."""
    out = [(f"symbol {n}", s.symbol) for n, s in lib.symbols.items()]
    for name, m in lib.masks.items():
        out += [(f"mask {name}.keys", m.keys), (f"mask {name}.total", m.total)]
    for name, f in lib.formulas.items():
        out += [(f"{name}.forward", f.forward), (f"{name}.params", f.params),
                (f"{name}.active_params", f.active_params), (f"{name}.decode", f.decode)]
        out += [(f"{name}.backward.{k}", v) for k, v in f.backward.items()]
    return out


def _assert_identical(fresh, cached):
    assert fresh == cached
    assert list(fresh.symbols) == list(cached.symbols) and list(fresh.formulas) == list(cached.formulas)
    assert list(fresh.masks) == list(cached.masks) and list(fresh.references) == list(cached.references)
    pairs = list(zip(_expressions(fresh), _expressions(cached)))
    assert len(pairs) == len(_expressions(fresh)) > 100
    for (what, a), (what_b, b) in pairs:
        assert what == what_b
        if a is None:
            assert b is None, what
            continue
        assert a == b and hash(a) == hash(b), what
        assert sympy.srepr(a) == sympy.srepr(b), what
        assert type(a) is type(b), what
        symbols_a = sorted(a.free_symbols, key=str)
        symbols_b = sorted(b.free_symbols, key=str)
        assert [(s.name, s.assumptions0, s._assumptions_orig) for s in symbols_a] \
            == [(s.name, s.assumptions0, s._assumptions_orig) for s in symbols_b], what
    for name, f in fresh.formulas.items():
        g = cached.formulas[name]
        assert (f.reference, f.backward_references, f.source, f.per, f.omits) \
            == (g.reference, g.backward_references, g.source, g.per, g.omits)
        assert list(f.backward) == list(g.backward)


def _from_disk(extra_dirs=()):
    """The library as a second process would load it: from the cache, nothing parsed."""
    _forget()
    return library.load_library(extra_dirs)


# ------------------------------------------------------------------ the rebuild is the parse

@pytest.mark.parametrize("user", [False, True], ids=["bundled", "with --formulas"])
def test_every_expression_rebuilds_identically(cache_dir, tmp_path, monkeypatch, user):
    extra = [_user_dir(tmp_path)] if user else []
    fresh = library.load_library(extra)
    assert len(_files(cache_dir, "library")) == 1 and len(_files(cache_dir, "data")) == 1
    if user:
        assert "x_custom" in fresh.formulas and fresh.formulas["x_custom"].forward.has(sympy.Piecewise)
    monkeypatch.setattr(library, "_parse", lambda root: pytest.fail("parsed, not read from the cache"))
    monkeypatch.setattr(data, "_parse_version", lambda *a: pytest.fail("a data file parsed"))
    cached = _from_disk(extra)
    _assert_identical(fresh, cached)
    assert cached.root == fresh.root


def test_the_user_formula_has_every_node_kind(cache_dir, tmp_path):
    lib = library.load_library([_user_dir(tmp_path)])
    encode = cache.Encoder()
    for _, e in _expressions(lib):
        if e is not None:
            encode(e)
    kinds = {node[0] for node in encode.nodes}
    assert {"I", "Q", "S", "true", "Add", "Mul", "Pow", "Min", "Max", "floor", "ceiling", "Piecewise",
            "ExprCondPair", "Ge", "Lt"} <= kinds


def test_documents_from_the_cache_equal_the_parse(cache_dir, monkeypatch):
    fresh = data.root().documents()
    monkeypatch.setattr(data, "_parse_version", lambda *a: pytest.fail("a data file parsed"))
    _forget()
    assert data.root().documents() == fresh
    assert [p for p, _ in data.root().documents()] == [p for p, _ in fresh]


def test_commands_give_the_same_output_from_the_cache(tmp_path):
    env = {**os.environ, "MFU_SYM_CACHE_DIR": str(tmp_path / "c"), "PYTHONPATH": str(ROOT)}
    env.pop("MFU_SYM_NO_CACHE", None)
    args = [sys.executable, "-m", "mfu_sym.cli", "derive", str(ROOT / "examples" / "deepseek_v3.yaml"),
            "--format", "json"]
    runs = [subprocess.run(args, capture_output=True, text=True, env=e, cwd=ROOT)
            for e in (env, env, {**env, "MFU_SYM_NO_CACHE": "1"})]
    assert [r.returncode for r in runs] == [0, 0, 0], runs[0].stderr
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
    assert len(list((tmp_path / "c").glob("library-*.json"))) == 1


# ------------------------------------------------------------------ keys

def test_a_changed_file_is_another_key(cache_dir, tmp_path):
    directory = _user_dir(tmp_path)
    first = library.load_library([directory])
    (directory / "custom.yaml").write_text(USER_FILE.replace("3 * x_width * d_model * keys", "9 * x_width * keys"))
    second = _from_disk([directory])
    width, keys = second.symbol("x_width"), second.symbol("keys")
    assert second.formulas["x_custom"].backward["eager"] == 9 * width * keys
    assert first.formulas["x_custom"].backward["eager"] != second.formulas["x_custom"].backward["eager"]
    assert len(_files(cache_dir, "library")) == 2
    # and back: the first file's entry is still good
    (directory / "custom.yaml").write_text(USER_FILE)
    assert _from_disk([directory]) == first


def test_the_key_covers_paths_bytes_and_code(cache_dir, tmp_path, monkeypatch):
    directory = _user_dir(tmp_path)
    root = data.root([directory])
    key = root.key()
    assert key and key == data.root([directory]).key()
    other = tmp_path / "other"
    other.mkdir()
    (other / "custom.yaml").write_text(USER_FILE)  # same bytes, another path: sources differ
    assert data.root([other]).key() != key
    monkeypatch.setattr(cache, "versions", lambda: ["format 0"])
    _forget()
    assert data.root([directory]).key() != key
    monkeypatch.setattr(cache, "sources", lambda *m: [b"other code"])
    _forget()
    assert data.root([directory]).key() != key


def test_an_error_is_the_same_with_the_cache(cache_dir, tmp_path, monkeypatch):
    bad = USER_FILE.replace("x_width - 7", "x_width - 7.5")
    directory = _user_dir(tmp_path, bad)
    with pytest.raises(FormulaError) as with_cache:
        library.load_library([directory])
    assert not _files(cache_dir, "library")
    monkeypatch.setenv("MFU_SYM_NO_CACHE", "1")
    _forget()
    with pytest.raises(FormulaError) as without:
        library.load_library([directory])
    assert str(with_cache.value) == str(without.value) and "counts are exact" in str(without.value)


def test_an_unreadable_file_gives_its_parse_error(cache_dir, tmp_path):
    directory = _user_dir(tmp_path)
    (directory / "zz.yaml").mkdir()
    with pytest.raises(FormulaError, match="not a regular file"):
        library.load_library([directory])


# ------------------------------------------------------------------ anything else is ignored

def _write(cache_dir, kind, key, body, header=None):
    cache_dir.mkdir(parents=True, exist_ok=True)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = header if header is not None else {"format": cache.FORMAT, "kind": kind, "key": key,
                                               "blake2b": cache._hash(raw)}
    (cache_dir / f"{kind}-{key}.json").write_bytes(json.dumps(head).encode() + b"\n" + raw)


def _library_payload():
    return json.loads(json.dumps(library._to_cache(library.load_library())))


def _hostile_payloads():
    good = _library_payload()
    n = len(good["nodes"])
    formula = good["formulas"][0]

    def with_node(node, at=None):
        p = json.loads(json.dumps(good))
        p["nodes"][at if at is not None else formula["forward"]] = node
        return p

    def with_field(**fields):
        p = json.loads(json.dumps(good))
        p["formulas"][0].update(fields)
        return p

    deep = "[" * 100_000 + "]" * 100_000
    return {
        "not a mapping": [1, 2, 3],
        "nodes not a list": {**good, "nodes": {"a": 1}},
        "unknown node kind": with_node(["__import__", 0]),
        "a function sympy knows": with_node(["sin", 0]),
        "a float": with_node(["Float", "1.5"]),
        "integer with letters": with_node(["I", "12x"]),
        "integer as a number": with_node(["I", 12]),
        "huge integer": with_node(["I", "9" * 5000]),
        "rational not reduced": with_node(["Q", "2", "4"]),
        "rational over one": with_node(["Q", "3", "1"]),
        "rational over zero": with_node(["Q", "3", "0"]),
        "symbol with an unknown assumption": with_node(["S", "d_model", {"evil": True}]),
        "symbol assumption not a boolean": with_node(["S", "d_model", {"positive": "yes"}]),
        "forward reference": with_node(["Add", n - 1, n - 2]),
        "negative index": with_node(["Mul", -1, 0]),
        "index not an integer": with_node(["Mul", "0", 1]),
        "boolean index": with_node(["Mul", True, 0]),
        "empty node": with_node([]),
        "node not a list": with_node("Add"),
        "Pow of three": with_node(["Pow", 0, 1, 2]),
        "floor of nothing": with_node(["floor"]),
        "true with arguments": with_node(["true", 0]),
        "field of the wrong type": with_field(description=12),
        "expression index out of range": with_field(forward=10 ** 9),
        "expression that is a condition": with_field(forward=next(
            i for i, node in enumerate(good["nodes"]) if node[0] == "true")),
        "unknown field": with_field(colour="red"),
        "missing field": {**good, "formulas": [{k: v for k, v in formula.items() if k != "per"}]},
        "a kernel missing": with_field(backward=formula["backward"][:1]),
        "citation of three": with_field(reference=["a", "b", "c"]),
        "extra section": {**good, "more": []},
        "missing section": {k: v for k, v in good.items() if k != "masks"},
        "duplicate formula": {**good, "formulas": [formula, formula]},
        "deep nesting": deep,
    }


def test_hostile_library_caches_fall_back_to_parsing(cache_dir):
    fresh = library.load_library()
    key = library._cache_key(fresh.root)
    for what, payload in _hostile_payloads().items():
        body = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        _write(cache_dir, "library", key, body)
        assert cache.load("library", key) is not None or what == "deep nesting", what
        assert library._from_cache(cache.load("library", key), fresh.root) is None, what
        if what in ("unknown node kind", "huge integer", "deep nesting"):  # the whole way, for a few
            _forget()
            assert library.load_library() == fresh, what


@pytest.mark.parametrize("what", ["truncated", "flipped byte", "empty", "no header", "binary", "wrong format",
                                  "wrong key", "wrong kind", "header not a mapping", "too large"])
def test_damaged_cache_files_are_ignored(cache_dir, what, monkeypatch):
    fresh = library.load_library()
    key = library._cache_key(fresh.root)
    path = _files(cache_dir, "library")[0]
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n")
    header = json.loads(head)
    damaged = {
        "truncated": raw[: len(raw) // 2],
        "flipped byte": head + b"\n" + body[:1000] + bytes([body[1000] ^ 1]) + body[1001:],
        "empty": b"",
        "no header": body,
        "binary": bytes(range(256)) * 10,
        "wrong format": json.dumps({**header, "format": cache.FORMAT + 1}).encode() + b"\n" + body,
        "wrong key": json.dumps({**header, "key": "0" * 64}).encode() + b"\n" + body,
        "wrong kind": json.dumps({**header, "kind": "data"}).encode() + b"\n" + body,
        "header not a mapping": b"[1]\n" + body,
        "too large": raw,
    }[what]
    if what == "too large":
        monkeypatch.setattr(cache, "MAX_BYTES", len(raw) - 1)
    path.write_bytes(damaged)
    assert cache.load("library", key) is None
    assert _from_disk() == fresh


def test_hostile_data_caches_fall_back_to_parsing(cache_dir):
    fresh = data.root().documents()
    key = data.root().key()
    n = len(data.root().files)
    good = [[p, d] for p, d in fresh]
    for payload in ([], {"a": 1}, good[:-1], [[p, d] for p, d in reversed(good)],
                    [[p, {"no_such_section": 1}] for p, _ in good], [[p, [d]] for p, d in good],
                    [[p] for p, _ in good], [[p, 3] for p, _ in good]):
        assert len(payload) != n or payload != good
        _write(cache_dir, "data", key, payload)
        _forget()
        assert data.root().documents() == fresh


def test_the_rebuild_refuses_what_sympy_would_build_otherwise():
    x = ["S", "x", {"positive": True}]
    assert cache.decode([x, ["I", "2"], ["Mul", 1, 0]])[2] == 2 * sympy.Symbol("x", positive=True)
    with pytest.raises(cache.Unusable):  # Max(x, x) is x: not the Max node stored
        cache.decode([x, ["Max", 0, 0]])
    with pytest.raises(cache.Unusable):
        cache.decode([["true"], ["ExprCondPair", 0, 0], ["Piecewise", 1]])


def test_what_the_cache_cannot_hold_is_not_stored():
    x = sympy.Symbol("x")
    for expression in (sympy.Float(1.5) * x, sympy.sin(x), sympy.Dummy("d") + 1):
        with pytest.raises(cache.Unusable):
            cache.Encoder()(expression)
    assert [cache.plain(v) for v in ({"a": [1, 2.5, None, True, "t"]}, {1: "a"}, (1, 2), float("nan"),
                                     b"x", {"a": {"b": set()}}, 10 ** 2000)] \
        == [True, False, False, False, False, False, False]


def test_a_document_json_cannot_hold_is_parsed_each_time(cache_dir, tmp_path):
    directory = tmp_path / "d"
    directory.mkdir()
    (directory / "odd.yaml").write_text("formulas:\n  - {1: 2}\n")  # an integer key
    documents = dict(data.root([directory]).documents())
    assert documents[str(directory / "odd.yaml")] == {"formulas": [{1: 2}]}
    assert not _files(cache_dir, "data")


# ------------------------------------------------------------------ where, and how it is written

def test_where_the_cache_lives(monkeypatch, tmp_path):
    for name in ("MFU_SYM_CACHE_DIR", "XDG_CACHE_HOME", "MFU_SYM_NO_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.directory() == tmp_path / "home" / ".cache" / "mfu-sym"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as the XDG spec says
    assert cache.directory() == tmp_path / "home" / ".cache" / "mfu-sym"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.directory() == tmp_path / "xdg" / "mfu-sym"
    monkeypatch.setenv("MFU_SYM_CACHE_DIR", str(tmp_path / "mine"))
    assert cache.directory() == tmp_path / "mine"
    monkeypatch.setenv("MFU_SYM_NO_CACHE", "1")
    assert cache.directory() is None


def test_the_suite_never_writes_to_the_home_cache():
    directory = cache.directory()
    assert directory is None or Path.home() not in directory.parents


def test_no_cache_writes_nothing(cache_dir, monkeypatch):
    monkeypatch.setenv("MFU_SYM_NO_CACHE", "1")
    assert library.load_library() == _from_disk()
    assert data.root().key() is None
    assert not cache_dir.exists()


@pytest.mark.parametrize("where", ["under a file", "a file"])
def test_an_unwritable_cache_directory_means_no_cache(tmp_path, monkeypatch, where):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("MFU_SYM_CACHE_DIR", str(tmp_path / "file" / "sub" if where == "under a file"
                                                 else tmp_path / "file"))
    monkeypatch.delenv("MFU_SYM_NO_CACHE", raising=False)
    _forget()
    try:
        first = library.load_library()
        assert _from_disk() == first
    finally:
        _forget()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_writes_are_atomic(cache_dir, monkeypatch):
    library.load_library()
    names = sorted(p.name for p in cache_dir.iterdir())
    assert len(names) == 2 and not any(n.startswith(".") for n in names)  # no temporary file left

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    cache.store("library", "1" * 64, {"nodes": []})
    assert sorted(p.name for p in cache_dir.iterdir()) == names  # neither the file nor its temporary


def test_old_entries_are_pruned(cache_dir, monkeypatch):
    monkeypatch.setattr(cache, "KEEP", 3)
    cache_dir.mkdir()
    for i in range(5):
        (cache_dir / f"data-{i:064x}.json").write_text("old")
        os.utime(cache_dir / f"data-{i:064x}.json", (1000 + i, 1000 + i))
    (cache_dir / "library-keep.json").write_text("another kind")
    cache.store("data", f"{9:064x}", [9])
    assert sorted(p.name[-7:-5] for p in _files(cache_dir, "data")) == ["03", "04", "09"]
    assert cache.load("data", f"{9:064x}") == [9]
    assert (cache_dir / "library-keep.json").exists()


def test_concurrent_processes_share_the_cache(tmp_path):
    env = {**os.environ, "MFU_SYM_CACHE_DIR": str(tmp_path / "c"), "PYTHONPATH": str(ROOT)}
    env.pop("MFU_SYM_NO_CACHE", None)
    code = "from mfu_sym.library import load_library; print(len(load_library().formulas))"
    processes = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env, cwd=ROOT) for _ in range(3)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0] * 3, outputs
    assert len({out for out, _ in outputs}) == 1
    files = sorted((tmp_path / "c").iterdir())
    assert [f.name.split("-")[0] for f in files] == ["data", "library"]
    key = files[1].name[len("library-"):-len(".json")]
    with pytest.MonkeyPatch.context() as m:
        m.setenv("MFU_SYM_CACHE_DIR", str(tmp_path / "c"))
        assert cache.load("library", key) is not None


# ------------------------------------------------------------------ the parse memo (memory, presets, vision)

def _sections():
    """The three sections read outside the library, as a command reads them."""
    return memory_data.load_data(), conventions.load_presets(), vision_library.load()


def test_sections_from_the_memo_equal_their_parse(cache_dir, monkeypatch):
    fresh = _sections()
    assert len(_files(cache_dir, "parses")) == 3
    _forget()
    monkeypatch.setattr(expr._Builder, "build", lambda *a, **k: pytest.fail("a formula text parsed"))
    again = _sections()
    assert again[0] == fresh[0] and again[1] == fresh[1]
    assert again[2].formulas == fresh[2].formulas and again[2].quantities == fresh[2].quantities


def _memo_names(**assumptions):
    x = sympy.Symbol("x", positive=True, integer=True, **assumptions)
    return {"x": x, "y": sympy.Symbol("y", positive=True, integer=True), "unused": sympy.Integer(3)}


def test_a_memo_entry_answers_only_for_the_names_it_used(cache_dir):
    names = _memo_names()
    memo = cache.ParseMemo("0" * 64)
    with expr.memoized(memo):
        first = expr.parse("ceiling(x / 8) * y + 2", names)
    assert list(memo.entries) == ["ceiling(x / 8) * y + 2"]
    assert set(memo.entries["ceiling(x / 8) * y + 2"][0]) == {"x", "y"}  # what it depends on
    stored = cache.ParseMemo("0" * 64)  # as the next process finds it
    assert stored.get("ceiling(x / 8) * y + 2", {**names, "unused": sympy.Integer(4)}) == first
    other = _memo_names(even=True)  # another x: another parse
    assert stored.get("ceiling(x / 8) * y + 2", other) is None
    with expr.memoized(stored):
        again = expr.parse("ceiling(x / 8) * y + 2", other)
    assert again != first and again.free_symbols == {other["x"], other["y"]}
    with expr.memoized(cache.ParseMemo("0" * 64)), pytest.raises(FormulaError, match="unknown name 'y'"):
        expr.parse("ceiling(x / 8) * y + 2", {"x": names["x"]})  # a name gone: the parser's own error


def test_errors_are_never_kept(cache_dir):
    memo = cache.ParseMemo("1" * 64)
    for text in ("x +", "x / 0", "x ** 9", "z * x", "0.5 * x"):
        with expr.memoized(memo), pytest.raises(FormulaError):
            expr.parse(text, _memo_names())
    assert memo.entries == {} and not _files(cache_dir, "parses")


def _memo_payloads():
    x = ["S", "x", {"positive": True, "integer": True}]
    return {
        "a list": [1, 2],
        "texts not a mapping": {"texts": [], "nodes": []},
        "entry not a mapping": {"texts": {"x": 0}, "nodes": [x]},
        "no value": {"texts": {"x": {"names": {"x": 0}}}, "nodes": [x]},
        "value out of range": {"texts": {"x": {"names": {"x": 0}, "value": 1}}, "nodes": [x]},
        "value not an index": {"texts": {"x": {"names": {"x": 0}, "value": "0"}}, "nodes": [x]},
        "negative index": {"texts": {"x": {"names": {"x": -1}, "value": 0}}, "nodes": [x]},
        "names not a mapping": {"texts": {"x": {"names": [0], "value": 0}}, "nodes": [x]},
        "unknown node kind": {"texts": {"x": {"names": {}, "value": 0}}, "nodes": [["eval", "1"]]},
        "nodes not a list": {"texts": {}, "nodes": {"0": x}},
    }


@pytest.mark.parametrize("what", list(_memo_payloads()))
def test_hostile_parse_memos_fall_back_to_parsing(cache_dir, what):
    fresh = memory_data.load_data()
    key = cache.digest([library._cache_key(library.load_library().root), "memory"])
    assert cache.load("parses", key) is not None
    _write(cache_dir, "parses", key, _memo_payloads()[what])
    assert cache.ParseMemo(key).entries == {}
    _forget()
    assert memory_data.load_data() == fresh


def test_commands_give_the_same_output_from_the_parse_memo(tmp_path):
    env = {**os.environ, "MFU_SYM_CACHE_DIR": str(tmp_path / "c"), "PYTHONPATH": str(ROOT)}
    env.pop("MFU_SYM_NO_CACHE", None)
    args = [sys.executable, "-m", "mfu_sym.cli", "infer", str(ROOT / "examples" / "deepseek_v3.yaml"),
            "--context", "8192", "--hardware", "h100", "--format", "json"]
    runs = [subprocess.run(args, capture_output=True, text=True, env=e, cwd=ROOT)
            for e in (env, env, {**env, "MFU_SYM_NO_CACHE": "1"})]
    assert [r.returncode for r in runs] == [0, 0, 0], runs[0].stderr
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
    assert len(list((tmp_path / "c").glob("parses-*.json"))) == 2  # memory facts and presets
