"""Planning: exact token and FLOP budgets, whole steps, time at an assumed MFU, and the
Chinchilla allocation that sympy derives, checked against Hoffmann et al.'s closed form
and against a numerical minimization written here.

Goldens: Llama 3 405B's 3.8e25 FLOPs for 15.6T tokens (arXiv:2407.21783, via
shared/reference/published.md A5) and nanoGPT's 3.46 days for 300B tokens on 8 A100 at
30% MFU (published.md A9)."""

import json
import math

import pytest
import sympy
import yaml

import mfu_sym
from mfu_sym import data, planning
from mfu_sym.errors import FormulaError, UsageError
from mfu_sym.peaks import choose_peak
from cli_helpers import run, run_json




# ------------------------------------------------------------------ exact inputs

@pytest.mark.parametrize("text, expected", [
    ("15.6e12", 15_600_000_000_000), ("3.8E25", 38 * 10**24), ("1_000", 1000), (" 42 ", 42),
    (1e30, 10**30), (15.6e12, 15_600_000_000_000), ("2.5", sympy.Rational(5, 2)), (7, 7),
    (sympy.Rational(1, 3), sympy.Rational(1, 3)),
])
def test_exact_number(text, expected):
    value = planning.exact_number(text, "tokens")
    assert value == expected and isinstance(value, sympy.Rational)


@pytest.mark.parametrize("text", ["abc", "nan", "inf", "-inf", "0", "-1", "0e5", True, "", "1e", "1e999999999",
                                  "1e-999999999"])
def test_exact_number_rejects(text):
    with pytest.raises(UsageError):
        planning.exact_number(text, "tokens")


def test_ceil_div():
    assert planning.ceil_div(10, 5) == 2 and planning.ceil_div(11, 5) == 3
    assert planning.ceil_div(sympy.Rational(9, 2), sympy.Rational(3, 2)) == 3


# ------------------------------------------------------------------ token budgets

def test_llama3_405b_budget_is_3_8e25(example):
    """Llama 3 (arXiv:2407.21783 §3.2.1): 3.8e25 FLOPs for 15.6T tokens, i.e. 6 N D with
    N = 405B. The engine's exact count (causal attention at 8192) is printed beside it."""
    data = run_json("budget", example("llama3_405b.yaml"), "--tokens", "15.6e12")
    assert data["tokens"] == 15_600_000_000_000
    six_nd = data["six_nd"]
    assert six_nd["flops"] == 6 * six_nd["params_total"] * 15_600_000_000_000      # exact integers
    assert float(f"{six_nd['flops_float']:.1e}") == 3.8e25
    assert 405e9 <= six_nd["params_total"] < 406e9
    assert float(f"{6 * 405e9 * 15.6e12:.1e}") == 3.8e25                            # the paper's own arithmetic
    derive = json.loads(run("derive", example("llama3_405b.yaml"), "--format", "json").stdout)
    assert data["flops_per_token"] == derive["flops"]["per_token"]["training"]
    assert data["training_flops"] == 15_600_000_000_000 * data["flops_per_token"]   # exact
    assert data["six_nd"]["detailed_over_six_nd"] == pytest.approx(data["training_flops"] / six_nd["flops"])


def test_token_budget_steps(example):
    data = run_json("budget", example("gpt2_124m.yaml"), "--tokens", 10**9, "--batch", 512)
    assert data["steps"] == math.ceil(10**9 / (512 * 1024))


def test_budget_text(example):
    result = run("budget", example("llama3_405b.yaml"), "--tokens", "15.6e12", "--hardware", "h100",
                 "--gpus", 16384, "--mfu", 0.4)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "15,600,000,000,000" in out and "(37.99 YFLOP)" in out
    assert "at MFU 40.00% on 16,384 x NVIDIA H100 SXM5 80GB (bf16 dense, 989 TFLOP/s each" in out
    assert "device-hours" in out and "mask: causal" in out


# ------------------------------------------------------------------ FLOP budgets

def test_flop_budget_buys_whole_steps(example):
    model = mfu_sym.load(example("gpt2_124m.yaml"))
    per_step = 8 * model.evaluate(model.training(), seq_len=1024)        # 8 sequences a step
    exact = planning.plan(model, flops=str(5 * per_step), batch=8)
    assert exact.steps == 5 and exact.flops == 5 * per_step and exact.tokens == 5 * 8 * 1024
    over = planning.plan(model, flops=str(5 * per_step + 1), batch=8)
    assert over.steps == 6 and over.flops == 6 * per_step
    data = run_json("budget", example("gpt2_124m.yaml"), "--flops", 5 * per_step + 1, "--batch", 8)
    assert data["steps"] == 6 and data["training_flops"] == 6 * per_step and data["target_flops"] == 5 * per_step + 1


