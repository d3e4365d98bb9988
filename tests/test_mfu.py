"""MFU and HFU: published figures reproduced from their own inputs, the engine's exact
count checked against a hand derivation, the meter against the CLI, the peak rules
(dense by default, sparse said), warnings, log reading, and every error path.

Golden values come from shared/reference/published.md (PaLM App. B, nanoGPT's
transformer_sizing.ipynb), never from this engine's output."""

import json
import math
from pathlib import Path

import pytest
import sympy
from click.testing import CliRunner

import mfu_sym
from mfu_sym import logs, mfu
from mfu_sym.cli import main
from mfu_sym.errors import HardwareError, UsageError
from mfu_sym.hardware import load_hardware
from mfu_sym.peaks import choose_peak
from cli_helpers import run, run_json

REG = load_hardware()




def peak(name, dtype="bf16", sparse=False):
    return choose_peak(name, dtype, sparse)


# ------------------------------------------------------------------ published MFU figures

# PaLM (arXiv:2204.02311) App. B: 6N + 12LHQT per token; N = 540.35e9 (Table 1), L = 118,
# H = 48, Q = 256, T = 2048; 238.3K tokens/s on 6144 TPU v4 chips at 275 TFLOP/s.
PALM_N = 540_350_000_000
PALM_ATTENTION = 12 * 118 * 48 * 256 * 2048


def test_palm_appB_540b_peak_is_the_papers():
    assert peak("tpu-v4").flops == 275e12          # "TPU v4 peak used: 275 TFLOP/s per chip"


@pytest.mark.parametrize("flops_per_token, published", [
    (6 * PALM_N + PALM_ATTENTION, 46.2),           # with self-attention
    (6 * PALM_N, 45.7),                            # "45.7% without self-attention"
])
def test_palm_appB_540b_mfu(flops_per_token, published):
    value = mfu.utilization(238.3e3, sympy.Integer(flops_per_token), 6144, peak("tpu-v4").flops)
    assert round(100 * value, 1) == published


# MT-NLG 530B in PaLM App. B: 65.43K tokens/s (1920 x 2048 / 60.1) on 2240 A100 at 312
# TFLOP/s, N = 530e9; attention from Smith et al. 2022 (arXiv:2201.11990): 105 layers,
# 128 heads, d_model 20480 (Q = 160), T = 2048. The paper's 29.7% / 30.2% are truncated,
# not rounded: the arithmetic gives 29.77% and 30.27%.
MTNLG_ATTENTION = 12 * 105 * 128 * 160 * 2048


@pytest.mark.parametrize("tokens_per_sec", [65.43e3, 1920 * 2048 / 60.1])
@pytest.mark.parametrize("flops_per_token, published", [
    (6 * 530 * 10**9, 29.7),                       # without self-attention
    (6 * 530 * 10**9 + MTNLG_ATTENTION, 30.2),     # with it (PaLM Table 3)
])
def test_palm_appB_mtnlg_mfu(tokens_per_sec, flops_per_token, published):
    value = 100 * mfu.utilization(tokens_per_sec, flops_per_token, 2240, peak("a100").flops)
    assert published <= value < published + 0.1


# nanoGPT transformer_sizing.ipynb: GPT-2 124M, forward + backward 874,944,921,600 FLOPs
# per 1024-token sequence; batch 20 x 5 = 100 sequences in 0.755 s on one A100 (312 TFLOP/s):
# 37.14%. The PaLM formula's 875,062,886,400 would give 37.15%, so the notebook used the
# detailed count.
NANOGPT_SEQUENCE = 874_944_921_600


def test_nanogpt_notebook_mfu_arithmetic():
    tokens_per_sec = mfu.tokens_per_second(100, 1024, 0.755)
    detailed = mfu.utilization(tokens_per_sec, sympy.Rational(NANOGPT_SEQUENCE, 1024), 1, peak("a100").flops)
    palm = mfu.utilization(tokens_per_sec, sympy.Rational(875_062_886_400, 1024), 1, peak("a100").flops)
    assert round(100 * detailed, 2) == 37.14
    assert round(100 * palm, 2) == 37.15


