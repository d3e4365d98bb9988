"""The fast log path (issue 18): vectorised MFU exactly as the Fraction definition rounds
it, bit for bit, and the fast reader giving exactly the exact reader's records."""

import json
import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from mfu_sym import logs, mfu
from mfu_sym.errors import LogError
from cli_helpers import run_json

LLAMA = str(Path(__file__).resolve().parent.parent / "examples" / "llama3_8b.yaml")


def _exact(values, constant):
    return np.array([float(Fraction(v) * constant) for v in values], dtype=np.float64)


@pytest.mark.parametrize("seed", range(6))
def test_scaled_is_the_exact_product_rounded_once(seed):
    rng = np.random.default_rng(seed)
    draw = random.Random(seed)
    constant = Fraction(draw.randint(10**9, 10**13), draw.randint(1, 10**6)) / (draw.randint(1, 4096) * 989 * 10**12)
    values = np.round(rng.uniform(1e2, 1e8, 20_000), draw.randint(0, 3))
    got = mfu.scaled(values, constant)
    want = _exact(values.tolist(), constant)
    assert got.tobytes() == want.tobytes()
    # the test can fail: a plain float multiply is an ulp off for a good share of these
    assert (values * float(constant) != want).sum() > 100


@pytest.mark.parametrize("constant", [Fraction(2**53 + 1, 2**53), Fraction(2**53 + 3, 2**54), Fraction(1, 3),
                                      Fraction(10), Fraction(1, 2**1000), Fraction(3, 2**60) + Fraction(1, 2**113)])
def test_scaled_ties_and_extremes(constant):
    """Exact ties (round half to even), near-ties and magnitudes outside the float bounds
    go through Fraction."""
    values = [1.0, 3.0, 5.0, 2.0**30, 7.0, 1e-300, 1e300, 0.1, 5e-324, 2.0**53 - 1, 123456.789]
    assert mfu.scaled(values, constant).tobytes() == _exact(values, constant).tobytes()


def test_scaled_near_ties_are_decided_exactly(monkeypatch):
    """With no margin of trust every element takes the exact path: the same values."""
    values = np.random.default_rng(7).uniform(1e3, 1e7, 2000)
    constant = Fraction(123_456_789_012_345, 987_654_321) / (8 * 989 * 10**12)
    fast = mfu.scaled(values, constant)
    monkeypatch.setattr(mfu, "_MARGIN", 1.0)
    assert mfu.scaled(values, constant).tobytes() == fast.tobytes() == _exact(values.tolist(), constant).tobytes()


def test_utilizations_match_utilization():
    rates = [1e5, 123_456.7, 3.3e6, 999_999.9]
    flops, peak = 47_000_000_123, 989e12
    got = mfu.utilizations(rates, flops, 8, peak)
    assert got.tolist() == [mfu.utilization(r, flops, 8, peak) for r in rates]


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def _exact_read(monkeypatch, path, column):
    with monkeypatch.context() as m:
        m.setattr(logs, "_read_fast", lambda *args: None)
        return logs.read_log(path, column)


