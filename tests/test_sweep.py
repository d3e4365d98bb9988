"""Sweeps: the compiled numpy path gives exactly what symbolic evaluation gives, point by
point, including Piecewise windows and values past int64."""

import csv
import io
import json

import numpy as np
import sympy

import mfu_sym
from cli_helpers import run
from mfu_sym.sweep import Compiled, sweep


def test_sweep_equals_symbolic_evaluation_at_every_point(example):
    model = mfu_sym.load(example("gemma3_1b.yaml"))  # window 512: a Piecewise in seq_len
    lengths, batches = [1, 2, 511, 512, 513, 4096, 32768], [1, 3]
    table = sweep(model, {"seq_len": lengths, "batch": batches})
    for i, (s, b) in enumerate((s, b) for s in lengths for b in batches):
        assert (table["seq_len"][i], table["batch"][i]) == (s, b)
        assert table["training_per_step"][i] == model.evaluate(model.batch * model.training(), seq_len=s, batch=b)
        for name in model.components:
            expected = model.evaluate(model.batch * model.training(name), seq_len=s, batch=b)
            assert table[f"training_per_step.{name}"][i] == expected


def test_architecture_symbols_can_be_swept(example):
    model = mfu_sym.load(example("llama3_8b.yaml"))
    table = sweep(model, {"d_model": [2048, 4096]}, components=False)
    assert table["params"][1] == 8_030_261_248  # d_model 4096 is the model itself
    assert table["params"][0] < table["params"][1]


def test_values_past_int64_fall_back_to_exact_python_integers():
    s = sympy.Symbol("s", positive=True, integer=True)
    f = Compiled(s**3 * 10**6 + s / 2 + s**2 / 2, [s])  # integer-valued: s(s+1)/2 + ...
    values = np.array([1, 10**5, 10**7])
    exact = [v**3 * 10**6 + v * (v + 1) // 2 for v in (1, 10**5, 10**7)]
    assert list(f(values)) == exact  # 10**27 does not fit in int64


def test_model_compile(example):
    model = mfu_sym.load(example("llama3_8b.yaml"))
    f = model.compile(model.training(), "seq_len")
    assert list(f(np.array([1024, 8192]))) == [model.evaluate(model.training(), seq_len=n) for n in (1024, 8192)]


def test_sweep_command_csv_and_json(example):
    result = run("sweep", example("llama3_8b.yaml"), "--seq-len", "1024,8192", "--batch", "1:2")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(r["seq_len"], r["batch"]) for r in rows] == [("1024", "1"), ("1024", "2"), ("8192", "1"), ("8192", "2")]
    model = mfu_sym.load(example("llama3_8b.yaml"))
    assert int(rows[2]["training_per_step"]) == model.evaluate(model.training(), seq_len=8192)
    data = json.loads(run("sweep", example("llama3_8b.yaml"), "--seq-len", "8192", "--format", "json").output)
    assert data["rows"][0]["params"] == 8_030_261_248 and data["conventions"]["preset"] == "exact"