def test_nanogpt_notebook_mfu_from_the_engine(example):
    """The engine's own count of nanoGPT's GPT-2 (full S^2 attention, as the notebook
    counts) reproduces the notebook's figure through the CLI."""
    data = run_json("mfu", example("gpt2_124m_nanogpt.yaml"), "--mask", "full", "--hardware", "a100",
                    "--step-time", 0.755, "--batch", 100, "--seq-len", 1024)
    assert sympy.Integer(data["flops_per_token"]["model"]) * 1024 == NANOGPT_SEQUENCE
    assert round(100 * data["mfu"], 2) == 37.14
    assert data["run"]["tokens_per_sec"] == pytest.approx(100 * 1024 / 0.755, rel=1e-15)
    assert data["warnings"] == []


def test_nanogpt_palm_preset_reaches_the_mfu_command(example):
    """The preset travels through the shared model options: PaLM's 6N + 12LHQT for the
    same run is 875,062,886,400 FLOPs a sequence (published.md A9), 37.15%."""
    data = run_json("mfu", example("gpt2_124m_nanogpt.yaml"), "--preset", "palm", "--hardware", "a100",
                    "--step-time", 0.755, "--batch", 100, "--seq-len", 1024)
    assert sympy.Integer(data["flops_per_token"]["model"]) * 1024 == 875_062_886_400
    assert round(100 * data["mfu"], 2) == 37.15


# ------------------------------------------------------------------ the exact convention

def llama3_8b_training_per_token(seq_len):
    """By hand: 6 x matmul parameters (Q, O: d x d; K, V: d x 1024 with 8 KV heads of 128;
    SwiGLU 3 x d x d_ff; untied LM head d x V), plus the causal attention core: the query at
    t costs 4 h d_h t forward, so the mean over t = 1..S is 2 h d_h (S + 1) per layer,
    x 3 for forward + backward (eager). arXiv:2407.21783 Table 3; V = 128,256."""
    d, layers, d_ff, vocab, kv = 4096, 32, 14336, 128256, 8 * 128
    matmul_params = layers * (2 * d * d + 2 * d * kv + 3 * d * d_ff) + d * vocab
    return 6 * matmul_params + 3 * 2 * d * layers * (seq_len + 1)


def test_llama3_8b_exact_mfu_on_h100(example):
    per_token = llama3_8b_training_per_token(8192)
    assert per_token == 51_471_187_968                 # README's per-token training figure
    data = run_json("mfu", example("llama3_8b.yaml"), "--hardware", "h100", "--gpus", 8,
                    "--tokens-per-sec", 100_000, "--seq-len", 8192)
    assert data["flops_per_token"]["model"] == per_token   # exact integer in JSON
    assert data["mfu"] == pytest.approx(100_000 * per_token / (8 * 989e12), rel=1e-14)
    assert data["hfu"] == data["mfu"]
    assert data["hfu_note"].startswith("HFU = MFU")
    assert data["hardware"]["kind"] == "dense" and data["hardware"]["sparse"] is False
    assert data["achieved_flops_per_sec"]["total"] == pytest.approx(100_000 * per_token, rel=1e-15)
    assert data["achieved_flops_per_sec"]["per_device"] == pytest.approx(100_000 * per_token / 8, rel=1e-15)
    assert data["conventions"]["mask"].startswith("causal")


def test_step_time_equals_its_throughput(example):
    by_time = run_json("mfu", example("llama3_8b.yaml"), "--hardware", "h100", "--gpus", 64,
                       "--step-time", 2.5, "--batch", 128, "--seq-len", 4096)
    by_rate = run_json("mfu", example("llama3_8b.yaml"), "--hardware", "h100", "--gpus", 64,
                       "--tokens-per-sec", 128 * 4096 / 2.5, "--seq-len", 4096)
    assert by_time["mfu"] == pytest.approx(by_rate["mfu"], rel=1e-15)
    assert by_time["mfu"] == pytest.approx(128 * 4096 / 2.5 * llama3_8b_training_per_token(4096) / (64 * 989e12),
                                           rel=1e-14)


def test_hfu_counts_recomputation(example):
    model = mfu_sym.load(example("llama3_8b.yaml"), recompute="selective")
    extra = model.evaluate(model.forward("attention_core"), seq_len=8192) / 8192
    data = run_json("mfu", example("llama3_8b.yaml"), "--recompute", "selective", "--hardware", "h100",
                    "--tokens-per-sec", 10_000)
    model_flops = llama3_8b_training_per_token(8192)  # by hand, above
    assert sympy.Integer(data["flops_per_token"]["hardware"]) == model_flops + extra
    assert data["hfu"] / data["mfu"] == pytest.approx(float((model_flops + extra) / model_flops), rel=1e-14)
    assert data["hfu_note"] is None


