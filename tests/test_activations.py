"""The `implementation` activation model (mfu_sym/activations.py, formulas/activations.yaml):
hand derivations of what a layer saves, each recompute mode, kernel and parallel split,
and every error path. The exact check against transformers is
tests/crosscheck/test_activations.py."""

import json

import pytest
import sympy
from click.testing import CliRunner

import mfu_sym

from cli_helpers import assert_one_error_line
from mfu_sym.cli import main
from mfu_sym.errors import FormulaError, UsageError
from mfu_sym.memory import TrainingMemory
from test_memory import GPT3  # GPT-3 175B as Korthikanti et al. 2022 Table 3 run it

run = lambda *args: CliRunner().invoke(main, [str(a) for a in args])

D, L, A, KV, DH, FF, V = 64, 2, 4, 2, 24, 96, 128
LLAMA = f"""name: small llama
d_model: {D}
n_layers: {L}
n_heads: {A}
n_kv_heads: {KV}
d_head: {DH}
d_ff: {FF}
vocab_size: {V}
seq_len: 8
batch: 2
"""
MOE = LLAMA + """n_experts: 8
top_k: 2
d_expert: 32
d_shared: 40
shared_expert_gate: true
"""
WINDOW = LLAMA + "window: 6\n"
MLA = LLAMA.replace(f"n_kv_heads: {KV}\nd_head: {DH}\n", "") + """q_lora_rank: 32
kv_lora_rank: 16
qk_nope_head_dim: 16
qk_rope_head_dim: 8
v_head_dim: 16
"""


def _model(tmp_path, text=LLAMA, **conventions):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return mfu_sym.load(path, **conventions)


def _bytes(tmp_path, text=LLAMA, recompute="none", seq_len=8, batch=2, conventions=None, **kwargs):
    model = _model(tmp_path, text, recompute=recompute, **(conventions or {}))
    report = TrainingMemory(model, **kwargs).report(seq_len=seq_len, batch=batch)
    return report["bytes"]["activations"], report


# ------------------------------------------------------------------ hand derivations
# per token, w bytes an activation element: RMSNorm keeps its fp32 input (4d), 1/rms (4),
# the normalised x (wd) and its output (wd, the projections' input)
def norm(w):
    return 4 * D + 4 + 2 * w * D


def attention_eager(w, s):
    # q, repeated k and v, o_proj's input; fp32 softmax and (16-bit) its cast for probs @ v
    return norm(w) + 4 * w * A * DH + 4 * A * s + (w * A * s if w < 4 else 0)


def mlp_gated(w):
    return norm(w) + 4 * w * FF  # gate, act(gate), up, act(gate) * up


def once(w, s, b):
    # token ids and labels (int64), rotary cos and sin (per position), final norm,
    # fp32 log-probabilities, the loss's 0-dim total weight
    return b * s * (8 + 8 + norm(w) + 4 * V) + s * 2 * DH * w + 4


@pytest.mark.parametrize("dtype, w", [("bf16", 2), ("fp32", 4)])
def test_a_llama_layer_by_hand(tmp_path, dtype, w):
    b, s = 2, 8
    total, _ = _bytes(tmp_path, act_dtype=dtype)
    assert total == L * b * s * (attention_eager(w, s) + mlp_gated(w)) + once(w, s, b)


def test_the_symbolic_form_is_the_hand_form(tmp_path):
    model = _model(tmp_path)
    memory = TrainingMemory(model)
    sym = model.library.symbol
    d, a, kv, dh, ff, vocab, n = (sym(x) for x in ("d_model", "n_heads", "n_kv_heads", "d_head", "d_ff",
                                                   "vocab_size", "n_layers"))
    s, b, q, cp, tp = model.seq_len, model.batch, sym("act_bits"), sym("cp"), sym("tp")
    w = q / 8
    tokens = b * s / cp
    layer = tokens * (2 * (4 * d + 4 + 2 * w * d) + 2 * w * a * dh / tp + 2 * w * a * dh / tp
                      + (4 + w) * a * s / tp + 4 * w * ff / tp)
    forward = tokens * (16 + 4 * d + 4 + 2 * w * d + 4 * vocab / tp) + 2 * dh * w * s / cp + 4
    expected = layer * n + forward
    got = memory.expressions()["activations"].xreplace({sym("pp"): 1})
    assert sympy.simplify(got.xreplace(model.values) - expected.xreplace(model.values)) == 0


