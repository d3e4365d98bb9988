"""`mfu-sym infer` and mfu_sym.inference: prefill, decode steps, whole generations, the
KV cache, weights, bytes moved, the roofline and MBU. Expected values are computed here
by hand from the sizes, not by the engine; the exact agreement with what transformers
executes is in tests/crosscheck/test_decode.py."""

import json

import pytest
import sympy
from click.testing import CliRunner

import mfu_sym
from cli_helpers import assert_one_error_line
from mfu_sym.cli import main
from mfu_sym.errors import UsageError

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
from mfu_sym.hardware import load_hardware
from mfu_sym.inference import Inference

run = lambda *args: CliRunner().invoke(main, [str(a) for a in args])

LLAMA3_8B_PARAMS = 8_030_261_248  # tests/test_model.py: the reference count


def _model(tmp_path, text, name="m.yaml", **conventions):
    path = tmp_path / name
    path.write_text(text)
    return mfu_sym.load(path, **conventions)


# ------------------------------------------------------------------ Llama-3-8B

def test_llama3_8b_kv_cache_and_weights(example):
    report = Inference(mfu_sym.load(example("llama3_8b.yaml")), dtype="bf16").report(8192)
    assert report["kv_cache_bytes_per_token"] == 32 * 2 * 8 * 128 * 2 == 131_072
    assert report["kv_cache_bytes"] == 131_072 * 8192
    assert report["weights_bytes"] == LLAMA3_8B_PARAMS * 2 == 16_060_522_496  # 16.06 GB
    assert report["params"] == LLAMA3_8B_PARAMS


def test_llama3_8b_decode_at_batch_1_is_memory_bound_on_h100(example):
    report = Inference(mfu_sym.load(example("llama3_8b.yaml"))).report(8192, hardware="h100")
    h100 = load_hardware().resolve("h100")
    roof = report["roofline"]
    decode = roof["decode_step"]
    assert decode["bound"] == "memory"
    assert decode["memory_s"] > 100 * decode["compute_s"]
    # weights read: every parameter but the untied embedding table (one row is looked up)
    weights_read = (LLAMA3_8B_PARAMS - 128256 * 4096 + 4096) * 2
    assert report["decode_step"]["bytes_weights"] == weights_read
    assert report["decode_step"]["bytes"] == weights_read + 131_072 * 8192
    ceiling = h100.bandwidth_bytes_per_s / (weights_read + 131_072 * 8192)
    assert decode["tokens_per_sec"] == pytest.approx(ceiling, rel=1e-12)
    assert 200 < decode["tokens_per_sec"] < 215  # 3.35 TB/s over ~16.08 GB
    assert roof["ridge_point"] == pytest.approx(989e12 / 3.35e12)


def test_llama3_8b_cli_states_the_bound_and_the_ceiling(example):
    result = run("infer", example("llama3_8b.yaml"), "--context", 8192, "--hardware", "h100")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "131,072 bytes" in out and "16,060,522,496 bytes" in out
    decode_row = next(line for line in out.splitlines() if line.strip().startswith("decode step"))
    assert "memory-bound" in decode_row and "tokens/s" in decode_row
    assert "NVIDIA H100" in out