def test_hfu_note_says_why_hfu_equals_mfu():
    from types import SimpleNamespace
    model = lambda mode: SimpleNamespace(conventions=SimpleNamespace(recompute=mode))
    assert mfu.hfu_note(model("none"), 1, 1) == "HFU = MFU: no activation recomputation; see --recompute"
    assert "counts the full recomputation in its model FLOPs" in mfu.hfu_note(model("full"), 2, 2)
    assert mfu.hfu_note(model("full"), 1, 2) is None


def test_text_output_says_dense_peak_source_and_convention(example):
    result = run("mfu", example("llama3_8b.yaml"), "--hardware", "h100", "--gpus", 8, "--tokens-per-sec", 100_000)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "989 TFLOP/s per device: bf16 dense (without sparsity)" in out
    assert "nvidia.com/en-us/data-center/h100" in out      # the peak's source
    assert "51,471,187,968" in out and "mask: causal" in out
    assert "MFU              65.05%" in out
    assert "HFU              65.05%  (= MFU: no activation recomputation; see --recompute)" in out
    assert result.stderr == ""


# ------------------------------------------------------------------ peaks: dense, sparse

def test_b200_peaks_dense_and_sparse():
    assert peak("b200").flops == 2.25e15
    assert peak("b200", "fp8").flops == 4.5e15
    assert peak("b200", sparse=True).flops == 4.5e15
    assert peak("b200", "fp8", sparse=True).flops == 9e15
    assert [s.key for s in peak("b200").sources] == ["nv-gb200", "tt"]


def test_sparse_doubles_the_peak_and_says_so(example):
    args = ("mfu", example("llama3_8b.yaml"), "--hardware", "b200", "--gpus", 8, "--tokens-per-sec", 200_000)
    dense, sparse = run_json(*args), run_json(*args, "--sparse")
    assert dense["hardware"]["flops_per_device"] == 2.25e15
    assert sparse["hardware"]["flops_per_device"] == 4.5e15
    assert sparse["mfu"] == dense["mfu"] / 2
    assert sparse["hardware"]["kind"] == "sparse"
    assert any("SPARSE" in w for w in sparse["warnings"]) and dense["warnings"] == []
    text = run(*args, "--sparse")
    assert "4,500 TFLOP/s (4.5 PFLOP/s) per device: bf16 SPARSE" in text.stdout
    assert "2:4-SPARSE" in text.stderr
    assert "2,250 TFLOP/s (2.25 PFLOP/s) per device: bf16 dense" in run(*args).stdout


@pytest.mark.parametrize("hardware, dtype, sparse, phrase", [
    ("b200", "fp8", False, "the fp8 peak (4,500 TFLOP/s, 2 x the bf16 peak)"),
    ("b200", "fp4", False, "the fp4 peak (9,000 TFLOP/s, 4 x the bf16 peak)"),
    ("h100", "int8", False, "integer operations"),
    ("h100", "fp32", False, "non-tensor (vector) rate"),
    ("h100", "bf16", True, "2:4-SPARSE"),
    ("a100-40gb", "bf16", False, "unconfirmed"),
])
def test_suspicious_peak_pairings_warn(example, hardware, dtype, sparse, phrase):
    args = ["mfu", example("llama3_8b.yaml"), "--hardware", hardware, "--dtype", dtype, "--tokens-per-sec", 1000]
    data = run_json(*args, *(["--sparse"] if sparse else []))
    assert any(phrase in w for w in data["warnings"]), data["warnings"]


def test_mfu_above_100_percent_warns(example):
    data = run_json("mfu", example("llama3_8b.yaml"), "--hardware", "h100", "--tokens-per-sec", 1e6)
    assert data["mfu"] > 1
    assert any("exceeds 100%" in w and "double-counted" in w for w in data["warnings"])
    text = run("mfu", example("llama3_8b.yaml"), "--hardware", "h100", "--tokens-per-sec", 1e6)
    assert text.exit_code == 0 and "warning: MFU" in text.stderr