def test_flash_keeps_the_output_and_log_sum_exp(tmp_path):
    b, s, w = 2, 8, 2
    total, _ = _bytes(tmp_path, kernel="flash")
    # q, k and v with their own heads (GQA needs no repeat), the output, fp32 log-sum-exp
    attention = norm(w) + w * (2 * A * DH + 2 * KV * DH) + 4 * A
    assert total == L * b * s * (attention + mlp_gated(w)) + once(w, s, b)


def test_recompute_modes(tmp_path):
    b, s, w = 2, 8, 2
    selective, _ = _bytes(tmp_path, recompute="selective")
    # the core (scores, probabilities, repeated K/V) recomputed; its inputs k, v kept
    attention = norm(w) + w * (2 * A * DH + 2 * KV * DH)
    assert selective == L * b * s * (attention + mlp_gated(w)) + once(w, s, b)
    full, _ = _bytes(tmp_path, recompute="full")
    assert full == L * b * s * w * D + once(w, s, b)  # each layer's input only
    flash_selective, _ = _bytes(tmp_path, recompute="selective", kernel="flash")
    assert flash_selective == L * b * s * (attention + mlp_gated(w)) + once(w, s, b)  # lse dropped


def test_attention_dropout_keeps_a_mask_and_the_dropped_probabilities(tmp_path):
    b, s = 2, 8
    on, _ = _bytes(tmp_path, dropout=True)
    off, _ = _bytes(tmp_path)
    # bool mask (1) and dropped probs (w) replace the cast (w)
    assert on - off == L * b * A * s * s * 1


