"""Inference phases: MLA counted per phase (naive prefill and absorbed decode by default,
as serving engines run them), each phase equal to the single-form count of that form."""

import pytest

import mfu_sym
from mfu_sym.errors import UsageError
from mfu_sym.inference import Inference

from cli_helpers import run, run_json

DEEPSEEK = "examples/deepseek_v3.yaml"
ARGS = ("--context", 4096, "--prompt-len", 1024, "--batch", 4)


def _infer(*extra):
    return run_json("infer", DEEPSEEK, *ARGS, *extra)


def test_default_is_naive_prefill_and_absorbed_decode():
    default, naive, absorbed = _infer(), _infer("--mla", "naive"), _infer("--mla", "absorbed")
    assert default["prefill"]["flops"] == naive["prefill"]["flops"] != absorbed["prefill"]["flops"]
    assert default["decode_step"]["flops"] == absorbed["decode_step"]["flops"] != naive["decode_step"]["flops"]
    assert default["generation"]["decode_flops"] == absorbed["generation"]["decode_flops"]
    assert (default["conventions"]["mla_prefill"], default["conventions"]["mla_decode"]) == ("naive", "absorbed")


def test_prefill_is_the_naive_forward():
    model = mfu_sym.load(DEEPSEEK, mla="naive")
    forward = model.report(seq_len=1024, batch=4)["flops"]["forward"]
    assert _infer()["prefill"]["flops"] == forward


@pytest.mark.parametrize("prefill, decode", [("absorbed", "naive"), ("absorbed", "absorbed"), ("naive", "naive")])
def test_each_phase_is_chosen(prefill, decode):
    out = _infer("--mla-prefill", prefill, "--mla-decode", decode)
    assert out["prefill"]["flops"] == _infer("--mla", prefill)["prefill"]["flops"]
    assert out["decode_step"]["flops"] == _infer("--mla", decode)["decode_step"]["flops"]


def test_api_keeps_the_models_convention_unless_asked():
    model = mfu_sym.load(DEEPSEEK)
    plain = Inference(model).report(4096, prompt_len=1024, batch=4)
    assert plain["decode_step"]["flops"] == _infer("--mla", "naive")["decode_step"]["flops"]
    phased = Inference(model, mla_decode="absorbed").report(4096, prompt_len=1024, batch=4)
    assert phased["decode_step"]["flops"] == _infer()["decode_step"]["flops"]
    with pytest.raises(UsageError, match="mla_decode"):
        Inference(model, mla_decode="latent")


def test_mla_and_phase_switches_together_are_refused():
    result = run("infer", DEEPSEEK, *ARGS, "--mla", "naive", "--mla-decode", "absorbed")
    assert result.exit_code == 2 and "not both" in result.output


def test_phase_switch_without_mla_layers_is_refused():
    result = run("infer", "examples/llama3_8b.yaml", "--context", 512, "--mla-decode", "absorbed")
    assert result.exit_code == 2 and "no multi-head latent attention" in result.output


def test_dense_models_are_unchanged():
    out = run_json("infer", "examples/llama3_8b.yaml", "--context", 4096)
    assert "mla_prefill" not in out["conventions"]


# ------------------------------------------------------------------ batch sweep to the knee

def _bound(model, batch, *extra):
    out = run_json("infer", model, "--context", 16, "--batch", batch, "--hardware", "h100", *extra)
    return out["roofline"]["decode_step"]["bound"]


@pytest.mark.parametrize("model, extra", [("examples/llama3_8b.yaml", ()), (DEEPSEEK, ("--gpus", 8))])
def test_the_knee_is_where_the_roofline_turns(model, extra):
    out = run_json("infer", model, "--context", 16, "--hardware", "h100", "--batch-sweep", *extra)
    knee = out["batch_sweep"]["knee"]
    assert knee and knee > 1
    assert _bound(model, knee, *extra) == "compute" and _bound(model, knee - 1, *extra) == "memory"
    rows = out["batch_sweep"]["rows"]
    assert [r["batch"] for r in rows] == [2**i for i in range(knee.bit_length())] + [knee]
    assert [r["bound"] for r in rows] == ["memory"] * (len(rows) - 1) + ["compute"]


def test_llama_knee_by_hand():
    """Dense decode: FLOPs b·F, bytes A + b·B while b·d_model is below the embedding table;
    the knee is the smallest b with b·F / peak >= (A + b·B) / bandwidth."""
    from fractions import Fraction
    import math
    one = run_json("infer", "examples/llama3_8b.yaml", "--context", 16, "--batch", 1)["decode_step"]
    two = run_json("infer", "examples/llama3_8b.yaml", "--context", 16, "--batch", 2)["decode_step"]
    flops, per_batch = one["flops"], two["bytes"] - one["bytes"]
    fixed = one["bytes"] - per_batch
    peak, bandwidth = Fraction(989 * 10**12), Fraction(3350 * 10**9)  # hardware.yaml: H100 SXM bf16 dense, HBM3
    knee = math.ceil(fixed / (flops * bandwidth / peak - per_batch))
    out = run_json("infer", "examples/llama3_8b.yaml", "--context", 16, "--hardware", "h100", "--batch-sweep")
    assert out["batch_sweep"]["knee"] == knee