def test_implausibly_low_mfu_warns(example):
    data = run_json("mfu", example("llama3_8b.yaml"), "--hardware", "h100", "--gpus", 1024, "--tokens-per-sec", 1000)
    assert any("below 1%" in w for w in data["warnings"])


# ------------------------------------------------------------------ the meter

def test_meter_agrees_with_the_cli(example):
    data = run_json("mfu", example("llama3_8b.yaml"), "--hardware", "h100", "--gpus", 8,
                    "--tokens-per-sec", 123_456, "--seq-len", 4096)
    meter = mfu_sym.MFUMeter(example("llama3_8b.yaml"), hardware="h100", dtype="bf16", gpus=8, seq_len=4096)
    assert meter.update(tokens=123_456 * 3, seconds=3.0) == pytest.approx(data["mfu"], rel=1e-13)
    assert meter.last_hfu == meter.last


def test_meter_at_other_sequence_lengths_agrees_with_the_cli(example):
    """Gemma 3 1B mixes sliding-window and full layers: the compiled per-token function
    (a Piecewise in seq_len) must equal the exact count at lengths below and above W."""
    meter = mfu_sym.MFUMeter(mfu_sym.load(example("gemma3_1b.yaml"), recompute="full"), hardware="h100", gpus=2)
    for seq_len in (256, 4096):
        data = run_json("mfu", example("gemma3_1b.yaml"), "--recompute", "full", "--hardware", "h100",
                        "--gpus", 2, "--tokens-per-sec", 50_000, "--seq-len", seq_len)
        assert meter.update(tokens=50_000, seconds=1, seq_len=seq_len) == pytest.approx(data["mfu"], rel=1e-13)
        assert meter.last_hfu == pytest.approx(data["hfu"], rel=1e-13)


def test_meter_smoothing_and_reset(example):
    meter = mfu_sym.MFUMeter(example("gpt2_124m.yaml"), hardware="a100", smoothing=0.5)
    first = meter.update(tokens=1000, seconds=1)
    second = meter.update(tokens=3000, seconds=1)
    assert second == pytest.approx(3 * first, rel=1e-15)
    assert meter.smoothed == pytest.approx(0.5 * first + 0.5 * second, rel=1e-15)
    assert meter.last == second and meter.steps == 2
    meter.reset()
    assert meter.last is None and meter.smoothed is None and meter.steps == 0


def test_meter_does_no_symbolic_work_per_update(example, monkeypatch):
    meter = mfu_sym.MFUMeter(example("llama3_8b.yaml"), hardware="h100", gpus=8)
    meter.flops_per_token_at(2048)                     # compiled once, then cached
    import sympy as sp
    monkeypatch.setattr(sp.Expr, "subs", lambda *a, **k: pytest.fail("sympy used in update"))
    monkeypatch.setattr(sp.Basic, "xreplace", lambda *a, **k: pytest.fail("sympy used in update"))
    meter.update(tokens=1e5, seconds=1.0)
    meter.update(tokens=1e5, seconds=1.0, seq_len=2048)


@pytest.mark.parametrize("tokens, seconds", [(0, 1), (100, 0), (-1, 1), (100, float("nan")), (float("inf"), 1)])
def test_meter_rejects_bad_steps(example, tokens, seconds):
    meter = mfu_sym.MFUMeter(example("gpt2_124m.yaml"), hardware="a100")
    with pytest.raises(UsageError):
        meter.update(tokens=tokens, seconds=seconds)


@pytest.mark.parametrize("kwargs, error", [
    ({"gpus": 0}, UsageError), ({"smoothing": 1.0}, UsageError), ({"hardware": "nope"}, HardwareError),
    ({"dtype": "fp8", "hardware": "a100"}, HardwareError),
])
def test_meter_rejects_bad_settings(example, kwargs, error):
    settings = {"hardware": "h100", **kwargs}
    with pytest.raises(error):
        mfu_sym.MFUMeter(example("gpt2_124m.yaml"), **settings)


# ------------------------------------------------------------------ library checks

@pytest.mark.parametrize("args", [(0, 1, 1, 1), (1, 0, 1, 1), (1, 1, 0, 1), (1, 1, 1.5, 1), (1, 1, 1, -1),
                                  (float("nan"), 1, 1, 1), (1, 1, True, 1)])
def test_utilization_rejects_non_positive(args):
    with pytest.raises(UsageError):
        mfu.utilization(*args)


