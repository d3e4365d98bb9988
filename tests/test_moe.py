"""Mixture of experts, MLA and MTP: published parameter counts, hand-derived FLOPs,
symbolic identities and the errors of bad MoE configs."""

import json
from pathlib import Path

import pytest
import sympy
from click.testing import CliRunner

import mfu_sym
from mfu_sym.cli import main
from mfu_sym.model import Conventions, Model
from mfu_sym.spec import from_mapping

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _params(name):
    model = mfu_sym.load(EXAMPLES / name)
    return {k: int(model.evaluate(v)) for k, v in model.param_counts().items()}


@pytest.mark.parametrize("name, total_b, active_b", [
    ("mixtral_8x7b.yaml", 47, 13),  # arXiv:2401.04088 §2.1: "47B parameters ... 13B active"
    ("olmoe_1b_7b.yaml", 6.9, 1.3),  # arXiv:2409.02060 Abstract: "7B total, 1B active"; Table 1: 6.9B / 1.3B
    ("qwen3_30b_a3b.yaml", 30.5, 3.3),  # Qwen3-30B-A3B model card: "30.5B in total and 3.3B activated"
    ("deepseek_v3.yaml", 671, 37),  # arXiv:2412.19437 Abstract: "671B total parameters with 37B activated"
])
def test_published_total_and_active_parameters(name, total_b, active_b):
    """Published figures are rounded (Qwen3 truncates 3.35B to 3.3B): within 2%."""
    counts = _params(name)
    assert abs(counts["total"] / 1e9 - total_b) <= 0.02 * total_b
    assert abs(counts["active"] / 1e9 - active_b) <= 0.02 * active_b


def test_deepseek_v3_active_parameters_against_readme_weights():
    """README_WEIGHTS.md says 36.7B activated (0.9B embedding + 0.9B head included); the
    count here, total minus the 248 idle routed experts of each of the 58 MoE layers, is
    37.55B. The 0.85B gap equals 58 x 7168 x 2048, one expert matrix per MoE layer; the
    source of the README's figure is not published (see the README, "MoE")."""
    counts = _params("deepseek_v3.yaml")
    assert counts["active"] - 36_700_000_000 == pytest.approx(58 * 7168 * 2048, rel=0.01)


def test_deepseek_v3_by_hand():
    """DeepSeek-V3's config (arXiv:2412.19437 §4.2), counted here term by term."""
    d, h, V = 7168, 128, 129280
    r_q, r_kv, nope, rope, dv = 1536, 512, 128, 64, 128
    mla = (d * r_q + r_q + r_q * h * (nope + rope) + d * (r_kv + rope) + r_kv
           + r_kv * h * (nope + dv) + h * dv * d)
    expert = 3 * d * 2048
    dense_layer = mla + 3 * d * 18432 + 2 * d
    moe_layer = mla + 256 * d + 256 * expert + expert + 2 * d
    total = 2 * V * d + 3 * dense_layer + 58 * moe_layer + d
    active = total - 58 * (256 - 8) * expert
    counts = _params("deepseek_v3.yaml")
    assert (counts["total"], counts["active"]) == (total, active)
    mtp = mfu_sym.load(EXAMPLES / "deepseek_v3.yaml")
    assert mtp.evaluate(mtp.params("mtp")) == 2 * d * d + 3 * d + moe_layer
    # README_WEIGHTS: "MTP ... 11.5B unique parameters"
    assert round(mtp.evaluate(mtp.params("mtp")) / 1e9) == 12


def test_mtp_left_out_by_default_and_counted_on_request():
    without = mfu_sym.load(EXAMPLES / "deepseek_v3.yaml")
    with_mtp = mfu_sym.load(EXAMPLES / "deepseek_v3.yaml", mtp=True)
    assert "mtp" not in without.components and "mtp" in with_mtp.components
    assert sympy.expand(with_mtp.training() - without.training() - with_mtp.training("mtp")) == 0
    assert sympy.expand(with_mtp.params() - without.params() - with_mtp.params("mtp")) == 0
    d, V = 7168, 129280
    # MTP forward per token includes its own logits through the shared head: 2*d*V
    logits = with_mtp.evaluate(with_mtp.forward("mtp") - with_mtp.forward("mtp").subs(
        with_mtp.library.symbol("vocab_size"), 0), seq_len=1)
    assert logits == 2 * d * V