def test_tensor_and_sequence_parallel_splits(tmp_path):
    b, s, w = 2, 8, 2
    tp2, _ = _bytes(tmp_path, tp=2)
    heads = 4 * w * A * DH + 4 * A * s + w * A * s
    replicated = 2 * norm(w)
    assert tp2 == (L * b * s * (replicated + (heads + 4 * w * FF) // 2)
                   + b * s * (16 + norm(w) + 4 * V // 2) + s * 2 * DH * w + 4)
    sp, _ = _bytes(tmp_path, tp=2, sequence_parallel=True)
    assert sp == (L * b * s * (replicated + heads + 4 * w * FF) // 2
                  + b * s * (16 + norm(w) // 2 + 4 * V // 2) + s * 2 * DH * w + 4)


def test_context_parallel_keeps_every_key_in_a_score_row(tmp_path):
    b, s, w, cp = 2, 8, 2, 4
    total, _ = _bytes(tmp_path, cp=cp)
    local = s // cp
    layer = local * (norm(w) + 4 * w * A * DH + (4 + w) * A * s + mlp_gated(w))  # probs: local rows x s keys
    assert total == L * b * layer + b * local * (16 + norm(w) + 4 * V) + local * 2 * DH * w + 4


def test_pipeline_first_stage(tmp_path):
    b, s, w = 2, 8, 2
    total, report = _bytes(tmp_path, pp=2)
    assert report["layers_held"] == 2
    # pp micro-batches of its one layer = 2 layers' worth; the embedding side for 2 micro-batches
    assert total == L * b * s * (attention_eager(w, s) + mlp_gated(w)) + 2 * (b * s * 8 + s * 2 * DH * w)


def test_sdpa_on_a_window_layer_is_masked_once_the_window_cuts(tmp_path):
    w, b = 2, 1
    unmasked = norm(w) + w * (2 * A * DH + 2 * KV * DH) + 4 * A
    for s in (5, 6, 8):  # transformers skips the mask for seq_len < window (6)
        total, _ = _bytes(tmp_path, WINDOW, seq_len=s, batch=b, kernel="sdpa")
        attention = unmasked if s < 6 else norm(w) + w * 4 * A * DH + 4 * A + w * s  # repeated K/V, the mask
        assert total == L * b * s * (attention + mlp_gated(w)) + once(w, s, b), s
    flash, _ = _bytes(tmp_path, WINDOW, seq_len=8, batch=b, kernel="flash")
    assert flash == L * b * 8 * (unmasked + mlp_gated(w)) + once(w, 8, b)


def test_a_moe_layer_by_hand(tmp_path):
    b, s, w, e, k, de, dsh = 2, 8, 2, 8, 2, 32, 40
    total, _ = _bytes(tmp_path, MOE)
    router = 4 * e + 8 * k + 4 * (k + 1)  # fp32 probabilities, top-k indices, top-k values and their sum
    experts = 3 * 8 * k + w * k * D + w * 4 * k * de + w * k * D + 4 * k  # slot indices ... fp32 weights
    shared = 4 * w * dsh + w * D + w  # gated shared expert, its output and sigmoid gate
    per_layer = b * s * (attention_eager(w, s) + norm(w) + router + experts + shared) + 4 * e  # int32 offsets
    assert total == L * per_layer + once(w, s, b)
    ep4, _ = _bytes(tmp_path, MOE, ep=4, dp=4)
    assert total - ep4 == L * 4 * (e - e // 4)  # only the offsets shrink under balanced routing


def test_per_head_qk_norms(tmp_path):
    b, s, w = 2, 8, 2
    with_norms, _ = _bytes(tmp_path, LLAMA + "qk_norm: per_head\n")
    plain, _ = _bytes(tmp_path)
    # each of q and k: its fp32 input, 1/rms a head, the normalised heads
    assert with_norms - plain == L * b * s * ((A + KV) * (4 * DH + 4 + w * DH))


@pytest.mark.parametrize("dtype, w", [("bf16", 2), ("fp32", 4)])
def test_an_mla_layer_by_hand(tmp_path, dtype, w):
    b, s, rq, rkv, dn, dr, dv = 2, 8, 32, 16, 16, 8, 16
    total, _ = _bytes(tmp_path, MLA, act_dtype=dtype)
    latent = (4 * rq + 4 + 2 * w * rq) + (4 * rkv + 4 + 2 * w * rkv)  # the two latent RMSNorms
    if w == 4:
        latent += 4 * dr  # in fp32 the kv norm's input is a view of compressed_kv, rotary key included
    heads = w * A * (2 * (dn + dr) + 2 * dv)  # q and k (every head), v, o_proj's input
    scores = 4 * A * s + (w * A * s if w < 4 else 0)
    mla = norm(w) + latent + heads + scores
    forward = b * s * (16 + norm(w) + 4 * V) + s * 2 * dr * w + 4  # rotary tables of the rope part only
    assert total == L * b * s * (mla + mlp_gated(w)) + forward


def test_the_itemised_rows_add_up(tmp_path):
    total, report = _bytes(tmp_path, MOE)
    rows = report["activations_itemised"]
    assert sum(r["bytes"] for r in rows) == total
    assert {r["tensor"] for r in rows} >= {"probs", "expert_gate_up", "router_probs", "shared_output", "log_probs"}
    assert report["activations_model"] == {"convention": "implementation", "kernel": "eager", "dtype": "bf16",
                                           "attention_dropout": False}


@pytest.mark.parametrize("text, why", [
    (LLAMA + "norm_placement: sandwich\n", "norm_placement sandwich"),
    (LLAMA + "qk_norm: full\n", "qk_norm full"),
    (MLA, "mla layers with the flash kernel"),
    (MOE + "expert_activation: clamped_swiglu\n", "expert_activation clamped_swiglu"),
    (LLAMA + "full_attention_every: 2\nwindow: 4\n", None),
])
def test_kinds_without_saved_tensor_facts_are_not_modelled(tmp_path, text, why):
    model = _model(tmp_path, text)
    report = TrainingMemory(model, kernel="flash").report()
    if why is None:  # a modelled stack (full and sliding layers) for contrast
        assert "activations_not_modelled" not in report
        return
    assert why in report["activations_not_modelled"] and "activations" not in report["bytes"]
    assert report["bytes"]["total"] == sum(report["bytes"][k] for k in ("weights", "gradients", "optimizer"))


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("kwargs, field, message", [
    ({"cp": 3}, "cp", "context-parallel degree (3) must divide seq_len (8)"),
    ({"cp": 0}, "cp", "0 is not a positive integer"),
    ({"ep": 2}, "ep", "given, but the model has no experts"),
    ({"ep": True}, "ep", "True is not a positive integer"),
    ({"tp": 4}, "tp", "tensor-parallel degree (4) must divide n_kv_heads (2)"),
    ({"tp": 3}, "tp", "tensor-parallel degree (3) must divide n_heads (4)"),
    ({"kernel": "xformers"}, "kernel", "'xformers' (expected one of eager, sdpa, flash)"),
    ({"activations": "megatron"}, "activations", "'megatron' (expected one of implementation, korthikanti)"),
    ({"act_dtype": "bf17"}, "act_dtype", "unknown dtype 'bf17'"),
    ({"activations": "korthikanti", "kernel": "flash"}, "kernel", "korthikanti activation convention does not apply"),
    ({"activations": "korthikanti", "cp": 2}, "cp", "they model no context parallelism"),
    ({"activations": "korthikanti", "act_dtype": "fp32"}, "act_dtype", "16-bit activations"),
    ({"activations": "korthikanti", "dropout": True}, "dropout", "include the dropout masks"),
])
def test_bad_settings_are_refused(tmp_path, kwargs, field, message):
    model = _model(tmp_path)
    with pytest.raises(UsageError) as info:
        TrainingMemory(model, **kwargs).report()
    assert info.value.field == field and message in str(info.value)


def test_expert_parallelism_must_divide_the_experts_and_the_data_parallel_ranks(tmp_path):
    with pytest.raises(UsageError) as info:
        TrainingMemory(_model(tmp_path, MOE), ep=3, dp=3)
    assert info.value.field == "ep" and "expert-parallel degree (3) must divide n_experts (8)" in str(info.value)
    with pytest.raises(UsageError) as info:
        TrainingMemory(_model(tmp_path, MOE), ep=4, dp=2)
    assert info.value.field == "ep" and "must divide dp x cp (2)" in str(info.value)


@pytest.mark.parametrize("activations", ["implementation", "korthikanti"])
def test_expert_parallelism_keeps_a_share_of_the_routed_experts(tmp_path, activations):
    model = _model(tmp_path, MOE)
    n = int(model.params().xreplace(model.values))
    experts = L * 8 * 3 * 32 * D  # 8 gated experts of d_expert 32 a layer
    assert int(model.params("experts").xreplace(model.values)) == experts
    report = TrainingMemory(model, ep=4, dp=4, activations=activations).report()
    assert report["params"]["per_device"]["weights"] == n - experts + experts // 4
    assert report["bytes"]["weights"] == 2 * (n - experts + experts // 4)
    zero1 = TrainingMemory(model, ep=4, dp=4, zero=1, activations=activations).report()
    assert zero1["params"]["per_device"]["optimizer"] == -(-n // 4)  # ZeRO over dp / ep expert-data ranks


BROKEN = [
    ("width: act\n", "width: act16\n", "width"),
    ("      per_token: d_model\n      width: fp32\n", "      width: fp32\n", "expected exactly one of"),
    ("    dense: [norm, mlp]\n", "    dense: [norm, mlps]\n", "unknown group 'mlps'"),
    ("      when: [rmsnorm]\n", "      when: [rms]\n", "'rms' (expected some of"),
    ("      paths: [eager]\n", "      paths: [math]\n", "'math' (expected some of"),
    ("      kept: [full]\n", "      kept: [always]\n", "'always' (expected some of"),
    ("    checkpoint: [checkpoint]\n", "", "checkpoint: missing"),
    ("    - name: labels\n", "    - name: log_probs\n", "given twice"),
    ("  omits: >-\n", "  omitted: >-\n", "omits"),
]


@pytest.mark.parametrize("old, new, message", BROKEN)
def test_a_broken_activations_file_is_an_error(tmp_path, old, new, message):
    from mfu_sym.paths import data_path
    text = (data_path("formulas") / "activations.yaml").read_text()
    assert old in text
    folder = tmp_path / "formulas"
    folder.mkdir()
    (folder / "activations.yaml").write_text(text.replace(old, new, 1))
    path = tmp_path / "m.yaml"
    path.write_text(LLAMA)
    with pytest.raises(FormulaError) as info:
        TrainingMemory(mfu_sym.load(path, formulas=[folder]))
    assert message in str(info.value) and "activations.yaml" in str(info.value)


# ------------------------------------------------------------------ CLI
def test_cli_itemises_the_saved_tensors(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(MOE)
    result = run("memory", path, "--sdpa", "--ep", 2, "--cp", 2, "--attention-dropout")  # ep ranks: the cp ranks
    assert result.exit_code == 0, result.output
    for text in ("activations counted by: implementation", "attention sdpa", "expert_gate_up", "router_probs",
                 "once per forward", "cp 2, ep 2", "pytorch_derivatives", "transformers_modeling", "Context parallelism gives each rank"):
        assert text in result.output, text
    data = json.loads(run("memory", path, "--format", "json", "--activation-dtype", "fp32").stdout)
    assert data["activations_model"]["dtype"] == "fp32"
    assert sum(r["bytes"] for r in data["activations_itemised"]) == data["bytes"]["activations"]
    korthikanti = json.loads(run("memory", path, "--format", "json", "--activations", "korthikanti").stdout)
    assert "activations_itemised" not in korthikanti and korthikanti["activations_per_layer"] > 0


def test_cli_flash_and_eager_differ(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(LLAMA)
    eager = json.loads(run("memory", path, "--format", "json").stdout)["bytes"]["activations"]
    flash = json.loads(run("memory", path, "--format", "json", "--attention-kernel", "flash").stdout)
    assert flash["bytes"]["activations"] < eager and flash["activations_model"]["kernel"] == "flash"


@pytest.mark.parametrize("args", [["--cp", 0], ["--ep", -1], ["--activations", "paper"],
                                  ["--sdpa", "--attention-kernel", "eager"]])
def test_cli_bad_usage_is_exit_2(tmp_path, args):
    path = tmp_path / "m.yaml"
    path.write_text(LLAMA)
    result = run("memory", path, *args)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output


@pytest.mark.parametrize("args, field, message", [
    (["--cp", 3], "cp", "context-parallel degree (3) must divide seq_len (8)"),
    (["--ep", 2], "ep", "the model has no experts"),
    (["--tp", 4], "tp", "must divide n_kv_heads (2)"),
    (["--activations", "korthikanti", "--sdpa"], "kernel", "does not apply"),
    (["--activation-dtype", "fp7"], "act_dtype", "unknown dtype 'fp7'"),
])
def test_cli_bad_data_is_one_error_line(tmp_path, args, field, message):
    path = tmp_path / "m.yaml"
    path.write_text(LLAMA)
    assert_one_error_line(run("memory", path, *args), field, message)


# ------------------------------------------------------------------ the two conventions


def test_korthikanti_layer_is_the_implementation_of_a_gpt3_layer_up_to_three_terms(tmp_path):
    """Korthikanti et al. §4.1 count 34sbh + 5as^2b a GPT-3 layer (16-bit, dropout on).
    transformers' layer saves 32sbh (two LayerNorm inputs and outputs, q, k, v, the
    attention output, fc, gelu) + 7as^2b (the softmax kept in fp32 (4), the dropout mask
    (1), the dropped probabilities (2)) + 16sb (LayerNorm mean and rstd, fp32): their 2sbh
    are the two hidden dropout masks a GPT-3 layer has and these models do not."""
    s, b, h, a = 2048, 1, 12288, 96
    model = _model(tmp_path, GPT3)
    korthikanti = TrainingMemory(model, activations="korthikanti").report(batch=b)["activations_per_layer"]
    assert korthikanti == 34 * s * b * h + 5 * a * s * s * b
    report = TrainingMemory(model, dropout=True).report(batch=b)
    layer = sum(r["bytes"] for r in report["activations_itemised"] if r["layers"] != "model") // 96
    assert layer == 32 * s * b * h + 7 * a * s * s * b + 16 * s * b
    assert layer - korthikanti == 16 * s * b - 2 * s * b * h + 2 * a * s * s * b