def test_measure_needs_one_throughput_and_a_batch_for_step_time(example):
    model = mfu_sym.load(example("gpt2_124m.yaml"))
    with pytest.raises(UsageError):
        mfu.measure(model, peak("a100"))
    with pytest.raises(UsageError):
        mfu.measure(model, peak("a100"), tokens_per_sec=1, step_time=1)
    with pytest.raises(UsageError, match="batch"):
        mfu.measure(model, peak("a100"), step_time=1.0)


# ------------------------------------------------------------------ CLI errors

@pytest.mark.parametrize("args, message", [
    (["--hardware", "h200x"], "unknown accelerator 'h200x'"),
    (["--hardware", "h10"], "ambiguous accelerator"),
    (["--hardware", "tpu-v4", "--dtype", "fp8"], "has no fp8 peak (expected one of its dtypes: bf16, int8)"),
    (["--hardware", "a100", "--dtype", "fp8"], "has no fp8 peak"),
    (["--hardware", "h100", "--dtype", "fp12"], "unknown dtype 'fp12'"),
    (["--hardware", "h800", "--sparse"], "has no sparse bf16 figure"),
])
def test_bad_hardware_is_a_data_error(example, args, message):
    result = run("mfu", example("gpt2_124m.yaml"), *args, "--tokens-per-sec", 1000)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    if "unknown accelerator" in message:
        assert "b200" in result.output and "tpu-v5p" in result.output   # lists the choices


@pytest.mark.parametrize("args", [
    ["--tokens-per-sec", 0], ["--tokens-per-sec", -5], ["--tokens-per-sec", "nan"], ["--tokens-per-sec", "inf"],
    ["--tokens-per-sec", "fast"], ["--step-time", 0, "--batch", 8], ["--step-time", -1, "--batch", 8],
    ["--tokens-per-sec", 10, "--gpus", 0], ["--tokens-per-sec", 10, "--gpus", -8],
    ["--step-time", 1, "--batch", 0], ["--tokens-per-sec", 10, "--seq-len", 0],
    [],                                                   # no throughput
    ["--tokens-per-sec", 10, "--step-time", 1, "--batch", 1],   # two throughputs
    ["--step-time", 1],                                   # step time without a batch
    ["--log", "x.jsonl"],                                 # a log without its column
    ["--tokens-per-sec", 10, "--log-column", "x"],        # a column without a log
    ["--log", "x.csv", "--log-column", "t", "--log-kind", "step-time"],  # no batch
    ["--log", "x.csv", "--log-column", "t", "--warmup", -1],
])
def test_bad_usage_is_exit_2(example, args):
    result = run("mfu", example("gpt2_124m.yaml"), "--hardware", "h100", *args)
    assert result.exit_code == 2, result.output


