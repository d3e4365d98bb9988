"""Plots: the numbers behind them (exact, testable without matplotlib), and the figures
(written, non-empty, labelled, the crossover marked) where matplotlib is installed."""

import sys
from pathlib import Path

import pytest
import sympy
from click.testing import CliRunner

import mfu_sym
from mfu_sym import plot
from mfu_sym.cli import main
from optional import require

run = lambda *args: CliRunner().invoke(main, [str(a) for a in args])
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LLAMA = EXAMPLES / "llama3_8b.yaml"


@pytest.fixture(scope="module")
def llama():
    return mfu_sym.load(LLAMA)


@pytest.fixture(scope="module")
def llama_series(llama):
    return plot.breakdown_series(llama)


def test_llama_attention_share_grows_with_seq_len(llama, llama_series):
    series = llama_series
    assert series.seq_lens[0] == 128 and series.seq_lens[-1] == 131072
    assert list(series.seq_lens) == sorted(set(series.seq_lens))
    core, mlp = series.share("attention_core"), series.share("mlp")
    assert all(a < b for a, b in zip(core, core[1:]))
    assert all(a > b for a, b in zip(mlp, mlp[1:]))
    assert core[0] < 0.01 and core[-1] > 0.6
    # the crossover of the model's mask (causal), exact, where the curves cross
    assert series.mask == "causal" and series.crossover["exact"] == 43007
    i = next(k for k, n in enumerate(series.seq_lens) if n > 43007)
    assert core[i - 1] < mlp[i - 1] and core[i] > mlp[i]


def test_series_is_the_engines_per_token_count(llama, llama_series):
    i = llama_series.seq_lens.index(8192)
    report = llama.report(seq_len=8192)
    assert llama_series.total[i] == report["flops"]["per_token"]["training"]
    for name, values in llama_series.per_token.items():
        assert values[i] == llama.evaluate(llama.training(name), seq_len=8192) / 8192
        assert all(isinstance(v, sympy.Rational) for v in values)


def test_range_and_presets(llama):
    series = plot.breakdown_series(llama, seq_range=(1000, 5000), per_octave=2)
    assert series.seq_lens[0] == 1000 and series.seq_lens[-1] == 5000
    assert plot.breakdown_series(mfu_sym.load(LLAMA, preset="6n")).crossover is None  # no attention term
    full = plot.breakdown_series(mfu_sym.load(LLAMA, mask="full"), seq_range=(128, 1024))
    assert full.mask == "full" and full.crossover["exact"] == 21504


def test_default_range_reaches_the_models_context(llama):
    assert plot.default_range(llama) == (128, 131072)
    assert plot.default_range(mfu_sym.load(EXAMPLES / "hf" / "llama3_405b" / "config.json"))[1] == 131072


@pytest.mark.parametrize("low, high", [(0, 10), (100, 100), (200, 100), (1.5, 10)])
def test_bad_ranges(low, high):
    with pytest.raises(mfu_sym.UsageError):
        plot.seq_lengths(low, high)


def test_mfu_series(llama):
    series = plot.mfu_series(llama, "h100", gpus=8, seq_len=8192, compare=["palm"], marks=[60_000])
    first = series.lines[0]
    assert first.flops_per_token == llama.report(seq_len=8192)["flops"]["per_token"]["training"]
    assert series.utilization(first, series.full_throughput) == pytest.approx(1.0)
    assert [line.label.split(",")[0] for line in series.lines] == ["MFU", "MFU"]
    assert series.marks[0][1] == pytest.approx(60_000 * float(first.flops_per_token) / (8 * 989e12))
    recompute = plot.mfu_series(mfu_sym.load(LLAMA, recompute="full"), "h100", seq_len=8192)
    assert [line.hardware for line in recompute.lines] == [False, True]


# ---- figures -----------------------------------------------------------------------

MAGIC = {".png": b"\x89PNG", ".pdf": b"%PDF", ".svg": b"<svg"}


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
@pytest.mark.parametrize("kind", ["breakdown", "mfu"])
def test_cli_writes_a_figure(tmp_path, suffix, kind):
    require("matplotlib")
    out = tmp_path / f"figure{suffix}"
    extra = ["--hardware", "h100", "--gpus", "8", "--compare", "palm", "--tokens-per-sec", "60000"] \
        if kind == "mfu" else ["--seq-range", "128", "65536"]
    result = run("plot", LLAMA, "--kind", kind, "-o", out, *extra)
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert len(data) > 5000 and MAGIC[suffix] in data[:400]


def test_breakdown_figure_is_labelled_and_marks_the_crossover(llama, llama_series):
    require("matplotlib")
    fig = plot.breakdown(llama, series=llama_series)
    top, bottom = fig.axes[:2]
    assert "Llama-3-8B" in top.get_title() and "preset exact" in top.get_title() and "mask causal" in top.get_title()
    assert "FLOPs per token (GFLOP)" in top.get_ylabel() and "%" in bottom.get_ylabel()
    assert "sequence length" in bottom.get_xlabel() and "tokens" in bottom.get_xlabel()
    assert top.get_xscale() == "log"
    assert [t.get_text() for t in top.get_legend().get_texts()] == list(llama_series.per_token)
    vertical = [line for line in top.lines if list(line.get_xdata()) == [43007, 43007]]
    assert vertical, "the crossover is marked by a vertical line"
    assert any("43,007" in text.get_text() for text in top.texts)


def test_mfu_figure_is_labelled(llama):
    require("matplotlib")
    fig = plot.mfu(llama, "h100", gpus=8, seq_len=8192, compare=["6n"])
    ax = fig.axes[0]
    assert "tokens/s" in ax.get_xlabel() and "%" in ax.get_ylabel()
    assert "Llama-3-8B" in ax.get_title() and "H100" in ax.get_title() and "bf16 dense" in ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("MFU, preset exact, mask causal") and labels[1] == "MFU, preset 6n"


def test_cli_usage_errors(tmp_path):
    path = LLAMA
    assert run("plot", path, "-o", tmp_path / "x.txt").exit_code == 2
    assert run("plot", path, "--kind", "mfu", "-o", tmp_path / "x.png").exit_code == 2
    assert run("plot", path, "--seq-range", 1000, 100, "-o", tmp_path / "x.png").exit_code == 2
    assert run("plot", path).exit_code == 2  # -o is required


def test_cli_unknown_hardware(tmp_path):
    require("matplotlib")
    result = run("plot", LLAMA, "--kind", "mfu", "--hardware", "no-such-gpu", "-o", tmp_path / "x.png")
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "Traceback" not in result.output


def test_missing_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    result = run("plot", LLAMA, "-o", tmp_path / "x.png")
    assert result.exit_code == 1
    assert "matplotlib is not installed" in result.output and "pip install 'mfu-sym[plot]'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.png").exists()


def test_a_name_with_dollar_signs_is_drawn_as_text(tmp_path):
    """matplotlib reads $...$ as math: a model name from a file must not be parsed."""
    require("matplotlib")
    path = tmp_path / "m.yaml"
    path.write_text('name: "$\\\\frac{x$ $\\\\undefinedcmd$"\nd_model: 64\nn_layers: 2\nn_heads: 4\nd_ff: 128\n'
                    "vocab_size: 100\nseq_len: 8\n")
    for args in (["--kind", "breakdown"], ["--kind", "mfu", "--hardware", "h100"]):
        result = CliRunner().invoke(main, ["plot", str(path), *args, "-o", str(tmp_path / "p.png")])
        assert result.exit_code == 0, result.output
        assert (tmp_path / "p.png").stat().st_size > 1000