def _random_log(draw, kind, rows):
    values = [draw.choice([f"{draw.uniform(1e3, 1e6):.{draw.randint(0, 4)}f}", f"{draw.uniform(1, 9):.3e}",
                           str(draw.randint(1, 10**9))]) for _ in range(rows)]
    lines = []
    if kind in ("csv", "tsv"):
        sep = "," if kind == "csv" else "\t"
        lines.append(sep.join(["step", "tps", "loss"]))
        for i, v in enumerate(values):
            roll = draw.random()
            if roll < 0.05:
                lines.append(sep.join([str(i), "", "2.5"]))       # an evaluation row: skipped
            elif roll < 0.07:
                lines.append("")                                  # no record
            elif roll < 0.08:
                lines.append(sep * 2)                             # a row of empty cells: no record
            else:
                lines.append(sep.join([str(i), v, f"{draw.random():.4f}"]))
        return "\r\n".join(lines) + ("\r\n" if draw.random() < 0.5 else "")
    for i, v in enumerate(values):
        roll = draw.random()
        if roll < 0.05:
            lines.append(json.dumps({"step": i, "eval_loss": 2.5}))
        elif roll < 0.07:
            lines.append("")
        elif roll < 0.09:
            lines.append(json.dumps({"step": i, "tps": None}))
        else:
            lines.append(f'{{"step": {i}, "tps": {v}, "lr": 3e-05, "tag": "a:b,c", "cu": [0, 5]}}')
    return "\n".join(lines) + ("\n" if draw.random() < 0.5 else "")


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl"])
@pytest.mark.parametrize("seed", range(3))
def test_fast_reader_gives_the_exact_readers_records(tmp_path, monkeypatch, kind, seed):
    draw = random.Random(seed)
    text = _random_log(draw, kind, 3000)
    path = tmp_path / f"log.{kind}"
    path.write_bytes(text.encode())
    monkeypatch.setattr(logs, "_CHUNK", 4096)  # many chunks, a line cut at each boundary
    fast = logs._read_fast(path, "tps", logs._CSV_SUFFIXES.get(f".{kind}"))
    assert fast is not None, "a plain log should take the fast path"
    exact = _exact_read(monkeypatch, path, "tps")
    assert fast.lines.tolist() == exact.lines.tolist()
    assert fast.values.tobytes() == exact.values.tobytes()
    assert fast.skipped == exact.skipped


@pytest.mark.parametrize("text", [
    '{"time": "12:30:00", "tps": 7}\n{"time": "12:31:00", "tps": 8.5}\n',  # colons in strings
    '{"tps": 7, "note": ":"}\n{"tps": 8, "note": "a::b:"}\n',
    '{"tps": 7}\n{"tps": 8, "a": 1}\n',
])
def test_colons_in_strings_keep_the_fast_path(tmp_path, monkeypatch, text):
    path = _write(tmp_path, "t.jsonl", text)
    fast = logs._read_fast(path, "tps", None)
    assert fast is not None
    exact = _exact_read(monkeypatch, path, "tps")
    assert fast.lines.tolist() == exact.lines.tolist() and fast.values.tolist() == exact.values.tolist()


@pytest.mark.parametrize("name, text", [
    ("t.csv", 'tps\n"100"\n'),                    # quoting
    ("t.csv", "tps\n100\r200\n"),                 # a bare carriage return ends a csv line
    ("t.csv", "tps,x\n100\n"),                     # a short row
    ("t.csv", "tps\n1e400\n"),
    ("t.jsonl", '{"tps": 1, "tps": 2}\n'),         # a key twice
    ("t.jsonl", '{"a:b": "c:d", "tps": 1, "a:b": 2}\n'),   # twice, colons in strings
    ("t.jsonl", '{"t": "a:b", "tps": 1, "tps": 2}\n'),    # twice, one colon in a string: the
                                                           # colons equal the pairs given
    ("t.jsonl", '{"t\\"x": ":", "tps": 1, "tps": 2}\n'),  # twice, an escaped quote
    ("t.jsonl", '{"tps": 1, "x": {"y": 2}}\n'),    # nested
    ("t.jsonl", '{"tps": "100"}\n'),               # text
    ("t.jsonl", '{"tps": 1e400}\n'),
    ("t.jsonl", '{"tps": 1, "x": NaN}\n'),
    ("t.jsonl", ' {"tps": 1}\n'),
    ("t.jsonl", '{"tps": 1}, {"tps": 2}\n'),
    ("t.jsonl", '{"tps": 1, "x": 1%s}\n' % ("0" * 120)),
    ("t.json", '[{"tps": 1}]'),
])
def test_unusual_logs_go_the_exact_way(tmp_path, name, text):
    path = _write(tmp_path, name, text)
    assert logs._read_fast(path, "tps", logs._CSV_SUFFIXES.get(path.suffix)) is None


