"""`--quiet` (one line for mfu and derive), per-device throughput (--tokens-per-sec-per-device
and the log kind), and the conventions block listing only the switches that apply."""

import json
from fractions import Fraction
from pathlib import Path

import pytest

from mfu_sym import logs, mfu
from mfu_sym.hardware import load_hardware
from mfu_sym.loader import load
from mfu_sym.peaks import choose_peak
from cli_helpers import run, run_json

ROOT = Path(__file__).resolve().parents[1]
LLAMA = ROOT / "examples" / "llama3_8b.yaml"
DEEPSEEK = ROOT / "examples" / "deepseek_v3.yaml"
BASE = (LLAMA, "--hardware", "h100", "--gpus", "8")


def one_line(result):
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    return lines[0]


# ------------------------------------------------------------------ mfu --quiet

def test_mfu_quiet_one_throughput():
    data = run_json("mfu", *BASE, "--tokens-per-sec", 60000)
    line = one_line(run("mfu", *BASE, "--tokens-per-sec", 60000, "--quiet"))
    expected = (f"{data['model']}, seq_len {data['run']['seq_len']:,}, preset {data['conventions']['preset']}: "
                f"MFU {data['mfu'] * 100:.2f}% (HFU {data['hfu'] * 100:.2f}%)")
    assert line == expected
    assert line.startswith("Llama-3-8B, seq_len 8,192, preset exact: MFU ")
    assert run("mfu", *BASE, "--tokens-per-sec", 60000, "-q").stdout.strip() == expected


def test_mfu_quiet_log(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"tps": v}) + "\n" for v in (1000, 60000, 62000, 58000, 61000)))
    data = run_json("mfu", *BASE, "--log", path, "--log-column", "tps", "--warmup", 1)
    line = one_line(run("mfu", *BASE, "--log", path, "--log-column", "tps", "--warmup", 1, "--quiet"))
    summary = data["summary"]
    assert line == (f"Llama-3-8B, seq_len 8,192, preset exact: median MFU {summary['mfu']['median'] * 100:.2f}% "
                    f"(HFU {summary['hfu']['median'] * 100:.2f}%) over 4 steps")


def test_mfu_quiet_keeps_warnings_on_stderr():
    result = run("mfu", *BASE, "--tokens-per-sec", 10, "--quiet")
    one_line(result)
    assert "warning: MFU" in result.stderr and "below 1%" in result.stderr


@pytest.mark.parametrize("extra", [("--format", "json"), ("--per-step",)])
def test_mfu_quiet_refusals(extra, tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"tps": 60000}\n')
    result = run("mfu", *BASE, "--log", path, "--log-column", "tps", "--quiet", *extra)
    assert result.exit_code == 2 and "--quiet" in result.output


# ------------------------------------------------------------------ derive --quiet

def test_derive_quiet():
    data = run_json("derive", LLAMA)
    line = one_line(run("derive", LLAMA, "--quiet"))
    from mfu_sym.render.units import flops, grouped
    token = int(data["flops"]["per_token"]["training"])
    step = int(data["flops"]["training"])
    assert line == (f"Llama-3-8B, seq_len 8,192, preset exact: training FLOPs {grouped(token)} per token "
                    f"({flops(token)}), {grouped(step)} per step of batch 1 ({flops(step)})")
    assert line == ("Llama-3-8B, seq_len 8,192, preset exact: training FLOPs 51,471,187,968 per token "
                    "(51.47 GFLOP), 421,651,971,833,856 per step of batch 1 (421.7 TFLOP)")


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_derive_quiet_is_text_only(fmt):
    result = run("derive", LLAMA, "--quiet", "--format", fmt)
    assert result.exit_code == 2 and "--quiet applies to the text output" in result.output


# ------------------------------------------------------------------ per-device throughput

def test_per_device_equals_global_times_gpus():
    glob = run_json("mfu", *BASE, "--tokens-per-sec", 60000)
    each = run_json("mfu", *BASE, "--tokens-per-sec-per-device", 7500)
    assert each["mfu"] == glob["mfu"] and each["hfu"] == glob["hfu"]
    assert each["run"]["tokens_per_sec"] == 60000
    assert each["run"]["input"] == "tokens_per_sec_per_device" and glob["run"]["input"] == "tokens_per_sec"
    text = run("mfu", *BASE, "--tokens-per-sec-per-device", 7500)
    assert "7,500 tokens/s per device (given), 60,000 in total (x 8 devices)" in text.stdout
    assert "60,000 tokens/s in total (given), 7,500 per device" in run("mfu", *BASE, "--tokens-per-sec", 60000).stdout


