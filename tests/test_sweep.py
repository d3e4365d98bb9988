"""Sweeps: the compiled numpy path gives exactly what symbolic evaluation gives, point by
point, including Piecewise windows and values past int64."""

import csv
import io
import json
from pathlib import Path

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


# ---- structural sizes: every point is the model a file with that size describes

import pytest  # noqa: E402

from mfu_sym.errors import UsageError  # noqa: E402


def _as_file(tmp_path, example_path, key, value):
    """The example with one key changed, written as a new file of the same kind."""
    import yaml
    path = Path(example_path)
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        data[key] = value
        out = tmp_path / f"{key}_{value}.json"
        out.write_text(json.dumps(data))
    else:
        data = yaml.safe_load(path.read_text())
        data[key] = value
        out = tmp_path / f"{key}_{value}.yaml"
        out.write_text(yaml.safe_dump(data))
    return out


@pytest.mark.parametrize("example_name, size, key, values", [
    ("deepseek_v3.yaml", "n_layers", "n_layers", [4, 7, 61]),          # 3 dense layers kept, MoE re-counted
    ("gemma3_27b.yaml", "n_layers", "n_layers", [2, 7, 12, 62]),       # 5 sliding : 1 full re-derived
    ("llama3_8b.yaml", "d_model", "d_model", [2048, 8192]),            # default d_head follows d_model
    ("llama3_8b.yaml", "n_heads", "n_heads", [8, 64]),
    ("hf/deepseek_v3/config.json", "n_layers", "num_hidden_layers", [2, 5, 61]),
    ("hf/qwen1_5_moe_a2_7b/config.json", "n_layers", "num_hidden_layers", [3, 24]),
    ("hf/gemma3_1b/config.json", "n_layers", "num_hidden_layers", [1, 7, 26]),
    ("hf/qwen3_30b_a3b/config.json", "n_experts", "num_experts", [16, 128]),
    ("hf/mixtral_8x7b/config.json", "d_expert", "intermediate_size", [4096, 14336]),
])
def test_structural_sweep_equals_loading_each_file(tmp_path, example, example_name, size, key, values):
    model = mfu_sym.load(example(example_name))
    table = sweep(model, {size: values, "seq_len": [8, 4096]})
    i = 0
    for value in values:
        expected = mfu_sym.load(_as_file(tmp_path, example(example_name), key, value))
        for s in (8, 4096):
            assert table[size][i] == value and table["seq_len"][i] == s
            assert table["params"][i] == expected.evaluate(expected.params())
            assert table["training_per_step"][i] == expected.evaluate(expected.training(), seq_len=s, batch=1)
            for name in expected.components:
                assert table[f"training_per_step.{name}"][i] == expected.evaluate(
                    expected.training(name), seq_len=s, batch=1), name
            i += 1


def test_structural_sweep_never_goes_negative(example):
    for name, layers in (("deepseek_v3.yaml", [4, 5, 6]), ("gemma3_27b.yaml", [1, 2, 3, 4])):
        table = sweep(mfu_sym.load(example(name)), {"n_layers": layers})
        for column in table.values():
            assert (np.asarray(column, dtype=float) >= 0).all()


@pytest.mark.parametrize("example_name, grid, field, message", [
    ("mixtral_8x7b.yaml", {"top_k": [2, 9]}, "top_k", "top_k (9) is larger than n_experts (8) (at top_k 9)"),
    ("llama3_8b.yaml", {"n_kv_heads": [3]}, "n_kv_heads", "not divisible"),
    ("llama3_8b.yaml", {"n_heads": [7]}, "n_kv_heads", "n_heads (7) is not divisible by n_kv_heads (8)"),
    ("gpt2_124m.yaml", {"n_heads": [7]}, "d_head", "d_model (768) is not divisible by n_heads (7)"),
    ("gemma3_27b.yaml", {"n_window_layers": [3]}, "n_window_layers", "derived from n_layers"),
    ("llama3_8b.yaml", {"window": [4]}, "window", "not a size of this model"),
    ("hf/mixtral_8x7b/config.json", {"d_ff": [4096]}, "d_ff", "not a size of this model"),  # experts only
    ("deepseek_v3.yaml", {"n_layers": [2]}, "dense_layers", "every layer is dense: no layer has experts"),
])
def test_impossible_points_are_refused(example, example_name, grid, field, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        sweep(mfu_sym.load(example(example_name)), grid)
    assert info.value.field == field


def test_sweep_output_file_is_all_or_nothing(tmp_path, example):
    target = tmp_path / "out.csv"
    target.write_text("keep me\n")
    bad = run("sweep", example("mixtral_8x7b.yaml"), "--top-k", "2,9", "-o", target)
    assert bad.exit_code == 1 and target.read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    good = run("sweep", example("llama3_8b.yaml"), "--seq-len", "8,16", "-o", target)
    assert good.exit_code == 0, good.output
    assert target.read_text().splitlines()[0].startswith("seq_len,params,")
    missing = run("sweep", example("llama3_8b.yaml"), "--seq-len", "8", "-o", tmp_path / "no" / "such.csv")
    assert missing.exit_code == 1 and "cannot write: no such directory" in missing.output