def test_no_knee_when_the_cache_dominates():
    out = run_json("infer", "examples/llama3_8b.yaml", "--context", 4096, "--hardware", "h100", "--batch-sweep")
    sweep = out["batch_sweep"]
    assert sweep["knee"] is None and "below the ridge point" in sweep["note"]
    assert sweep["rows"][-1]["fits"] is False and all(r["fits"] for r in sweep["rows"][:-1])


def test_batch_sweep_needs_hardware():
    result = run("infer", "examples/llama3_8b.yaml", "--context", 512, "--batch-sweep")
    assert result.exit_code == 2 and "--batch-sweep needs --hardware" in result.output


# ------------------------------------------------------------------ speculative decoding

LLAMA = "examples/llama3_8b.yaml"


@pytest.mark.parametrize("k, alpha, expected", [(1, "0.85", "37/20"), (3, "0.5", "15/8"), (4, "1", 5)])
def test_tokens_per_step_leviathan(k, alpha, expected):
    """E = (1 - a^(K+1)) / (1 - a), Leviathan et al. 2023 Eq. 1; K + 1 when every draft is accepted."""
    out = run_json("infer", LLAMA, "--context", 512, "--draft-tokens", k, "--acceptance", alpha)
    assert out["speculative"]["tokens_per_step"] == expected


def test_verify_pass_is_the_decode_steps_it_replaces():
    k, context = 3, 1000
    out = run_json("infer", LLAMA, "--context", context, "--batch", 2, "--draft-tokens", k, "--accepted-tokens", 2.5)
    steps = [run_json("infer", LLAMA, "--context", context + j, "--batch", 2)["decode_step"] for j in range(k + 1)]
    spec = out["speculative"]
    assert spec["verify_flops"] == spec["flops"] == sum(s["flops"] for s in steps)
    assert spec["draft_flops"] == 0 and spec["draft"] == "external"
    # bytes: the weights b (K+1) tokens read, once, and the cache at context C + K
    weights = run_json("infer", LLAMA, "--context", context, "--batch", 2 * (k + 1))["decode_step"]["bytes_weights"]
    assert spec["bytes"] == weights + steps[-1]["bytes_kv"]
    assert spec["model_flops_per_token"] == out["decode_step"]["flops_per_token"]


def test_mtp_draft_is_the_mtp_module_forward():
    import sympy
    k, context = 2, 600
    out = run_json("infer", DEEPSEEK, "--context", context, "--batch", 3, "--draft-tokens", k, "--acceptance", "0.9",
                   "--mla-decode", "naive")
    model = mfu_sym.load(DEEPSEEK, mla="naive")
    hand = 3 * sum(model.evaluate(model.forward_at(context + j, "mtp")) for j in range(k))
    assert out["speculative"]["draft"] == "mtp" and out["speculative"]["draft_flops"] == hand
    assert sympy.Rational(out["speculative"]["tokens_per_step"]) == 1 + sympy.Rational(9, 10) + sympy.Rational(81, 100)


def test_speculative_roofline():
    out = run_json("infer", LLAMA, "--context", 2048, "--hardware", "h100", "--draft-tokens", 4,
                   "--accepted-tokens", 3)
    row, plain = out["roofline"]["speculative_step"], out["roofline"]["decode_step"]
    assert row["tokens_per_sec"] == pytest.approx(3 / row["time_s"], rel=1e-12)
    assert row["speedup_over_decode"] == pytest.approx(row["tokens_per_sec"] / plain["tokens_per_sec"], rel=1e-12)


@pytest.mark.parametrize("args, message", [
    (("--draft-tokens", 2, "--acceptance", "1.5"), "above 1"),
    (("--draft-tokens", 2, "--acceptance", "0"), "not positive"),
    (("--draft-tokens", 2, "--accepted-tokens", "3.5"), "outside [1, 3]"),
    (("--draft-tokens", 2, "--accepted-tokens", "0.5"), "outside [1, 3]"),
    (("--draft-tokens", 2, "--accepted-tokens", "x"), "not a number"),
    (("--draft-tokens", 2, "--acceptance", "0.5", "--draft", "mtp"), "no multi-token-prediction modules"),
])
def test_speculative_errors(args, message):
    result = run("infer", LLAMA, "--context", 512, *args)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("args, message", [
    (("--acceptance", "0.5"), "need --draft-tokens"),
    (("--draft-tokens", 2), "exactly one of --acceptance and --accepted-tokens"),
    (("--draft-tokens", 2, "--acceptance", "0.5", "--accepted-tokens", 2), "exactly one"),
    (("--draft-tokens", 0, "--acceptance", "0.5"), "0 is not in the range"),
])
def test_speculative_usage(args, message):
    result = run("infer", LLAMA, "--context", 512, *args)
    assert result.exit_code == 2 and message in result.output