def _moe(**overrides):
    fields = dict(name="m", d_model=64, n_layers=4, n_heads=4, d_ff=96, vocab_size=100, n_experts=8, top_k=2,
                  d_expert=32)
    fields.update(overrides)
    return from_mapping(fields, "test")


def test_routed_experts_cost_top_k_experts_per_token():
    model = Model(_moe(d_shared=48, dense_layers=[0]))
    per_token = lambda c: model.evaluate(model.forward(c), seq_len=1)
    assert per_token("router") == 3 * 2 * 64 * 8
    assert per_token("experts") == 3 * 2 * (3 * 2 * 64 * 32)
    assert per_token("shared_experts") == 3 * 3 * 2 * 64 * 48
    assert per_token("mlp") == 1 * 3 * 2 * 64 * 96
    assert model.evaluate(model.params("experts")) == 3 * 8 * 3 * 64 * 32
    assert model.evaluate(model.active_params("experts")) == 3 * 2 * 3 * 64 * 32


def test_moe_training_is_three_times_forward():
    model = Model(_moe(d_shared=48, shared_expert_gate=True, dense_layers=[1]))
    assert sympy.expand(model.training() - 3 * model.forward()) == 0


@pytest.mark.parametrize("factor, executed_over_model", [("1", 1), ("2", 2), ("0.5", sympy.Rational(1, 2))])
def test_capacity_factor_executed_expert_flops(factor, executed_over_model):
    model = Model(_moe())
    # 2 sequences x 16 tokens x top-2 over 8 experts: 8 slots each at C = 1
    cap = model.capacity(factor, seq_len=16, batch=2)
    assert cap["slots_per_expert"] == sympy.ceiling(sympy.Rational(factor) * 8)
    assert cap["experts_forward_executed"] == executed_over_model * cap["experts_forward_model"]
    assert cap["experts_forward_model"] == model.evaluate(2 * model.forward("experts"), seq_len=16)
    expected_dropped = max(0, 64 - 8 * cap["slots_per_expert"])
    assert cap["dropped_assignments"] == expected_dropped


def test_capacity_rounds_slots_up():
    cap = Model(_moe()).capacity("1.1", seq_len=3, batch=1)  # 1.1 * 3 * 2 / 8 = 0.825 -> 1 slot
    assert cap["slots_per_expert"] == 1 and cap["padded_slots"] == 2


def test_mla_absorbed_form_by_hand():
    """Absorbed MLA (DeepSeek-V2 §2.1.2): scores in the latent, kv_b_proj folded into the
    query and the output. Same parameters, different FLOPs."""
    arch = from_mapping(dict(name="m", d_model=64, n_layers=1, n_heads=4, d_ff=96, vocab_size=100,
                             kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=6), "t")
    naive, absorbed = Model(arch), Model(arch, Conventions(mla="absorbed", mask="full"))
    assert sympy.expand(naive.params() - absorbed.params()) == 0
    s = 10
    h, r, nope, rope, dv = 4, 16, 8, 4, 6
    assert absorbed.evaluate(absorbed.forward("attention_core"), seq_len=s) == s * s * 2 * h * (2 * r + rope)
    naive_full = Model(arch, Conventions(mask="full"))
    assert naive_full.evaluate(naive_full.forward("attention_core"), seq_len=s) == s * s * 2 * h * (nope + rope + dv)
    difference = absorbed.forward("attention_projections") - naive.forward("attention_projections")
    expected = s * (2 * h * nope * r + 2 * h * r * dv - 2 * r * h * (nope + dv))
    assert absorbed.evaluate(difference, seq_len=s) == expected == 0  # same projection FLOPs per token


def test_derive_text_shows_total_active_and_each_moe_component():
    out = CliRunner().invoke(main, ["derive", str(EXAMPLES / "deepseek_v3.yaml")]).output
    for text in ("active", "router", "experts", "shared_experts", "components counted in MFU",
                 "Multi-token prediction: not counted"):
        assert text in out


def test_derive_json_capacity_and_mtp():
    result = CliRunner().invoke(main, ["derive", str(EXAMPLES / "mixtral_8x7b.yaml"), "--seq-len", "64",
                                       "--capacity-factor", "1.25", "--format", "json"])
    data = json.loads(result.stdout)
    assert data["capacity"]["slots_per_expert"] == 20  # ceil(1.25 * 64 * 2 / 8)
    assert data["capacity"]["experts_forward_executed"] * 4 == data["capacity"]["experts_forward_model"] * 5
    data = json.loads(CliRunner().invoke(main, ["derive", str(EXAMPLES / "deepseek_v3.yaml"), "--mtp",
                                                "--format", "json"]).output)
    assert data["mtp"]["counted"] is True and "mtp" in data["flops"]["components"]


