"""`mfu-sym memory` and mfu_sym.memory: training memory per device, checked against hand
computations of the published formulas (ZeRO, arXiv:1910.02054; Korthikanti et al.
2022, arXiv:2205.05198), and the dtype table's facts."""

import json

import pytest
import sympy
from click.testing import CliRunner

import mfu_sym
from cli_helpers import assert_one_error_line
from mfu_sym.cli import main
from mfu_sym.errors import UsageError
from mfu_sym.memory import TrainingMemory, load_data

run = lambda *args: CliRunner().invoke(main, [str(a) for a in args])

# GPT-3 175B as Korthikanti et al. 2022 Table 3 run it: a = 96 heads, h = 12288, L = 96,
# s = 2048 (vocabulary and biases do not enter the activation formulas).
GPT3 = """name: GPT-3 175B
d_model: 12288
n_layers: 96
n_heads: 96
d_ff: 49152
vocab_size: 51200
mlp: plain
norm: layernorm
attention_bias: all
mlp_bias: true
position_embedding: learned
n_positions: 2048
tied_embeddings: true
seq_len: 2048
"""
S, H, A, L = 2048, 12288, 96, 96


def _model(tmp_path, text=GPT3, **conventions):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return mfu_sym.load(path, **conventions)


def _activations(tmp_path, recompute="none", batch=1, **parallel):
    memory = TrainingMemory(_model(tmp_path, recompute=recompute), activations="korthikanti", **parallel)
    return memory.report(batch=batch)


# ------------------------------------------------------------------ Korthikanti et al. 2022

def test_korthikanti_eq1_gpt3_no_recompute(tmp_path):
    report = _activations(tmp_path)
    # sbh(34 + 5as/h): 5 * 96 * 2048 / 12288 = 80, so 114 bytes per s*b*h
    per_layer = S * 1 * H * 34 + 5 * A * S * S * 1
    assert per_layer == S * H * 114
    assert report["activations_per_layer"] == per_layer
    assert report["bytes"]["activations"] == L * per_layer  # about 275 GB: why GPT-3 recomputes


def test_korthikanti_selective_and_full_recompute(tmp_path):
    assert _activations(tmp_path, "selective")["activations_per_layer"] == 34 * S * H
    assert _activations(tmp_path, "full")["activations_per_layer"] == 2 * S * H
    assert _activations(tmp_path, "full", batch=4)["bytes"]["activations"] == L * 2 * S * 4 * H