@pytest.mark.parametrize("name, text, message", [
    ("t.csv", "tps\n100\n-5\n", "line 3: tps is '-5'"),
    ("t.jsonl", '{"tps": 100}\n{"tps": 0}\n', "line 2: tps is 0"),
    ("t.jsonl", '{"tps": 100}\n{"tps": 2\n', "line 2: invalid JSON"),
    ("t.jsonl", '{"tps": 100}\n\n{"tps": 1e300}\n', "line 3: tps is 1e+300 (expected at most"),
])
def test_errors_after_the_fast_reader_declines(tmp_path, name, text, message):
    path = _write(tmp_path, name, text)
    with pytest.raises(LogError, match=message.replace("(", r"\(").replace("+", r"\+")):
        logs.read_log(path, "tps")


@pytest.mark.parametrize("kind, extra", [
    ("tokens-per-sec", []),
    ("tokens-per-sec-per-device", []),
    ("step-time", ["--batch", "64"]),
])
def test_each_steps_mfu_is_the_fraction_definition(tmp_path, kind, extra):
    """Every step's MFU is measure()'s: float(Fraction(rate) x FLOPs / (devices x peak)),
    the rate being the float throughput; checked bit for bit over many rows."""
    draw = random.Random(kind)
    step_time = kind == "step-time"
    values = [round(draw.uniform(0.5, 2.0), 6) if step_time else round(draw.uniform(1e4, 1e6), 1)
              for _ in range(3000)]
    path = _write(tmp_path, "log.csv", "v\n" + "\n".join(map(repr, values)) + "\n")
    data = run_json("mfu", LLAMA, "--hardware", "h100", "--gpus", 8, "--seq-len", 8192, "--log", path,
                    "--log-column", "v", "--log-kind", kind, *extra, "--per-step")
    flops = Fraction(*map(int, str(data["flops_per_token"]["model"]).split("/"))) \
        if "/" in str(data["flops_per_token"]["model"]) else Fraction(int(data["flops_per_token"]["model"]))
    peak = Fraction(data["peak_flops_per_sec"]["per_device"])
    rates = [float(Fraction(64 * 8192) / Fraction(v)) if step_time else
             float(Fraction(v) * 8) if kind == "tokens-per-sec-per-device" else v for v in values]
    want = [float(Fraction(r) * flops / (8 * peak)) for r in rates]
    assert [s["tokens_per_sec"] for s in data["steps"]] == rates
    assert [s["mfu"] for s in data["steps"]] == want
    assert data["summary"]["mfu"] == logs.summarize(want)


def test_streamed_outputs_equal_the_whole_documents(tmp_path, monkeypatch):
    """JSON and text per step are written in pieces: the same text as from the whole dicts."""
    import mfu_sym
    from mfu_sym.peaks import choose_peak
    from mfu_sym.render import training
    path = _write(tmp_path, "t.jsonl", "".join(f'{{"tps": {1e5 + 7.3 * i}}}\n' for i in range(25)))
    model = mfu_sym.load(LLAMA)
    peak = choose_peak("h100", "bf16", False)
    series = logs.from_log(model, peak, 8, path, "tps", warmup=2, seq_len=8192)
    monkeypatch.setattr(logs.LogSeries, "step_rows", lambda self, size=4: logs_step_rows(self, size))
    assert "".join(series.json_chunks(True)) == json.dumps(series.to_dict(per_step=True), indent=2)
    assert "".join(series.json_chunks(False)) == json.dumps(series.to_dict(per_step=False), indent=2)
    text = training.log_series(series, "m", per_step=True)
    rows = text.splitlines()[-23:]
    assert [int(r.split()[0]) for r in rows] == [s["index"] for s in series.steps]


logs_step_rows = logs.LogSeries.step_rows
