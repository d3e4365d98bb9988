"""Streaming sweeps: exact at every point however large, written chunk by chunk in every
format, in memory that does not grow with the grid.

The oracles are independent of the compiled path: Python's own integers (the formula
written out in Python, or Model.evaluate's symbolic substitution) and Python's str/repr."""

import csv
import io
import json
import random
import sys
import tracemalloc
from fractions import Fraction

import numpy as np
import pytest
import sympy

import mfu_sym
from cli_helpers import run
from mfu_sym.compiled import Compiled, Wide
from mfu_sym.errors import UsageError
from mfu_sym.render import sweep as render
from mfu_sym.sweep import Sweep, sweep
from optional import require

s, b = sympy.symbols("s b", positive=True, integer=True)


# ---------------------------------------------------------------- compiled, exactly

FORMULAS = [  # (sympy expression, the same count in plain Python)
    (s * (s + 1) / 2 * 24576 * b + 6136922112 * s * b,
     lambda s, b: s * (s + 1) // 2 * 24576 * b + 6136922112 * s * b),
    (b * (294912 * s * (s + 1) + 22913482752 * sympy.ceiling(s / 64)
          + 1207959552 * sympy.Max(0, 12 * sympy.ceiling(s / 64) - 8)),
     lambda s, b: b * (294912 * s * (s + 1) + 22913482752 * -(-s // 64)
                       + 1207959552 * max(0, 12 * -(-s // 64) - 8))),
    (sympy.Piecewise((b * s**2 * 7, s <= 512), (b * (512 * s * 7 - 3 * s + 1000), True)),
     lambda s, b: b * s * s * 7 if s <= 512 else b * (512 * s * 7 - 3 * s + 1000)),
    (b * s * (s + 1) * (2 * s + 1) / 6 + sympy.floor(s / 3) * sympy.Min(s, 4096),  # denominator 6: odd part
     lambda s, b: b * s * (s + 1) * (2 * s + 1) // 6 + (s // 3) * min(s, 4096)),
    (b * s**3 * 10**6 - s * (s - 1) / 4 * 12,  # a subtraction: intermediates above the value
     lambda s, b: b * s**3 * 10**6 - s * (s - 1) * 12 // 4),
]


@pytest.mark.parametrize("number", range(len(FORMULAS)))
def test_compiled_equals_python_integers_across_int64(number):
    expression, python = FORMULAS[number]
    f = Compiled(expression, [s, b])
    rng = random.Random(number)
    points = [(1, 1), (64, 1), (65, 3), (512, 2), (513, 2), (2**31, 2**20)]
    points += [(rng.randrange(1, 10**rng.randrange(1, 11)), rng.randrange(1, 10**rng.randrange(1, 7)))
               for _ in range(3000)]
    lengths = np.array([p[0] for p in points], dtype=np.int64)
    batches = np.array([p[1] for p in points], dtype=np.int64)
    expected = [python(x, y) for x, y in points]
    assert max(expected) > 2**63  # the points cross int64
    assert list(f(lengths, batches)) == expected
    assert [f(x, y) for x, y in points[:50]] == expected[:50]  # one point, Python integers


def test_values_past_int64_are_wide_not_python_integers():
    expression, python = FORMULAS[1]
    lengths = np.arange(10**7, 10**7 + 5000, dtype=np.int64)
    result = Compiled(expression, [s, b]).exact(lengths, np.full(5000, 1000, dtype=np.int64))
    assert isinstance(result, Wide)  # no object arrays: no cliff past int64
    assert result.to_object().tolist() == [python(int(x), 1000) for x in lengths]


def test_values_past_the_wide_range_are_python_integers():
    f = Compiled(s**4 * b, [s, b])
    values = np.array([10**9, 3 * 10**9], dtype=np.int64)
    assert list(f(values, np.array([7, 7]))) == [7 * 10**36, 7 * 81 * 10**36]


def test_a_fraction_is_refused_past_int64_too():
    f = Compiled(s * b / 2, [s, b])
    assert list(f(np.array([2**40, 2**40 + 2]), np.array([2**40, 2**40]))) == [2**79, (2**40 + 2) * 2**39]
    with pytest.raises(UsageError, match="not a whole number"):
        f(np.array([2**40, 2**40 + 1]), np.array([2**40 + 1, 2**40 + 1]))
    with pytest.raises(UsageError, match="not a whole number"):
        f(3, 1)


@pytest.mark.parametrize("name", ["gemma3_1b.yaml", "deepseek_v3.yaml", "hf/qwen3_next_80b_a3b/config.json",
                                  "hf/llama4_scout_17b_16e/config.json", "hf/gpt_oss_20b/config.json",
                                  "hf/kimi_linear_48b_a3b/config.json", "hf/bamba_9b/config.json"])
def test_every_component_equals_symbolic_evaluation(example, name):
    model = mfu_sym.load(example(name))
    rng = random.Random(name)
    points = [(rng.choice([1, 63, 64, 65, 511, 512, 513, 4096]), rng.randrange(1, 9)) for _ in range(4)]
    points += [(rng.randrange(1, 3 * 10**7), rng.randrange(1, 10**4)) for _ in range(4)]
    lengths = np.array([p[0] for p in points], dtype=np.int64)
    batches = np.array([p[1] for p in points], dtype=np.int64)
    for component in [None, *model.components]:
        expression = model.batch * model.training(component)
        got = model.compile(expression, "seq_len", "batch")(lengths, batches)
        assert list(got) == [model.evaluate(expression, seq_len=x, batch=y) for x, y in points], component


# ---------------------------------------------------------------- text, column-wise

def _lines(matrix):
    return [bytes(row).replace(b"\0", b"").decode() for row in matrix]


def test_integer_text_equals_str():
    rng = random.Random(0)
    values = [0, 1, 9, 10, 2**63 - 1] + [10**k + d for k in range(19) for d in (-1, 0, 1) if 10**k + d < 2**63]
    values += [rng.randrange(2**63) >> rng.randrange(63) for _ in range(20000)]
    assert _lines(render._text(np.array(values, dtype=np.int64))) == [str(v) for v in values]


def test_wide_text_equals_str():
    rng = random.Random(1)
    base = 10**18
    pairs = [(0, 0), (0, 7), (0, base - 1), (1, 0), (10**15, base - 1)]
    pairs += [(rng.randrange(10**rng.randrange(1, 16)), rng.randrange(base)) for _ in range(5000)]
    wide = Wide(np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]), base)
    assert _lines(render._text(wide)) == [str(h * base + lo) for h, lo in pairs]


@pytest.mark.parametrize("digits", [18, 17, 16, 15, 12, 8, 1])
def test_wide_text_equals_str_in_every_base(digits):
    # Wide.base_for gives 10**k below 10**16 where a denominator of 2**9 or more takes
    # bits; round values (every low group zero) still print their eight-digit groups
    base = 10**digits
    rng = random.Random(digits)
    values = [10**20, 10**20 + 5, 3 * 10**25 + 99_999_999, 10**19 + 10**8 - 1, 2**63, 10**30]
    values += [rng.randrange(2**63, 10**30) for _ in range(2000)]
    values = [v for v in values if v // base < 2**63]  # hi is int64: what a Wide holds
    wide = Wide(np.array([v // base for v in values]), np.array([v % base for v in values]), base)
    assert _lines(render._text(wide)) == [str(v) for v in values]
    round_only = [v for v in values[:2] if v // base < 2**63]  # every low digit small
    wide = Wide(np.array([v // base for v in round_only]), np.array([v % base for v in round_only]), base)
    assert _lines(render._text(wide)) == [str(v) for v in round_only]


@pytest.mark.parametrize("denominator", [2, 256, 512, 4096, 2**20])
def test_a_sweep_column_past_int64_with_a_power_of_two_denominator(denominator):
    s = sympy.Symbol("s", positive=True, integer=True)
    lengths = np.array([2**20, 2**20 + denominator, 3 * 2**19, 2**21], dtype=np.int64)
    result = Compiled(s**4 / denominator, [s]).exact(lengths)
    expected = [int(n) ** 4 // denominator for n in lengths.tolist()]
    assert all(int(n) ** 4 % denominator == 0 for n in lengths.tolist())
    text = _lines(render._text(result)) if isinstance(result, Wide) else [str(v) for v in result.tolist()]
    assert text == [str(v) for v in expected]


def test_float_text_equals_repr():
    values = [0.5, 1e16, 45029523456.0, 1 / 3, 2.0**-30, 123456789.125]
    assert _lines(render._text(np.array(values * 3))) == [repr(v) for v in values * 3]


# ---------------------------------------------------------------- the sweep, streamed

def _expected_rows(model, lengths, batches):
    rows = []
    for x in lengths:
        for y in batches:
            training = model.evaluate(model.batch * model.training(), seq_len=x, batch=y)
            rows.append({"seq_len": x, "batch": y, "params": model.evaluate(model.params()),
                         "training_per_step": training,
                         "forward_per_step": model.evaluate(model.batch * model.forward(), seq_len=x, batch=y),
                         "training_per_token": float(Fraction(training, x * y))})
    return rows


@pytest.mark.parametrize("size", [1, 4, 7, 1000])
def test_chunks_cover_the_grid_in_order(example, size):
    model = mfu_sym.load(example("gemma3_1b.yaml"))
    lengths, batches = [511, 512, 513, 10**6, 3 * 10**7], [1, 3, 4096]
    plan = Sweep(model, {"seq_len": lengths, "batch": batches}, components=False)
    text = b"".join(render.csv_chunks(_with_chunk(plan, size))).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = _expected_rows(model, lengths, batches)
    assert len(rows) == len(expected) == 15
    for row, want in zip(rows, expected):
        assert {k: row[k] for k in want} == {k: str(v) if k != "training_per_token" else repr(v)
                                             for k, v in want.items()}


def _with_chunk(plan, size):
    chunks = plan.chunks
    plan.chunks = lambda: chunks(size)
    return plan


@pytest.mark.parametrize("size", [2, 3, 6])
def test_json_document_and_lines_parse_over_chunks(example, size):
    model = mfu_sym.load(example("llama3_8b.yaml"))
    grid = {"seq_len": [1024, 10**7], "batch": [1, 2, 10**4]}
    expected = _expected_rows(model, grid["seq_len"], grid["batch"])
    document = json.loads(b"".join(render.json_chunks(_with_chunk(Sweep(model, grid), size))))
    assert document["model"] == model.arch.name and len(document["rows"]) == 6
    lines = b"".join(render.jsonl_chunks(_with_chunk(Sweep(model, grid), size))).decode().splitlines()
    for rows in (document["rows"], [json.loads(line) for line in lines]):
        for row, want in zip(rows, expected):
            assert {k: row[k] for k in want} == want  # big integers exact, floats round-trip


def test_training_per_token_is_correctly_rounded_past_2_53(example):
    model = mfu_sym.load(example("llama3_405b.yaml"))
    lengths = [10**6 + 1, 3 * 10**7 + 7]
    table = sweep(model, {"seq_len": lengths, "batch": [1, 3]}, components=False)
    for i, (x, y) in enumerate((x, y) for x in lengths for y in (1, 3)):
        per_sequence = int(model.evaluate(model.training(), seq_len=x))
        assert per_sequence > 2**53
        assert table["training_per_token"][i] == per_sequence / x  # int / int: correctly rounded


def test_a_library_grid_is_checked(example):
    model = mfu_sym.load(example("llama3_8b.yaml"))
    for values, message in [([0], "out of range"), ([1.5], "not an integer"), ([True], "not an integer"),
                            ([], "no values"), ([2**62], "out of range")]:
        with pytest.raises(UsageError, match=message):
            sweep(model, {"seq_len": values})


def test_memory_does_not_grow_with_the_grid(example):
    model = mfu_sym.load(example("llama3_8b.yaml"))
    tracemalloc.start()
    try:
        plan = Sweep(model, {"seq_len": range(1, 10**4 + 1), "batch": range(1, 10**3 + 1)})  # 10^7 rows
        chunks = plan.chunks()
        for _ in range(3):
            render.csv_chunks  # noqa: B018
            next(chunks)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert plan.total == 10**7
    assert peak < 60 * 2**20  # the whole table would be ~1 GB


# ---------------------------------------------------------------- the command

def test_command_formats_agree(example, tmp_path):
    path = example("llama3_8b.yaml")
    arguments = ["sweep", path, "--seq-len", "1024,3000000", "--batch", "1:3"]
    rows = list(csv.DictReader(io.StringIO(run(*arguments).output)))
    lines = [json.loads(line) for line in run(*arguments, "--format", "jsonl").output.splitlines()]
    assert len(rows) == len(lines) == 6
    assert [{k: str(v) for k, v in line.items()} for line in lines] == \
        [{k: (v if k != "training_per_token" else repr(float(v))) for k, v in row.items()} for row in rows]
    model = mfu_sym.load(path)
    assert lines[5]["training_per_step"] == model.evaluate(model.batch * model.training(), seq_len=3000000, batch=3)
    assert lines[5]["training_per_step"] > 2**63
    out = tmp_path / "sweep.csv"
    assert run(*arguments, "-o", out).exit_code == 0
    assert out.read_text() == run(*arguments).output


def test_command_parquet_and_arrow(example, tmp_path):
    pa = require("pyarrow")
    import pyarrow.ipc  # noqa: F401  (pa.ipc)
    import pyarrow.parquet  # noqa: F401  (pa.parquet)
    path = example("llama3_8b.yaml")
    arguments = ["sweep", path, "--seq-len", "1024,3000000", "--batch", "1:3"]
    lines = [json.loads(line) for line in run(*arguments, "--format", "jsonl").output.splitlines()]
    for fmt, read in (("parquet", lambda p: pa.parquet.read_table(p)),
                      ("arrow", lambda p: pa.ipc.open_file(pa.OSFile(str(p))).read_all())):
        out = tmp_path / f"sweep.{fmt}"
        result = run(*arguments, "--format", fmt, "-o", out)
        assert result.exit_code == 0, result.output
        table = read(out)
        assert table.schema.field("seq_len").type == pa.int64()
        assert table.schema.field("training_per_step").type == pa.decimal128(38, 0)  # its bound passes int64
        assert table.schema.field("params").type == pa.int64()
        got = table.to_pylist()
        assert [{k: int(v) if not isinstance(v, float) else v for k, v in row.items()} for row in got] == lines


def test_command_errors(example, tmp_path, monkeypatch):
    path = example("llama3_8b.yaml")
    result = run("sweep", path, "--seq-len", "1024", "--format", "parquet")
    assert result.exit_code == 2 and "give -o FILE" in result.output
    result = run("sweep", path, "--seq-len", "1000000000000", "--batch", "1000000000", "--format", "arrow",
                 "-o", tmp_path / "x.arrow")
    assert result.exit_code == 1 and "decimal128" in result.output and not (tmp_path / "x.arrow").exists()
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    result = run("sweep", path, "--seq-len", "1024", "--format", "parquet", "-o", tmp_path / "x.parquet")
    assert result.exit_code == 1 and "needs pyarrow" in result.output and not (tmp_path / "x.parquet").exists()
    assert "Traceback" not in result.output