@pytest.mark.parametrize("recompute, sequence_parallel, coefficient", [
    ("none", False, 10 + sympy.Rational(24, 8) + sympy.Rational(5 * A * S, H * 8)),  # sbh(10 + 24/t + 5as/(ht))
    ("none", True, sympy.Rational(34 + 5 * A * S // H, 8)),                          # sbh(34 + 5as/h) / t
    ("selective", False, 10 + sympy.Rational(24, 8)),                                # sbh(10 + 24/t)
    ("selective", True, sympy.Rational(34, 8)),                                      # sbh 34/t
    ("full", False, 2), ("full", True, 2),                                           # sbh 2
])
def test_korthikanti_table2_with_tensor_parallelism(tmp_path, recompute, sequence_parallel, coefficient):
    report = _activations(tmp_path, recompute, tp=8, sequence_parallel=sequence_parallel)
    assert report["activations_per_layer"] == S * H * coefficient


def test_pipeline_first_stage_holds_every_layer(tmp_path):
    # 1F1B: pp micro-batches in flight, n_layers / pp layers each (§4.2.3)
    assert _activations(tmp_path, pp=8)["layers_held"] == L
    assert _activations(tmp_path, pp=5)["layers_held"] == 5 * 20  # ceil(96 / 5) layers on the first stage


# ------------------------------------------------------------------ ZeRO

def test_zero_figure1_7_5b_on_64_gpus(example):
    """ZeRO Figure 1: Psi = 7.5B, K = 12, N_d = 64 -> 120 GB, 31.4 GB, 16.6 GB, 1.9 GB."""
    model = mfu_sym.load(example("llama3_8b.yaml"))
    expected = {0: sympy.Integer(120 * 10**9), 1: sympy.Rational(314_062_500 * 10**2),
                2: sympy.Rational(166_406_250 * 10**2), 3: sympy.Rational(1_875 * 10**6)}
    for stage, total in expected.items():
        memory = TrainingMemory(model, dp=64, zero=stage)
        f = memory.formulas()
        states = (f["weights"] + f["gradients"] + f["optimizer"]).xreplace({
            memory.symbols["n_params"]: 7_500_000_000, memory.symbols["tp"]: 1, memory.symbols["pp"]: 1,
            memory.symbols["dp"]: 64, memory.symbols["weight_bits"]: 16, memory.symbols["grad_bits"]: 16,
            memory.symbols["optimizer_bytes"]: 12})
        assert states == total
    assert round(float(expected[1]) / 1e9, 1) == 31.4 and round(float(expected[2]) / 1e9, 1) == 16.6


def test_mixed_precision_adam_is_16_bytes_a_parameter(example):
    report = TrainingMemory(mfu_sym.load(example("llama3_8b.yaml"))).report(seq_len=8192)
    n = 8_030_261_248
    assert report["precision"]["bytes_per_param"] == 16
    assert report["bytes"]["weights"] == 2 * n and report["bytes"]["gradients"] == 2 * n
    assert report["bytes"]["optimizer"] == 12 * n


@pytest.mark.parametrize("optimizer, dtype, k", [
    ("adam", "bf16", 12), ("adamw", "fp16", 12), ("adam", "fp32", 8),      # fp32 weights: no master copy
    ("adam-8bit", "bf16", 6), ("sgd-momentum", "bf16", 8), ("sgd", "bf16", 4), ("sgd", "fp32", 0),
    ("lion", "bf16", 8),
])
def test_optimizer_bytes_per_parameter(example, optimizer, dtype, k):
    memory = TrainingMemory(mfu_sym.load(example("llama3_8b.yaml")), optimizer=optimizer, dtype=dtype)
    assert memory.k == k


def test_sharding_rounds_up_per_device(example):
    model = mfu_sym.load(example("llama3_8b.yaml"))
    n = 8_030_261_248
    report = TrainingMemory(model, tp=8, pp=3, dp=7, zero=3).report(seq_len=4096)
    shard = -(-n // (8 * 3 * 7))
    assert report["params"]["per_device"] == {"weights": shard, "gradients": shard, "optimizer": shard}
    assert report["bytes"]["weights"] == 2 * shard and report["bytes"]["optimizer"] == 12 * shard
    stage2 = TrainingMemory(model, tp=8, pp=3, dp=7, zero=2).report(seq_len=4096)
    assert stage2["params"]["per_device"]["weights"] == -(-n // 24)


def test_symbolic_forms_give_the_reported_numbers(example):
    memory = TrainingMemory(mfu_sym.load(example("llama3_8b.yaml")), tp=2, zero=1, dp=4)
    report = memory.report(seq_len=1024, batch=2)
    values = memory.run_values(seq_len=1024, batch=2)
    for part, expression in memory.expressions().items():
        assert not expression.has(memory.symbols["n_params"])
        assert expression.has(memory.model.library.symbol("d_model"))
        assert sympy.ceiling(expression.xreplace(values)) == report["bytes"][part]


# ------------------------------------------------------------------ facts

def test_dtype_table():
    data = load_data()
    sizes = {d.name: d.bytes for d in data.dtypes}
    assert sizes == {"fp64": 8, "fp64_tensor": 8, "fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1,
                     "fp6": sympy.Rational(3, 4), "fp4": sympy.Rational(1, 2), "int8": 1, "int4": sympy.Rational(1, 2)}
    library = mfu_sym.load_library()
    for d in data.dtypes:
        assert d.reference.cite in library.references and d.reference.where


# ------------------------------------------------------------------ CLI

def test_cli_text_and_json(example):
    result = run("memory", example("llama3_8b.yaml"), "--seq-len", 8192, "--batch", 1, "--hardware", "h100")
    assert result.exit_code == 0, result.output
    assert "16,060,522,496" in result.output and "does NOT fit" in result.output
    assert "korthikanti2022" in result.output and "rajbhandari2020" in result.output
    result = run("memory", example("llama3_8b.yaml"), "--seq-len", 1024, "--zero", 3, "--dp", 8,
                 "--recompute", "full", "--hardware", "h100", "--format", "json")
    device = json.loads(result.stdout)["device"]
    assert device["fits"] is True and device["memory_bytes"] == 80 * 10**9
    result = run("memory", example("llama3_70b.yaml"), "--seq-len", 8192, "--tp", 8, "--pp", 4, "--dp", 16,
                 "--zero", 1, "--sequence-parallel", "--recompute", "selective", "--activations", "korthikanti",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "device" not in data
    assert data["bytes"]["total"] == sum(data["bytes"][k] for k in ("weights", "gradients", "optimizer",
                                                                     "activations"))
    assert data["activations_per_layer"] == 34 * 8192 * 8192 // 8
    assert data["parallelism"] == {"tp": 8, "pp": 4, "dp": 16, "zero": 1, "sequence_parallel": True,
                                   "cp": 1, "ep": 1, "devices": 512}


@pytest.mark.parametrize("args", [["--zero", 4], ["--tp", 0], ["--dp", -1], ["--seq-len", 0],
                                  ["--recompute", "some"], ["--format", "xml"]])
def test_bad_usage_is_clicks_exit_2(example, args):
    result = run("memory", example("llama3_8b.yaml"), *args)
    assert result.exit_code == 2, result.output


@pytest.mark.parametrize("args, field, message", [
    (["--optimizer", "adagrad"], "optimizer", "unknown optimizer 'adagrad' (expected one of: adam, adamw"),
    (["--dtype", "bf17"], "dtype", "unknown dtype 'bf17'"),
    (["--grad-dtype", "x"], "grad_dtype", "unknown dtype 'x'"),
    (["--tp", 3], "tp", "tensor-parallel degree (3) must divide n_heads (32)"),
    (["--pp", 33], "pp", "pipeline-parallel degree (33) exceeds n_layers (32)"),
    (["--hardware", "tpu-v99"], "accelerator", "unknown accelerator"),
])
def test_bad_data_is_one_error_line_exit_1(example, args, field, message):
    result = run("memory", example("llama3_8b.yaml"), "--seq-len", 128, *args)
    assert_one_error_line(result, field, message)


def test_the_library_refuses_bad_settings(example):
    model = mfu_sym.load(example("llama3_8b.yaml"))
    for kwargs, field in [({"zero": 5}, "zero"), ({"zero": True}, "zero"), ({"tp": 0}, "tp"),
                          ({"dp": 1.5}, "dp"), ({"optimizer": "nope"}, "optimizer")]:
        with pytest.raises(UsageError) as info:
            TrainingMemory(model, **kwargs)
        assert info.value.field == field


def test_help_has_an_example():
    result = run("memory", "--help")
    assert result.exit_code == 0 and "mfu-sym memory examples/llama3_8b.yaml" in result.output