def test_nanogpt_time_at_assumed_mfu():
    """nanoGPT transformer_sizing.ipynb: 6 N D with N = 124,337,664 and D = 300B tokens on
    8 A100 (312 TFLOP/s) at an assumed 30% MFU is 3.46 days."""
    seconds = planning.training_seconds(6 * 124_337_664 * 300 * 10**9, 8, choose_peak("a100").flops, 0.3)
    assert round(seconds / 86400, 2) == 3.46


def test_time_and_device_hours(example):
    data = run_json("budget", example("llama3_8b.yaml"), "--tokens", "1e12", "--hardware", "b200", "--gpus", 512,
                    "--mfu", 0.5)
    time = data["time"]
    assert time["seconds"] == pytest.approx(data["training_flops"] / (512 * 2.25e15 * 0.5), rel=1e-14)
    assert time["device_hours"] == pytest.approx(time["seconds"] * 512 / 3600, rel=1e-14)
    assert time["hardware"]["kind"] == "dense"


@pytest.mark.parametrize("args", [
    [],                                                    # no budget
    ["--tokens", 1, "--flops", 1, "--batch", 1],           # two budgets
    ["--flops", "1e20"],                                   # a FLOP budget without a batch
    ["--tokens", 0], ["--tokens", "-5"], ["--tokens", "nan"], ["--tokens", "lots"], ["--flops", "inf", "--batch", 1],
    ["--tokens", "1e999999999"],
    ["--tokens", 1, "--batch", 0],
    ["--tokens", 1, "--hardware", "h100"],                 # time needs --gpus and --mfu
    ["--tokens", 1, "--hardware", "h100", "--gpus", 8, "--mfu", 0],
    ["--tokens", 1, "--hardware", "h100", "--gpus", 8, "--mfu", 1.5],
    ["--tokens", 1, "--hardware", "h100", "--gpus", 0, "--mfu", 0.4],
])
def test_budget_bad_usage_is_exit_2(example, args):
    result = run("budget", example("gpt2_124m.yaml"), *args)
    assert result.exit_code == 2, result.output


def test_budget_bad_hardware_is_exit_1(example):
    result = run("budget", example("gpt2_124m.yaml"), "--tokens", 1, "--hardware", "z100", "--gpus", 1, "--mfu", 0.4)
    assert result.exit_code == 1 and "unknown accelerator 'z100'" in result.output


@pytest.mark.parametrize("kwargs", [
    {}, {"tokens": 1, "flops": 1}, {"flops": 10}, {"tokens": 1, "batch": 0},
    {"tokens": 1, "devices": 8}, {"tokens": 1, "devices": 8, "mfu": 0.4, "peak": None},
])
def test_plan_rejects(example, kwargs):
    model = mfu_sym.load(example("gpt2_124m.yaml"))
    with pytest.raises(UsageError):
        planning.plan(model, **kwargs)


@pytest.mark.parametrize("args", [(0, 1, 1e12, 0.4), (1, 0, 1e12, 0.4), (1, 1, 0, 0.4), (1, 1, 1e12, 0),
                                  (1, 1, 1e12, 1.2), (1, 1, float("inf"), 0.4)])
def test_training_seconds_rejects(args):
    with pytest.raises(UsageError):
        planning.training_seconds(*args)


# ------------------------------------------------------------------ Chinchilla

def test_allocation_is_hoffmann_eq4():
    """sympy's N_opt(C) equals Hoffmann et al.'s Eq. (4), written out here independently:
    N_opt = G (C/6)^(beta/(alpha+beta)), G = (alpha A / (beta B))^(1/(alpha+beta))."""
    alpha, beta, A, B, C = planning.ALPHA, planning.BETA, planning.COEF_N, planning.COEF_D, planning.COMPUTE
    G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    frontier = planning.derive_allocation()
    for derived, expected in ((frontier.n_opt, G * (C / 6) ** (beta / (alpha + beta))),
                              (frontier.d_opt, (C / 6) ** (alpha / (alpha + beta)) / G)):
        assert sympy.simplify(sympy.expand_log(sympy.log(derived) - sympy.log(expected), force=True)) == 0
    assert sympy.simplify(6 * frontier.n_opt * frontier.d_opt - C) == 0
    assert frontier.curvature.is_positive


def _numerical_optimum(fit, compute):
    """Golden-section search of L(N, C/(6N)) over log N: no calculus, no sympy."""
    def loss(log_n):
        n = math.exp(log_n)
        return fit.E + fit.A / n ** fit.alpha + fit.B / (compute / (6 * n)) ** fit.beta
    lo, hi = math.log(1e6), math.log(1e15)
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(200):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if loss(a) < loss(b):
            hi = b
        else:
            lo = a
    return math.exp((lo + hi) / 2)


@pytest.mark.parametrize("key", ["hoffmann2022", "besiroglu2024"])
@pytest.mark.parametrize("compute", ["5.76e23", "3.8e25", "1e21"])
def test_allocation_minimizes_the_loss(key, compute):
    fit = planning.load_fits()[key]
    result = planning.allocate(compute, fit)
    assert result["n_opt"] == pytest.approx(_numerical_optimum(fit, float(compute)), rel=1e-6)
    assert 6 * result["n_opt"] * result["d_opt"] == pytest.approx(float(compute), rel=1e-12)