BASE = "d_model: 64\nn_layers: 2\nn_heads: 4\nd_ff: 96\nvocab_size: 100\n"


@pytest.mark.parametrize("text, field, message", [
    (BASE + "n_experts: 4\ntop_k: 5\nd_expert: 8\n", "top_k", "larger than n_experts (4)"),
    (BASE + "n_experts: 0\ntop_k: 1\nd_expert: 8\n", "top_k", "given, but n_experts is not"),  # 0: none
    (BASE + "n_experts: -2\ntop_k: 1\nd_expert: 8\n", "n_experts", "-2 is negative"),
    (BASE + "n_experts: 4\nd_expert: 8\n", "top_k", "missing"),
    (BASE + "top_k: 2\n", "top_k", "n_experts is not"),
    (BASE + "n_experts: 4\ntop_k: 1\nd_expert: 8\ndense_layers: [0, 1]\n", "dense_layers", "every layer is dense"),
    (BASE + "n_experts: 4\ntop_k: 1\nd_expert: 8\ndense_layers: [5]\n", "dense_layers", "does not exist"),
    (BASE + "n_experts: 4\ntop_k: 1\nd_expert: 8\nshared_expert_gate: true\n", "shared_expert_gate", "no shared"),
    (BASE + "kv_lora_rank: 0\nv_head_dim: 8\n", "v_head_dim", "given, but kv_lora_rank is not"),  # 0: no MLA
    (BASE + "kv_lora_rank: -16\n", "kv_lora_rank", "-16 is negative"),
    (BASE + "kv_lora_rank: 16\nqk_nope_head_dim: 8\nqk_rope_head_dim: 4\n", "v_head_dim", "missing"),
    (BASE + "q_lora_rank: 8\n", "q_lora_rank", "kv_lora_rank is not"),
])
def test_bad_moe_and_mla_model_files(tmp_path, text, field, message):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["derive", str(path), "--seq-len", "8"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: {path}: {field}: ") and message in result.output


@pytest.mark.parametrize("config, field, message", [
    ({"model_type": "mixtral", "num_local_experts": 2, "num_experts_per_tok": 3}, "top_k", "larger than n_experts"),
    ({"model_type": "mixtral", "num_local_experts": 0}, "num_local_experts", "not positive"),
    ({"model_type": "qwen3_moe", "num_experts": -1}, "num_experts", "-1 is negative"),  # 0: dense MLPs
    ({"model_type": "deepseek_v3", "kv_lora_rank": 0}, "kv_lora_rank", "not positive"),
    ({"model_type": "deepseek_v3", "q_lora_rank": -1}, "q_lora_rank", "-1 is negative"),
    ({"model_type": "deepseek_v3", "q_lora_rank": 0}, "q_lora_rank", "zero-width query projections"),
    ({"model_type": "deepseek_v3", "num_key_value_heads": 1}, "num_key_value_heads", "equals num_attention_heads"),
    ({"model_type": "deepseek_v3", "attention_bias": True}, "attention_bias", "not supported"),
    ({"model_type": "qwen2_moe", "decoder_sparse_step": 0}, "decoder_sparse_step", "not positive"),
    ({"model_type": "qwen2_moe", "mlp_only_layers": [-1]}, "mlp_only_layers[0]", "not a layer index"),
])
def test_bad_moe_configs(tmp_path, config, field, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    result = CliRunner().invoke(main, ["derive", str(path), "--seq-len", "8"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: {path}: {field}: ") and message in result.output


@pytest.mark.parametrize("name", ["mixtral_8x7b", "qwen3_30b_a3b", "olmoe_1b_7b", "deepseek_v3"])
def test_moe_yaml_examples_match_their_published_configs(name):
    a = mfu_sym.load(EXAMPLES / f"{name}.yaml").report(seq_len=2048)
    b = mfu_sym.load(EXAMPLES / "hf" / name / "config.json").report(seq_len=2048)
    assert a["params"] == b["params"] and a["flops"]["training"] == b["flops"]["training"]