def test_model_without_sequence_length_is_an_error(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("d_model: 64\nn_layers: 2\nn_heads: 4\nd_ff: 256\nvocab_size: 100\n")
    result = run("mfu", path, "--hardware", "h100", "--tokens-per-sec", 10)
    assert result.exit_code == 1 and "seq_len" in result.output


# ------------------------------------------------------------------ logs

def _c(seq_len, gpus=8):
    """MFU per (global token/s) of Llama-3-8B on H100, by hand."""
    return llama3_8b_training_per_token(seq_len) / (gpus * 989e12)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_jsonl_log_per_step_and_summary(example, tmp_path):
    lines = ['{"step": 0, "tokens_per_sec": 1}', '{"step": 0, "tokens_per_sec": 2}']      # warm-up
    lines += [f'{{"step": {i}, "tokens_per_sec": {10_000 * i}}}' for i in range(1, 12)]   # 10k .. 110k
    lines.insert(5, '{"eval_loss": 2.5}')          # an evaluation record without the key
    lines.insert(7, "")                            # blank lines are ignored
    path = write(tmp_path, "train.jsonl", "\n".join(lines) + "\n")
    data = run_json("mfu", example("llama3_8b.yaml"), "--hardware", "h100", "--gpus", 8, "--seq-len", 8192,
                    "--log", path, "--log-column", "tokens_per_sec", "--warmup", 2, "--per-step")
    c = _c(8192)
    assert [s["value"] for s in data["steps"]] == [10_000 * i for i in range(1, 12)]
    assert all(s["mfu"] == pytest.approx(s["value"] * c, rel=1e-14) for s in data["steps"])
    summary = data["summary"]["mfu"]
    # 11 evenly spaced values: median 60k, p10 20k, p90 100k (linear interpolation), mean 60k
    for key, value in (("median", 60_000), ("p10", 20_000), ("p90", 100_000), ("mean", 60_000),
                       ("min", 10_000), ("max", 110_000)):
        assert summary[key] == pytest.approx(value * c, rel=1e-12), key
    assert summary["steps"] == 11
    log = data["log"]
    assert (log["records"], log["warmup_excluded"], log["steps_used"], log["skipped_without_value"]) == (13, 2, 11, 1)
    assert data["steps"][0]["line"] == 3
    assert any("skipped" in w for w in data["warnings"])


def test_csv_step_time_log(example, tmp_path):
    path = write(tmp_path, "train.csv", "step,step_time,loss\n1,10.0,3.1\n2,2.0,3.0\n3,4.0,2.9\n\n4,,2.8\n")
    data = run_json("mfu", example("llama3_8b.yaml"), "--hardware", "h100", "--gpus", 8, "--seq-len", 8192,
                    "--log", path, "--log-column", "step_time", "--log-kind", "step-time", "--batch", 16,
                    "--warmup", 1, "--per-step")
    c = _c(8192)
    assert [s["tokens_per_sec"] for s in data["steps"]] == [16 * 8192 / 2.0, 16 * 8192 / 4.0]
    assert [s["line"] for s in data["steps"]] == [3, 4]
    assert data["summary"]["mfu"]["median"] == pytest.approx((16 * 8192 / 2.0 + 16 * 8192 / 4.0) / 2 * c, rel=1e-12)
    assert data["log"]["skipped_without_value"] == 1


@pytest.mark.parametrize("name, text", [
    ("train.json", '[{"tps": 100}, {"tps": 200}]'),
    ("train.json", '{"tps": 100}\n{"tps": 200}\n'),
    ("train.tsv", "tps\tloss\n100\t1\n200\t1\n"),
    ("train.ndjson", '{"tps": "100"}\n{"tps": 200.0}\n'),
])
def test_log_formats(example, tmp_path, name, text):
    path = write(tmp_path, name, text)
    data = run_json("mfu", example("gpt2_124m.yaml"), "--hardware", "a100", "--log", path, "--log-column", "tps",
                    "--per-step")
    assert [s["value"] for s in data["steps"]] == [100, 200]
    summary = run_json("mfu", example("gpt2_124m.yaml"), "--hardware", "a100", "--log", path, "--log-column", "tps")
    assert "steps" not in summary and summary["summary"]["tokens_per_sec"]["mean"] == 150


def test_log_text_output(example, tmp_path):
    path = write(tmp_path, "t.jsonl", '{"tps": 100000}\n{"tps": 120000}\n{"tps": 110000}\n')
    result = run("mfu", example("gpt2_124m.yaml"), "--hardware", "a100", "--log", path, "--log-column", "tps",
                 "--per-step")
    assert result.exit_code == 0, result.output
    assert "median" in result.stdout and "p10" in result.stdout and "p90" in result.stdout
    assert "110,000" in result.stdout                    # the median throughput
    assert result.stdout.count("%") >= 3 * 2 + 6 * 2     # summary rows and per-step rows


def test_log_step_above_100_percent_warns(example, tmp_path):
    path = write(tmp_path, "t.jsonl", '{"tps": 1000}\n{"tps": 1e9}\n')
    data = run_json("mfu", example("gpt2_124m.yaml"), "--hardware", "a100", "--log", path, "--log-column", "tps")
    assert any("1 of 2 steps have MFU above 100% (first: line 2" in w for w in data["warnings"])


@pytest.mark.parametrize("name, text, column, extra, message", [
    ("t.csv", "step,loss\n1,2\n", "tokens_per_sec", [], "tokens_per_sec: no such column (the log has: step, loss)"),
    ("t.jsonl", '{"step": 1, "loss": 2}\n', "tps", [], "tps: no such column (the log has: step, loss)"),
    ("t.jsonl", '{"tps": 100}\n{"tps": "fast"}\n', "tps", [], "line 2: tps is 'fast', not a number"),
    ("t.jsonl", '{"tps": 100}\n{"tps": true}\n', "tps", [], "line 2: tps is True, not a number"),
    ("t.csv", "tps\n100\n-5\n", "tps", [], "line 3: tps is '-5' (expected a positive finite number)"),
    ("t.csv", "tps\n0\n", "tps", [], "line 2: tps is '0' (expected a positive finite number)"),
    ("t.csv", "tps\nnan\n", "tps", [], "line 2: tps is 'nan'"),
    ("t.jsonl", "", "tps", [], "empty log"),
    ("t.csv", "", "tps", [], "empty log"),
    ("t.csv", "tps\n", "tps", [], "empty log"),
    ("t.csv", "tps,loss\n,1\n,2\n", "tps", [], "every record leaves 'tps' empty"),
    ("t.csv", "tps\n1\n2\n", "tps", ["--warmup", 2], "all 2 steps are in the warm-up"),
    ("t.jsonl", '{"tps": 1}\n{"tps": 2\n', "tps", [], "line 2: invalid JSON"),
    ("t.jsonl", '{"tps": 1}\n[1, 2]\n', "tps", [], "line 2: expected a JSON object per line"),
    ("t.json", '[{"tps": 1}, 3]', "tps", [], "record 2: expected a JSON object per step"),
    ("t.csv", "tps\n1,2\n", "tps", [], "line 2: 2 fields but the header names 1"),
    ("t.txt", "tps\n1\n", "tps", [], "unknown log format '.txt'"),
])
def test_bad_logs_are_data_errors(example, tmp_path, name, text, column, extra, message):
    path = write(tmp_path, name, text)
    result = run("mfu", example("gpt2_124m.yaml"), "--hardware", "a100", "--log", path, "--log-column", column, *extra)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output


def test_missing_log_file(example, tmp_path):
    result = run("mfu", example("gpt2_124m.yaml"), "--hardware", "a100", "--log", tmp_path / "none.jsonl",
                 "--log-column", "tps")
    assert result.exit_code == 1 and "none.jsonl: no such file" in result.output


def test_non_utf8_log(example, tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"tps\n\xff\xfe\n")
    result = run("mfu", example("gpt2_124m.yaml"), "--hardware", "a100", "--log", path, "--log-column", "tps")
    assert result.exit_code == 1 and "not UTF-8 text" in result.output


def test_summary_of_one_value():
    assert logs.summarize([0.5]) == {"median": 0.5, "p10": 0.5, "p90": 0.5, "mean": 0.5, "min": 0.5, "max": 0.5,
                                    "steps": 1}
    assert math.isclose(logs.summarize([1, 2, 3, 4])["p10"], 1.3)      # numpy.percentile([1,2,3,4], 10)


def test_palm_540b_app_b_mfu_from_a_config():
    """PaLM App. B: 238.3K tokens/s on 6144 TPU v4 (275 TFLOP/s) with 6N + 12LHQT gives
    46.2% (arXiv:2204.02311). Run through the CLI on a config of PaLM 540B's sizes."""
    config = Path(__file__).resolve().parent.parent / "examples" / "hf" / "palm_540b" / "config.json"
    result = CliRunner().invoke(main, ["mfu", str(config), "--preset", "palm", "--hardware", "tpu-v4",
                                       "--gpus", "6144", "--tokens-per-sec", "238300", "--seq-len", "2048",
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert round(100 * float(data["mfu"]), 1) == 46.2


def test_meter_warns_as_the_cli_does(example):
    from mfu_sym.mfu import MFUWarning
    with pytest.warns(MFUWarning, match="2:4-SPARSE"):
        sparse = mfu_sym.MFUMeter(example("llama3_8b.yaml"), hardware="h100", gpus=8, seq_len=8192, sparse=True)
    assert len(sparse.warnings) == 1
    meter = mfu_sym.MFUMeter(example("llama3_8b.yaml"), hardware="h100", gpus=8, seq_len=8192)
    with pytest.warns(MFUWarning, match="step 1: MFU .* exceeds 100%"):
        meter.update(tokens=8192 * 1000, seconds=1.0)  # 8.2M tokens/s on 8 H100s: impossible
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        meter.update(tokens=8192 * 1000, seconds=1.0)  # the same kind is given once
        meter.update(tokens=60_000, seconds=1.0)       # a plausible step: silent
    with pytest.warns(MFUWarning, match="step 4: MFU .* is below 1%"):
        meter.update(tokens=100, seconds=1.0)
    assert len(meter.warnings) == 2