def test_json_contract(example):
    result = run("infer", example("llama3_8b.yaml"), "--context", 4096, "--prompt-len", 1000, "--batch", 4,
                 "--hardware", "h100", "--decode-tokens-per-sec", 600, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("weights_bytes", "kv_cache_bytes", "kv_cache_bytes_per_token"):
        assert isinstance(data[key], int)
    assert data["kv_cache_bytes"] == 4 * 4096 * 131_072
    assert isinstance(data["prefill"]["flops"], int) and isinstance(data["decode_step"]["flops"], int)
    assert isinstance(data["decode_step"]["bytes"], int)
    assert data["generation"]["decode_steps"] == 4096 - 1000
    assert data["roofline"]["decode_step"]["bound"] in ("memory", "compute")
    assert data["roofline"]["fits"] is True
    assert 0 < data["measured"]["mbu"] < 1 and 0 < data["measured"]["mfu"] < 1
    assert set(data["formulas"]) >= {"decode_step_flops", "kv_cache_bytes", "weights_bytes", "prefill_flops"}


def test_mbu_and_decode_mfu_by_hand(example):
    model = mfu_sym.load(example("llama3_8b.yaml"))
    report = Inference(model).report(2048, batch=8, hardware="h100", decode_tokens_per_sec=1000.0)
    h100 = load_hardware().resolve("h100")
    step = report["decode_step"]
    # 1000 tokens/s at batch 8 = 125 steps/s, each moving step["bytes"]
    assert report["measured"]["mbu"] == pytest.approx(125 * int(step["bytes"]) / h100.bandwidth_bytes_per_s)
    assert report["measured"]["mfu"] == pytest.approx(125 * int(step["flops"]) / h100.peak_flops("bf16"))


# ------------------------------------------------------------------ by hand

SMALL = """d_model: 64
n_layers: 2
n_heads: 4
n_kv_heads: 2
d_head: 16
d_ff: 96
vocab_size: 100
"""


def _dense_decode_by_hand(context, window=None, batch=1):
    d, h, kv, dh, ff, v, layers = 64, 4, 2, 16, 96, 100, 2
    keys = min(context, window) if window else context
    per_layer = (2 * d * h * dh      # q_proj
                 + 2 * d * kv * dh   # k_proj
                 + 2 * d * kv * dh   # v_proj
                 + 2 * h * dh * d    # o_proj
                 + 2 * h * dh * keys + 2 * h * dh * keys  # scores and weighted values over `keys`
                 + 3 * 2 * d * ff)   # gated MLP
    return batch * (layers * per_layer + 2 * d * v)  # + the LM head


@pytest.mark.parametrize("context", [1, 2, 7, 50])
def test_dense_decode_step_by_hand(tmp_path, context):
    inference = Inference(_model(tmp_path, SMALL))
    assert inference.report(context, batch=3)["decode_step"]["flops"] == _dense_decode_by_hand(context, batch=3)


@pytest.mark.parametrize("context", [1, 4, 5, 6, 30])
def test_sliding_window_decode_and_cache_by_hand(tmp_path, context):
    inference = Inference(_model(tmp_path, SMALL + "window: 5\n"))
    report = inference.report(context, batch=2)
    assert report["decode_step"]["flops"] == _dense_decode_by_hand(context, window=5, batch=2)
    # the cache holds min(C, W) positions a layer: 2 layers x (K and V of 2 heads x 16) x 2 bytes
    assert report["kv_cache_bytes"] == 2 * min(context, 5) * 2 * (2 * 2 * 16) * 2
    assert report["kv_cache_bytes_per_token"] == 2 * (2 * 2 * 16) * 2


def test_mixed_layers_cache_each_kind_its_own_way(tmp_path):
    inference = Inference(_model(tmp_path, SMALL.replace("n_layers: 2", "n_layers: 3")
                                 + "window: 4\nlayer_types: [sliding_attention, full_attention, sliding_attention]\n"))
    report = inference.report(10)
    assert report["kv_cache"]["positions_per_layer"] == {"causal": 10, "sliding_window": 4}
    assert report["kv_cache_bytes"] == (10 + 4 + 4) * (2 * 2 * 16) * 2


def test_mqa_caches_one_head(tmp_path):
    report = Inference(_model(tmp_path, SMALL.replace("n_kv_heads: 2", "n_kv_heads: 1")), kv_dtype="fp8").report(10)
    assert report["kv_cache_bytes_per_token"] == 2 * (2 * 1 * 16) * 1


MLA = """d_model: 32
n_layers: 1
n_heads: 2
d_ff: 64
vocab_size: 50
kv_lora_rank: 8
qk_nope_head_dim: 4
qk_rope_head_dim: 2
v_head_dim: 4
"""


@pytest.mark.parametrize("context", [1, 2, 9])
def test_mla_decode_naive_and_absorbed_by_hand(tmp_path, context):
    d, h, r, nope, rope, dv, ff, v = 32, 2, 8, 4, 2, 4, 64, 50
    common = (2 * d * h * (nope + rope)  # q_proj (no query compression)
              + 2 * d * (r + rope)        # kv_a_proj_with_mqa
              + 2 * h * dv * d            # o_proj
              + 3 * 2 * d * ff            # MLP
              + 2 * d * v)                # LM head
    kv_b = 2 * r * h * (nope + dv)
    naive = common + kv_b * context + 2 * h * context * (nope + rope) + 2 * h * context * dv
    absorbed = (common + 2 * h * nope * r + 2 * h * r * dv          # W^UK into the query, W^UV after
                + 2 * h * context * (r + rope) + 2 * h * context * r)  # scores and sums in the latent
    assert Inference(_model(tmp_path, MLA)).report(context)["decode_step"]["flops"] == naive
    report = Inference(_model(tmp_path, MLA, mla="absorbed")).report(context)
    assert report["decode_step"]["flops"] == absorbed
    # both cache the latent and the shared rotary key
    assert report["kv_cache_bytes"] == context * (r + rope) * 2
    assert report["kv_cache"]["layout"] == ["mla_latent"]


def test_the_mask_switch_changes_the_prefill_not_the_decode_step(tmp_path):
    causal = Inference(_model(tmp_path, SMALL)).report(16)
    full = Inference(_model(tmp_path, SMALL, mask="full")).report(16)
    assert full["decode_step"] == causal["decode_step"]
    assert full["prefill"]["flops"] - causal["prefill"]["flops"] == 2 * 4 * 4 * 16 * (16 * 16 - 16 * 17 // 2)


def test_presets_count_the_decode_step_their_way(example):
    exact = Inference(mfu_sym.load(example("llama3_8b.yaml"))).report(1024)
    # 6n: 2 FLOPs per parameter per token, no attention term, whatever the context
    six_n = Inference(mfu_sym.load(example("llama3_8b.yaml"), preset="6n")).report(1024, batch=3)
    assert six_n["decode_step"]["flops"] == 3 * 2 * LLAMA3_8B_PARAMS
    # torch (FlopCounterMode: what executes, full square in a prefill) decodes like exact
    torch = Inference(mfu_sym.load(example("llama3_8b.yaml"), preset="torch")).report(1024)
    assert torch["decode_step"]["flops"] == exact["decode_step"]["flops"]
    assert torch["prefill"]["flops"] > exact["prefill"]["flops"]


# ------------------------------------------------------------------ generation

def test_prefill_plus_decode_is_the_causal_forward(example):
    """prefill(P) + decode steps P+1..C = the causal forward over C tokens, symbolically."""
    inference = Inference(mfu_sym.load(example("llama3_8b.yaml")))
    model = inference.model
    whole = inference.batch * model.forward().subs(model.seq_len, inference.context)
    assert sympy.simplify(inference.generation_flops() - whole) == 0


@pytest.mark.parametrize("text, conventions", [(SMALL, {}), (SMALL + "window: 5\n", {}), (MLA, {}),
                                               (MLA, {"mla": "absorbed"}), (SMALL, {"mask": "full"})])
@pytest.mark.parametrize("prompt, context", [(1, 1), (1, 12), (3, 4), (6, 11), (5, 5)])
def test_generation_closed_form_is_the_sum_of_its_steps(tmp_path, text, conventions, prompt, context):
    inference = Inference(_model(tmp_path, text, **conventions))
    report = inference.report(context, prompt_len=prompt, batch=2)
    steps = [inference.report(c, prompt_len=1, batch=2)["decode_step"] for c in range(prompt + 1, context + 1)]
    assert report["generation"]["decode_flops"] == sum(s["flops"] for s in steps)
    assert report["generation"]["decode_bytes"] == sum(s["bytes"] for s in steps)
    assert report["generation"]["flops"] == report["prefill"]["flops"] + report["generation"]["decode_flops"]
    assert report["generation"]["decode_steps"] == context - prompt


# ------------------------------------------------------------------ MoE

@pytest.mark.parametrize("batch", [1, 2, 5, 100])
def test_moe_experts_read_per_step(example, batch):
    model = mfu_sym.load(example("mixtral_8x7b.yaml"))
    expected = Inference(model).report(1024, batch=batch)["decode_step"]
    everything = Inference(model, experts="all").report(1024, batch=batch)["decode_step"]
    e = expected["experts_touched"]
    assert e["per_moe_layer"] == 8 * (1 - sympy.Rational(6, 8) ** batch)  # top-2 of 8, uniform routing
    if batch == 1:
        assert e["per_moe_layer"] == 2
    assert e["min"] == 2 and e["max"] == min(8, 2 * batch)
    assert everything["experts_touched"]["per_moe_layer"] == 8
    assert expected["bytes"] <= everything["bytes"]
    # all experts touched: the decode step reads every parameter but the embedding table
    params = model.evaluate(model.params())
    table = 32000 * 4096
    assert everything["bytes_weights"] == (params - table + min(batch, 32000) * 4096) * 2


def test_moe_weights_are_all_resident(example):
    model = mfu_sym.load(example("mixtral_8x7b.yaml"))
    report = Inference(model, dtype="fp8").report(100)
    assert report["weights_bytes"] == model.evaluate(model.params())  # 1 byte each, every expert


def test_tied_embeddings_are_read_whole_by_the_lm_head(tmp_path):
    tied = Inference(_model(tmp_path, SMALL + "tied_embeddings: true\n")).report(4)
    untied = Inference(_model(tmp_path, SMALL)).report(4)
    # untied: the table (100 x 64) is read at one row; the LM head (64 x 100) in full
    assert untied["decode_step"]["bytes_weights"] - tied["decode_step"]["bytes_weights"] == 64 * 2


def test_four_bit_weights_pack_two_to_a_byte(tmp_path):
    model = _model(tmp_path, SMALL)
    report = Inference(model, dtype="int4", kv_dtype="bf16").report(8)
    params = int(model.evaluate(model.params()))
    assert report["weights_bytes"] == (params + 1) // 2


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("args", [["--context", 0], ["--context", -3], ["--context", "x"], [],
                                  ["--context", 10, "--prompt-len", 0], ["--context", 10, "--batch", 0],
                                  ["--context", 10, "--experts-touched", "some"], ["--context", 10, "--format", "pdf"],
                                  ["--context", 10, "--gpus", 0]])
def test_bad_usage_is_clicks_exit_2(example, args):
    result = run("infer", example("llama3_8b.yaml"), *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_context_zero_is_refused(example):
    result = run("infer", example("llama3_8b.yaml"), "--context", 0)
    assert result.exit_code == 2 and "--context" in result.output and "Traceback" not in result.output


def test_a_prompt_longer_than_the_context_is_refused(example):
    result = run("infer", example("llama3_8b.yaml"), "--context", 100, "--prompt-len", 101)
    assert result.exit_code == 2
    assert "--prompt-len" in result.output and "longer than the context (100)" in result.output


def test_mbu_needs_hardware(example):
    result = run("infer", example("llama3_8b.yaml"), "--context", 100, "--decode-tokens-per-sec", 50)
    assert result.exit_code == 2 and "--hardware" in result.output


@pytest.mark.parametrize("args, field, message", [
    (["--dtype", "bf17"], "dtype", "unknown dtype 'bf17' (expected one of: fp64, fp64_tensor, fp32"),
    (["--kv-dtype", "fp7"], "kv_dtype", "unknown dtype 'fp7'"),
    (["--dtype", "int4", "--hardware", "h100"], "peak_dtype", "give --peak-dtype"),
    (["--hardware", "h100", "--peak-dtype", "fp3"], "peak_dtype", "unknown dtype 'fp3'"),
    (["--hardware", "h1000"], "accelerator", "unknown accelerator 'h1000'"),
])
def test_bad_data_is_one_error_line_exit_1(example, args, field, message):
    result = run("infer", example("llama3_8b.yaml"), "--context", 100, *args)
    assert_one_error_line(result, field, message)


def test_the_library_refuses_bad_runs(example):
    inference = Inference(mfu_sym.load(example("llama3_8b.yaml")))
    for kwargs, field in [({"context": 0}, "context"), ({"context": 10, "prompt_len": 11}, "prompt_len"),
                          ({"context": 10, "batch": -1}, "batch"), ({"context": 10.5}, "context")]:
        with pytest.raises(UsageError) as info:
            inference.report(**kwargs)
        assert info.value.field == field
    with pytest.raises(UsageError):
        Inference(inference.model, experts="most")
    with pytest.raises(UsageError, match="MBU needs"):
        inference.report(10, decode_tokens_per_sec=5.0)


def test_dtype_aliases(example):
    model = mfu_sym.load(example("llama3_8b.yaml"))
    for spelling in ("bfloat16", "BF16", " bf16 "):
        assert Inference(model, dtype=spelling).weight_dtype.name == "bf16"
    assert Inference(model, dtype="float8_e4m3fn").weight_dtype.bits == 8


def test_help_has_an_example():
    result = run("infer", "--help")
    assert result.exit_code == 0 and "mfu-sym infer examples/llama3_8b.yaml" in result.output


def _infer_text(path, *args):
    result = CliRunner().invoke(main, ["infer", str(path), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_hybrids_cache_is_the_attention_layers_kv_and_the_other_layers_states():
    # Nemotron-3-Nano: 6 attention layers of 2 KV heads x 128 keep keys and values; 23
    # Mamba-2 layers keep a conv state of conv_kernel (4) x (d_in + 2 G N) and a d_in x N
    # state, d_in = 64 heads x 64, G = 8, N = 128 (transformers' NemotronH cache)
    text = _infer_text(ROOT / "examples/hf/nemotron3_nano_30b_a3b/config.json", "--context", "4096")
    kv = 6 * 2 * 2 * 128
    state = 23 * (4 * (64 * 64 + 2 * 8 * 128) + 64 * 64 * 128)
    assert f"{kv:,} elements, 6 of 52 layers (kv_heads)\n" in text
    assert f"{state:,} elements, 23 of 52 layers (ssd_conv_state, ssd_ssm_state), the same at every context" in text
    assert f"{2 * (kv * 4096 + state):,} bytes" in text  # bf16, the KV cache at 4,096 positions and the states


def test_a_model_without_attention_keeps_no_keys_and_values():
    text = _infer_text(ROOT / "examples/hf/mamba_2_8b/config.json", "--context", "4096")
    assert "no layer keeps keys and values" in text and "the states; batch 1" in text


def test_memory_gives_no_activation_figure_for_linear_attention_layers():
    from cli_helpers import run
    path = str(ROOT / "examples/hf/qwen3_next_80b_a3b/config.json")
    data = json.loads(run("memory", path, "--seq-len", "4096", "--format", "json").stdout)
    assert data["activations_per_layer"] is None
    assert data["activations_not_modelled"].startswith("gated_deltanet layers; ")  # and the features not modelled
    korthikanti = json.loads(run("memory", path, "--seq-len", "4096", "--activations", "korthikanti",
                                 "--format", "json").stdout)
    assert korthikanti["activations_not_modelled"].startswith("gated_deltanet layers: the per-layer activation "
                                                              "constants")
    text = run("memory", path, "--seq-len", "4096").stdout
    assert "no activation figure is given and the total is weights, gradients and optimizer states alone " \
           "(a lower bound)" in text
