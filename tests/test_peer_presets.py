"""The peer presets reproduce each peer's count of the 2026 families, term by term.

Each expected value is the peer's own formula, written here from its source as
../shared/reference/frontier-architectures.md quotes it (Megatron-LM
`num_floating_point_operations`, MaxText `calculate_tflops_training_per_device`,
Megatron-Bridge `flop_utils.py`), never from the engine: training = 3 x forward for all
three, per sequence of `s` tokens, batch 1. gpt-oss-20b, Llama-4-Scout's text decoder,
Qwen3-Next-80B-A3B and Nemotron-3-Nano-30B-A3B, at lengths inside and past their windows
and chunks."""

import json
from pathlib import Path

import pytest

import mfu_sym

ROOT = Path(__file__).resolve().parent.parent
HF = ROOT / "examples" / "hf"
LENGTHS = (4096, 32768)


def _counts(path, preset, s):
    model = mfu_sym.load(str(path), preset=preset)
    return {c: int(model.evaluate(model.training(c), seq_len=s)) for c in model.components}


def _check(path, preset, s, expected):
    counts = _counts(path, preset, s)
    got = {c: counts.get(c, 0) for c in expected}
    assert got == {c: int(v) for c, v in expected.items()}


# gpt-oss-20b: 24 layers alternating sliding (even) and full (odd), window 128
GPT_OSS = dict(h=2880, L=24, n=64, g=8, d=64, E=32, k=4, F=2880, V=201088, W=128)


def _gpt_oss_common(s, p=GPT_OSS):
    return {"attention_projections": 3 * p["L"] * s * (2 * p["h"] * (p["n"] + 2 * p["g"]) * p["d"]
                                                       + 2 * p["n"] * p["d"] * p["h"]),
            "lm_head": 3 * s * 2 * p["h"] * p["V"]}


@pytest.mark.parametrize("s", LENGTHS)
def test_gpt_oss_megatron(s, p=GPT_OSS):
    # no sliding window (every layer S/2), experts at 2 matrices (--quick-geglu), no router
    _check(HF / "gpt_oss_20b" / "config.json", "megatron", s, {
        **_gpt_oss_common(s), "attention_core": 3 * p["L"] * 4 * p["n"] * p["d"] * s * s // 2,
        "experts": 3 * p["L"] * s * p["k"] * 2 * 2 * p["h"] * p["F"], "router": 0})


@pytest.mark.parametrize("s", LENGTHS)
def test_gpt_oss_maxtext(s, p=GPT_OSS):
    # calculate_mixed_attention_model_tflops_training_per_device (pattern length 2): global
    # 4 s^2 n d, local 4 s min(W, s) n d, both halved; router 2 h E; experts factor 3
    noncausal = 12 * 4 * s * s * p["n"] * p["d"] + 12 * 4 * s * min(p["W"], s) * p["n"] * p["d"]
    _check(HF / "gpt_oss_20b" / "config.json", "maxtext", s, {
        **_gpt_oss_common(s), "attention_core": 3 * noncausal // 2,
        "experts": 3 * p["L"] * s * p["k"] * 3 * 2 * p["h"] * p["F"],
        "router": 3 * p["L"] * s * 2 * p["h"] * p["E"]})


