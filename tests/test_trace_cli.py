"""`mfu-sym trace` and `reconcile --against trace` as users run them: the outputs'
contract, the custom-module example against a hand derivation, and every refusal."""

import json
import sys

import pytest
import sympy

from cli_helpers import assert_one_error_line, run, write_model
from optional import require

require("torch")
require("transformers")

import mfu_sym  # noqa: E402
from mfu_sym.tracing.symbolic import implied_by_sizes  # noqa: E402

LLAMA = {"model_type": "llama", "hidden_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2,
         "intermediate_size": 256, "vocab_size": 512, "num_hidden_layers": 2}
EXAMPLE = "examples/custom_model.py:build"
b, s = sympy.symbols("batch seq_len", positive=True, integer=True)


@pytest.fixture(autouse=True)
def _factories_importable(monkeypatch):
    from pathlib import Path
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.chdir(Path(__file__).parent.parent)


def test_json_has_the_polynomials_modules_and_values(tmp_path):
    path = write_model(tmp_path, LLAMA, "config.json")
    result = run("trace", path, "--seq-len", 4096, "--batch", 8, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["flops"]["forward"] == "1024*batch*seq_len**2 + 720896*batch*seq_len"
    assert report["flops"]["training"] == "3072*batch*seq_len**2 + 2162688*batch*seq_len"
    assert report["values"]["forward"] == 8 * (1024 * 4096**2 + 720896 * 4096)
    assert report["modules"]["forward"]["model.layers.0.self_attn.q_proj"] == "32768*batch*seq_len"
    assert report["components"]["forward"]["attention_core"] == "1024*batch*seq_len**2"
    assert report["params"]["total"] == 426624 and report["convention"]["preset"] == "torch"
    assert report["holds_for"] == ["all sizes"]


def test_the_custom_module_example_is_its_hand_derivation():
    """examples/custom_model.py: per layer q, kv (from [x; shifted x]) and o projections
    2*256*256 + 2*512*128 + 2*256*256, scores and values 2 * 2*4*64*s^2, the MLP
    2 * 2*256*1024; the tied head 2*256*1000."""
    traced = mfu_sym.trace(EXAMPLE)
    layer = (2 * 256 * 256 + 2 * 512 * 128 + 2 * 256 * 256) * s + 2 * 2 * 4 * 64 * s**2 + 2 * 2 * 256 * 1024 * s
    assert sympy.expand(traced.forward() - b * (2 * layer + 2 * 256 * 1000 * s)) == 0
    assert sympy.expand(traced.backward() - 2 * traced.forward()) == 0
    assert traced.params == 1000 * 256 + 2 * (2 * 256 + 256 * 256 * 2 + 512 * 128 + 256 * 1024 + 1024 + 1024 * 256 + 256)


def test_latex_and_text_show_the_closed_forms():
    latex = run("trace", EXAMPLE, "--format", "latex")
    assert latex.exit_code == 0, latex.output
    assert r"F_{\mathrm{forward}} &= 2048 b s^{2} + 3395584 b s" in latex.output
    text = run("trace", EXAMPLE, "--seq-len", 2048, "--batch", 8)
    assert "forward  = 2048*batch*seq_len**2 + 3395584*batch*seq_len" in text.output
    assert "124,352,724,992" in text.output


def test_a_decode_step_is_a_polynomial_in_the_context(tmp_path):
    """One new token per sequence against `context` cached keys: projections on b tokens,
    scores and values over the context."""
    path = write_model(tmp_path, LLAMA, "config.json")
    report = json.loads(run("trace", path, "--decode", "--format", "json").stdout)
    assert report["symbols"] == ["context", "batch"]
    assert report["flops"]["forward"] == "1024*batch*context + 720896*batch"
    from mfu_sym.inference import Inference
    inference = Inference(mfu_sym.load(path))
    assert inference.report(100, batch=3)["decode_step"]["flops"] == 3 * (1024 * 100 + 720896)


def test_reconcile_against_trace_proves_identity(tmp_path):
    path = write_model(tmp_path, LLAMA, "config.json")
    result = run("reconcile", path, "--against", "trace", "--format", "json")
    assert result.exit_code == 0, result.output
    proof = json.loads(result.stdout)
    assert proof["identical"] and proof["preset"] == "torch"
    assert proof["phases"]["forward"]["difference"] == "0"
    exact = json.loads(run("reconcile", path, "--against", "trace", "--preset", "exact", "--format", "json").stdout)
    assert not exact["identical"]  # causal attention is half the square torch computes
    assert exact["phases"]["forward"]["components"]["attention_core"]["difference"] == \
        "-512*batch*seq_len**2 + 512*batch*seq_len"


def test_grouped_mm_experts_trace_to_the_batched_polynomial():
    """transformers' default experts path (aten._grouped_mm, 0 in torch's registry) is
    charged: the same polynomial as batched_mm's bmm."""
    mixtral = {"model_type": "mixtral", "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1,
               "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 64, "num_local_experts": 4,
               "num_experts_per_tok": 2}
    grouped = mfu_sym.trace(mixtral, experts_implementation="grouped_mm")
    batched = mfu_sym.trace(mixtral, experts_implementation="batched_mm")
    assert grouped.ops["forward"]["_grouped_mm"] == 2 * b * s * 2 * 32 * 48 * 3
    assert sympy.expand(grouped.training() - batched.training()) == 0


def test_a_batch_of_one_is_counted_at_that_point(tmp_path):
    path = write_model(tmp_path, LLAMA, "config.json")
    report = json.loads(run("trace", path, "--seq-len", 64, "--batch", 1, "--format", "json").stdout)
    assert report["values"]["forward"] == 1024 * 64**2 + 720896 * 64
    assert report["values_from"] == "the polynomials"


def test_guards_that_every_size_meets_say_nothing_and_others_are_kept():
    for condition in (sympy.Ne(b, 1), b * s >= 2, sympy.Ne(b, b * s), 128 * b * s > 128):
        assert implied_by_sizes(condition, [b, s])
    for condition in (s <= 4096, sympy.Ne(s, 4096), sympy.Eq(b, 1), s > 3):
        assert not implied_by_sizes(condition, [b, s])


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("model, field, message", [
    ("factories.bad:inverse", "ops", "aten.linalg_inv_ex"),
    ("factories.bad:routed", "forward FLOPs", "a size depends on the data"),
    ("factories.bad:contracted", "(model)", "broadcast product and a sum"),
    ("factories.bad:wrong_shape", "model", "must return (module, make_inputs)"),
    ("factories.bad:raises", "model", "the factory failed: RuntimeError: no weights here"),
    ("factories.bad:NOT_CALLABLE", "model", "has no callable NOT_CALLABLE"),
    ("factories.nowhere:build", "model", "cannot import factories.nowhere"),
    ("tests/factories/missing.py:build", "model", "no such file"),
])
def test_a_factory_that_cannot_be_traced_is_one_error_line(model, field, message):
    assert_one_error_line(run("trace", model), field, message)


def test_a_model_yaml_has_no_implementation(tmp_path):
    path = write_model(tmp_path, {"name": "x", "d_model": 64, "n_layers": 1, "n_heads": 4, "vocab_size": 64,
                                  "d_ff": 128})
    assert_one_error_line(run("trace", path), str(path), "trace runs a PyTorch implementation")


@pytest.mark.parametrize("config, field, message", [
    ({"hidden_size": 64}, "model_type", "missing"),
    ({"model_type": "no_such_model"}, "model_type", "not a model type of the installed transformers"),
    ({"model_type": "vit"}, "model_type", "has no causal language model"),
    ({"model_type": "llama", "hidden_size": 64, "num_attention_heads": 5}, None, "transformers refuses the config"),
])
def test_a_config_transformers_cannot_build_is_one_error_line(tmp_path, config, field, message):
    path = write_model(tmp_path, config, "config.json")
    assert_one_error_line(run("trace", path), field or str(path), message)


@pytest.mark.parametrize("option", [["--attn-implementation", "sdpa"], ["--experts-implementation", "eager"]])
def test_a_transformers_option_is_refused_for_a_factory(option):
    """A factory builds its own module: transformers' implementation options would be ignored."""
    assert_one_error_line(run("trace", EXAMPLE, *option), option[0][2:].replace("-", "_"),
                          "not to a factory")


def test_the_implementation_options_change_a_config_s_count(tmp_path):
    path = write_model(tmp_path, LLAMA, "config.json")
    eager = json.loads(run("trace", path, "--format", "json").stdout)
    sdpa = json.loads(run("trace", path, "--attn-implementation", "sdpa", "--format", "json").stdout)
    assert eager["convention"]["attn_implementation"] == "eager" and sdpa["convention"]["attn_implementation"] == "sdpa"
    assert eager["flops"]["forward"] == sdpa["flops"]["forward"]  # both kernels compute the square
    assert eager["flops"]["backward"] != sdpa["flops"]["backward"]  # fused backward recomputes QK^T


def test_forward_only_does_not_apply_to_a_decode_step():
    result = run("trace", EXAMPLE, "--decode", "--forward-only")
    assert result.exit_code == 2 and "does not apply to --decode" in result.output


def test_a_decode_step_needs_a_transformers_model():
    assert_one_error_line(run("trace", EXAMPLE, "--decode"), "decode", "transformers models")


def test_a_point_outside_the_region_is_refused():
    traced = mfu_sym.trace(EXAMPLE)
    with pytest.raises(mfu_sym.UsageError, match="not known to hold"):
        traced.evaluate(traced.forward(), seq_len=2, batch=3)
    with pytest.raises(mfu_sym.UsageError, match="not a size of this trace"):
        traced.evaluate(traced.forward(), context=5)


def test_without_torch_trace_says_what_to_install(monkeypatch, tmp_path):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    result = run("trace", write_model(tmp_path, LLAMA, "config.json"))
    assert_one_error_line(result, "trace", "pip install 'mfu-sym[trace]'")
    result = run("reconcile", write_model(tmp_path, LLAMA, "config.json"), "--against", "trace")
    assert_one_error_line(result, "reconcile --against trace", "needs PyTorch")


def test_the_rest_of_mfu_sym_imports_no_torch():
    import subprocess
    code = "import sys, mfu_sym.cli, mfu_sym.loader; mfu_sym.load('examples/llama3_8b.yaml'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