def test_per_device_exact_before_rounding():
    model = load(LLAMA)
    peak = choose_peak("h100", "bf16", False, registry=load_hardware(root=model.library.root))
    x = 1234.5678901234567  # a float measurement: global = x * 7 exactly, then one rounding
    m = mfu.measure(model, peak, 7, tokens_per_sec_per_device=x)
    flops, _, _ = mfu.per_token(model)
    assert m.mfu == float(Fraction(x) * 7 * mfu.fraction(flops) / (7 * mfu.fraction(peak.flops)))
    assert m.given == "tokens_per_sec_per_device"


def test_two_throughputs_refused():
    for extra in (("--tokens-per-sec", 60000), ("--step-time", 1, "--batch", 8)):
        result = run("mfu", *BASE, "--tokens-per-sec-per-device", 7500, *extra)
        assert result.exit_code == 2 and "give exactly one of" in result.output
    with pytest.raises(Exception, match="exactly one"):
        model = load(LLAMA)
        peak = choose_peak("h100", "bf16", False, registry=load_hardware(root=model.library.root))
        mfu.measure(model, peak, 8, tokens_per_sec=1.0, tokens_per_sec_per_device=1.0)


def test_log_kind_per_device(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps({"each": v}) + "\n" for v in (7000, 7500, 8000)))
    glob = tmp_path / "g.jsonl"
    glob.write_text("".join(json.dumps({"all": v * 8}) + "\n" for v in (7000, 7500, 8000)))
    each = run_json("mfu", *BASE, "--log", path, "--log-column", "each", "--log-kind", "tokens-per-sec-per-device",
                    "--per-step")
    total = run_json("mfu", *BASE, "--log", glob, "--log-column", "all", "--per-step")
    assert each["log"]["kind"] == "tokens-per-sec-per-device"
    assert [s["tokens_per_sec"] for s in each["steps"]] == [56000, 60000, 64000]
    for a, b in zip(each["steps"], total["steps"]):
        assert a["mfu"] == pytest.approx(b["mfu"], rel=1e-15)
    assert each["summary"]["mfu"]["median"] == pytest.approx(total["summary"]["mfu"]["median"], rel=1e-15)
    text = run("mfu", *BASE, "--log", path, "--log-column", "each", "--log-kind", "tokens-per-sec-per-device")
    assert "one device's tokens/s, x 8 devices" in text.stdout
    assert logs.LOG_KINDS == ("tokens-per-sec", "tokens-per-sec-per-device", "step-time")


def test_log_kind_needs_log():
    result = run("mfu", *BASE, "--tokens-per-sec", 60000, "--log-kind", "tokens-per-sec-per-device")
    assert result.exit_code == 2 and "apply only with --log" in result.output


# ------------------------------------------------------------------ conventions that apply

def test_dense_model_has_no_mla_or_mtp_lines():
    text = run("mfu", *BASE, "--tokens-per-sec", 60000).stdout
    assert "counted under" in text and "recompute: none" in text
    assert "mla:" not in text and "mtp:" not in text
    data = run_json("mfu", *BASE, "--tokens-per-sec", 60000)  # JSON stays complete
    assert "mla" in data["conventions"] and "mtp" in data["conventions"]["explained"]


def test_deepseek_v3_has_mla_and_mtp_lines(tmp_path):
    text = run("mfu", DEEPSEEK, "--hardware", "h100", "--gpus", 8, "--tokens-per-sec", 60000).stdout
    assert "mla: " in text and "mtp: " in text
    path = tmp_path / "t.jsonl"
    path.write_text('{"tps": 60000}\n')
    dense = run("mfu", *BASE, "--log", path, "--log-column", "tps").stdout
    assert "mla:" not in dense and "mtp:" not in dense
    moe = run("mfu", DEEPSEEK, "--hardware", "h100", "--gpus", 8, "--log", path, "--log-column", "tps").stdout
    assert "mla: " in moe and "mtp: " in moe


def test_budget_lists_only_the_switches_that_apply():
    dense = run("budget", LLAMA, "--tokens", "1e12")
    assert dense.exit_code == 0, dense.output
    assert "recompute: none" in dense.stdout and "mla:" not in dense.stdout and "mtp:" not in dense.stdout
    moe = run("budget", DEEPSEEK, "--tokens", "1e12").stdout
    assert "mla: " in moe and "mtp: " in moe