def test_published_fits():
    """The constants as published: Hoffmann et al. 2022 App. D.2 Eq. (10); Besiroglu et al.
    2024 (arXiv:2404.10102), whose N_opt exponent beta/(alpha+beta) they report as 0.513."""
    fits = planning.load_fits()
    h, b = fits["hoffmann2022"], fits["besiroglu2024"]
    assert (h.E, h.A, h.B, h.alpha, h.beta) == (1.69, 406.4, 410.7, 0.34, 0.28)
    assert (b.E, b.A, b.B, b.alpha, b.beta) == (1.8172, 482.01, 2085.43, 0.3478, 0.3658)
    assert h.source["arxiv"] == "2203.15556" and b.source["arxiv"] == "2404.10102"
    assert round(planning.allocate("1e24", b)["a"], 3) == 0.513
    assert round(planning.allocate("1e24", h)["a"], 2) == 0.45


def test_chinchilla_cli(example):
    result = run("chinchilla", "--compute", "5.76e23")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "(C/6)**(beta/(alpha + beta))*(A*alpha/(B*beta))**(1/(alpha + beta))" in out
    assert "hoffmann2022" in out and "besiroglu2024" in out and "arXiv:2404.10102" in out
    data = run_json("chinchilla", "--compute", "5.76e23", "--fit", "besiroglu2024")
    assert list(data["fits"]) == ["besiroglu2024"]
    assert data["compute"] == 576 * 10**21
    fit = planning.load_fits()["besiroglu2024"]
    assert data["fits"]["besiroglu2024"]["n_opt"] == pytest.approx(_numerical_optimum(fit, 5.76e23), rel=1e-6)
    assert "\\beta" in run("chinchilla", "--format", "latex").stdout
    assert run("chinchilla").exit_code == 0                       # the formulas alone


@pytest.mark.parametrize("args, code", [(["--fit", "kaplan2020"], 1), (["--compute", "0"], 2),
                                        (["--compute", "x"], 2)])
def test_chinchilla_errors(args, code):
    result = run("chinchilla", *args)
    assert result.exit_code == code, result.output
    if code == 1:
        assert "unknown fit 'kaplan2020' (expected one of: hoffmann2022, besiroglu2024)" in result.output


# ------------------------------------------------------------------ the fits file

GOOD = {"key": "x", "name": "X", "E": 1.0, "A": 1.0, "B": 1.0, "alpha": 0.3, "beta": 0.3,
        "reference": {"cite": "hoffmann2022", "where": "Eq. 10"}}


@pytest.mark.parametrize("change, message", [
    ({"E": -1.0}, "E: -1.0 is out of range (expected > 0)"),
    ({"A": "406.4"}, "A: '406.4' is not a finite number"),
    ({"alpha": 1.5}, "alpha: 1.5 (expected an exponent in (0, 1))"),
    ({"beta": float("nan")}, "beta: nan"),
    ({"gamma": 1.0}, "gamma: unknown field"),
    ({"key": "Bad Key"}, "key: 'Bad Key'"),
    ({"reference": {"cite": "nobody2099", "where": "x"}}, "reference.cite: unknown reference 'nobody2099'"),
    ({"reference": {"cite": "hoffmann2022"}}, "reference.where: missing"),
    ({"standard_errors": {"E": 0.0}}, "standard_errors.E: 0.0"),
    ({"standard_errors": {"Z": 1.0}}, "standard_errors.Z: unknown field"),
    ({"notes": "text"}, "notes: expected a list"),
])
def test_bad_fits_are_refused(tmp_path, change, message):
    path = tmp_path / "scaling_laws.yaml"
    path.write_text(yaml.safe_dump({"scaling_laws": [{**GOOD, **change}]}))
    with pytest.raises(FormulaError) as info:
        planning.load_fits(data.root([tmp_path]))
    assert message in str(info.value) and "scaling_laws[0]" in str(info.value)


@pytest.mark.parametrize("document, message", [
    ({"scaling_laws": []}, "expected a non-empty list"),
    ({"fits": [GOOD]}, "fits: unknown section"),
    ({"scaling_laws": [GOOD, GOOD]}, "scaling_laws\\[1\\].key: duplicate fit 'x'"),
    ({"scaling_laws": [{k: v for k, v in GOOD.items() if k != "B"}]}, "scaling_laws\\[0\\].B: missing"),
])
def test_bad_fit_files_are_refused(tmp_path, document, message):
    path = tmp_path / "scaling_laws.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(FormulaError, match=message):
        planning.load_fits(data.root([tmp_path]))


def test_formula_library_skips_the_scaling_laws_section():
    """formulas/scaling_laws.yaml sits beside the formula files; the library must load."""
    from mfu_sym.library import load_library
    assert "lm_head" in load_library().formulas