@pytest.mark.parametrize("s", LENGTHS)
def test_gpt_oss_nemo(s, p=GPT_OSS):
    # PR #3947: GLU factor 3, exact window context W(W+1)/2 + (s - W) W; full layers S/2
    W = p["W"]
    window_pairs = W * (W + 1) // 2 + (s - W) * W
    _check(HF / "gpt_oss_20b" / "config.json", "nemo", s, {
        **_gpt_oss_common(s),
        "attention_core": 3 * (12 * 4 * p["n"] * p["d"] * s * s // 2 + 12 * 4 * p["n"] * p["d"] * window_pairs),
        "experts": 3 * p["L"] * s * p["k"] * 3 * 2 * p["h"] * p["F"], "router": 0})


# Llama-4-Scout's text decoder: every layer MoE (16 experts, top 1, shared expert),
# 12 global NoPE layers and 36 chunked layers of 8192
SCOUT = dict(h=5120, L=48, n=40, g=8, d=128, E=16, k=1, F=8192, V=202048, c=8192, globals=12)


@pytest.fixture(scope="module")
def scout(tmp_path_factory):
    from test_published_moea import SCOUT_TEXT
    path = tmp_path_factory.mktemp("scout") / "config.json"
    path.write_text(json.dumps(SCOUT_TEXT))
    return path


def _scout_common(s, p=SCOUT):
    ffn = 3 * p["L"] * s * 3 * 2 * p["h"] * p["F"]  # one routed expert (top 1) and the shared one
    return {"attention_projections": 3 * p["L"] * s * (2 * p["h"] * (p["n"] + 2 * p["g"]) * p["d"]
                                                       + 2 * p["n"] * p["d"] * p["h"]),
            "experts": ffn, "shared_experts": ffn, "lm_head": 3 * s * 2 * p["h"] * p["V"]}


@pytest.mark.parametrize("s", LENGTHS)
@pytest.mark.parametrize("preset", ["megatron", "nemo"])
def test_llama4_megatron_and_nemo_ignore_chunks(scout, preset, s, p=SCOUT):
    _check(scout, preset, s, {**_scout_common(s), "router": 0,
                              "attention_core": 3 * p["L"] * 4 * p["n"] * p["d"] * s * s // 2})


@pytest.mark.parametrize("s", LENGTHS)
def test_llama4_maxtext(scout, s, p=SCOUT):
    # calculate_llama4_attention_tflops: global 4 s^2 n d, chunked 4 (floor(s/c) c^2 + r^2) n d, halved
    c, r = p["c"], s % p["c"]
    noncausal = (p["globals"] * 4 * s * s + (p["L"] - p["globals"]) * 4 * ((s // c) * c * c + r * r)) * p["n"] * p["d"]
    _check(scout, "maxtext", s, {**_scout_common(s), "attention_core": 3 * noncausal // 2,
                                 "router": 3 * p["L"] * s * 2 * p["h"] * p["E"]})


# Qwen3-Next-80B-A3B: 36 Gated DeltaNet layers, 12 gated full-attention layers, MoE everywhere
NEXT = dict(h=2048, L=48, full=12, n=16, g=2, d=256, nk=16, dk=128, nv=32, dv=128, K=4, E=512, k=10, F=512, V=151936)


def _next_expected(s, preset, p=NEXT):
    qk, v = p["nk"] * p["dk"], p["nv"] * p["dv"]
    gate = 0 if preset == "maxtext" else 2 * p["h"] * p["n"] * p["d"]  # MaxText's QWEN3_NEXT branch has no gate
    core = 8 * p["nv"] * p["dk"] * p["dv"] if preset == "maxtext" else 4 * p["nv"] * p["dv"] ** 2 * 2
    gdn = 2 * (p["h"] * (2 * qk + 2 * v + 2 * p["nv"]) + p["K"] * (2 * qk + v) + p["h"] * v) + core
    return {"attention_core": 3 * p["full"] * 4 * p["n"] * p["d"] * s * s // 2,
            "attention_projections": 3 * p["full"] * s * (2 * p["h"] * (p["n"] + 2 * p["g"]) * p["d"] + gate
                                                          + 2 * p["n"] * p["d"] * p["h"]),
            "linear_attention": 3 * (p["L"] - p["full"]) * s * gdn,
            "experts": 3 * p["L"] * s * p["k"] * 3 * 2 * p["h"] * p["F"],
            "router": 3 * p["L"] * s * 2 * p["h"] * p["E"] if preset == "maxtext" else 0,
            "lm_head": 3 * s * 2 * p["h"] * p["V"]}


@pytest.mark.parametrize("s", LENGTHS)
@pytest.mark.parametrize("preset", ["megatron", "maxtext", "nemo"])
def test_qwen3_next(preset, s):
    _check(HF / "qwen3_next_80b_a3b" / "config.json", preset, s, _next_expected(s, preset))


# Nemotron-3-Nano-30B-A3B: 23 Mamba-2, 23 MoE (ReLU^2, 2 matrices) and 6 attention layers
NANO = dict(h=2688, H=64, G=8, N=128, n=32, g=2, d=128, E=128, k=6, F=1856, Fs=3712, V=131072, M=23, A=6, MoE=23)


@pytest.mark.parametrize("s", LENGTHS)
@pytest.mark.parametrize("preset", ["megatron", "nemo"])
def test_nemotron_h_megatron_and_nemo(preset, s, p=NANO):
    # mamba_layer_flops with d_in = 2 h: 2 h (2 d_in + 2 G N + H) + 7 d_in N + 2 d_in h, no conv
    h = p["h"]
    d_in = 2 * h
    mamba = 2 * h * (2 * d_in + 2 * p["G"] * p["N"] + p["H"]) + 7 * d_in * p["N"] + 2 * d_in * h
    _check(HF / "nemotron3_nano_30b_a3b" / "config.json", preset, s, {
        "ssm": 3 * p["M"] * s * mamba,
        "attention_core": 3 * p["A"] * 4 * p["n"] * p["d"] * s * s // 2,
        "attention_projections": 3 * p["A"] * s * (2 * h * (p["n"] + 2 * p["g"]) * p["d"] + 2 * p["n"] * p["d"] * h),
        "experts": 3 * p["MoE"] * s * p["k"] * 2 * 2 * h * p["F"],
        "shared_experts": 3 * p["MoE"] * s * 2 * 2 * h * p["Fs"],
        "router": 0, "lm_head": 3 * s * 2 * h * p["V"]})


def test_the_presets_disagree_where_the_peers_do():
    """Megatron-LM and NeMo part on gpt-oss (windows, GLU factor), agree on Qwen3-Next."""
    gpt_oss = HF / "gpt_oss_20b" / "config.json"
    assert _counts(gpt_oss, "megatron", 32768) != _counts(gpt_oss, "nemo", 32768)
    qwen = HF / "qwen3_next_80b_a3b" / "config.json"
    assert _counts(qwen, "megatron", 32768) == _counts(qwen, "nemo", 32768)


def _reconcile(path, base, against, s=8192):
    from cli_helpers import run
    data = json.loads(run("reconcile", str(path), "--seq-len", str(s), "--preset", base, "--against", against,
                          "--format", "json").stdout)
    return data[0] if isinstance(data, list) else data


def test_reconcile_names_only_the_switches_that_change_the_model():
    # Llama-3-8B has no MTP, router or window: Megatron-LM and MaxText differ in nothing it has
    llama = _reconcile(ROOT / "examples" / "llama3_8b.yaml", "megatron", "maxtext")
    assert llama["differences"] == []
    gpt_oss = _reconcile(HF / "gpt_oss_20b" / "config.json", "megatron", "nemo", 32768)
    assert [d["switch"] for d in gpt_oss["differences"]] == ["mask", "variant expert_matrices"]
    assert set(gpt_oss["terms"]) == {"attention_core", "experts_gated_two_matrices", "experts_gated"}
    qwen = _reconcile(HF / "qwen3_next_80b_a3b" / "config.json", "maxtext", "nemo")
    assert [d["switch"] for d in qwen["differences"]] == ["counted", "variant linear_core", "variant output_gate_count"]
    deepseek = _reconcile(ROOT / "examples" / "deepseek_v3.yaml", "megatron", "maxtext")
    assert "mtp" in [d["switch"] for d in deepseek["differences"]]


def test_windows_are_halved_or_exact_not_both():
    from mfu_sym.conventions import Conventions
    from mfu_sym.errors import UsageError
    with pytest.raises(UsageError, match="exact_windows: and half_windows both set"):
        Conventions(mask="half", half_windows=True, exact_windows=True)


def test_the_output_gate_variant_keeps_the_gates_parameters():
    path = HF / "qwen3_next_80b_a3b" / "config.json"
    counted = mfu_sym.load(str(path))
    dropped = mfu_sym.load(str(path), variants={"output_gate_count": "none"})
    assert counted.params() == dropped.params()
    p = NEXT
    gap = counted.evaluate(counted.forward("attention_projections") - dropped.forward("attention_projections"),
                           seq_len=100)
    assert gap == p["full"] * 100 * 2 * p["h"] * p["n"] * p["d"]
    from mfu_sym.errors import UsageError
    with pytest.raises(UsageError, match="output_gate_count: the model has no layer that counts this term"):
        mfu_sym.load(str(ROOT / "examples" / "llama3_8b.yaml"), variants={"output_gate_count": "none"})


@pytest.mark.parametrize("switch", ["half_windows", "exact_windows"])
def test_a_window_switch_without_the_halved_mask_is_refused(switch):
    from mfu_sym.errors import UsageError
    path = str(HF / "gpt_oss_20b" / "config.json")
    with pytest.raises(UsageError, match=f"{switch}: applies to the halved mask only"):
        mfu_sym.load(path, **{switch: True})
    halved = mfu_sym.load(path, mask="half", **{switch: True})
    assert halved.conventions.mask == "half" and getattr(halved.conventions, switch)
