"""The training-loop examples run as a user runs them (subprocesses, small sizes), and
`import mfu_sym.integrations` stays free of the frameworks it integrates with.

examples/train_loop.py: each step's MFU must be what `mfu-sym mfu` reports for the
step's tokens and seconds, and its model fields must count the module's parameters.
examples/nanogpt_mfu.py: nanoGPT's estimate_mfu, written here again from nanoGPT's
model.py (github.com/karpathy/nanoGPT), must equal both the example's copy and mfu-sym's
palm preset (PaLM's 6N + 12LHQT, N without the position table, as get_num_params)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import yaml
from cli_helpers import run_json, write_model
from optional import require

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_example(name, *args):
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)], capture_output=True,
                            text=True, timeout=300, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
    return result


def test_importing_the_integrations_package_imports_no_framework():
    code = ("import sys, mfu_sym.integrations, mfu_sym.integrations.interval; "
            "print(sorted(m for m in ('torch', 'transformers', 'lightning', 'sympy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_train_loop_example_reports_the_cli_mfu_of_each_step(tmp_path):
    require("torch")
    sizes = {"seq-len": 16, "vocab": 64, "d-model": 32, "layers": 2, "heads": 4, "batch": 2}
    result = run_example("train_loop.py", "--steps", 3, "--json", "--hardware", "a100",
                         *[x for k, v in sizes.items() for x in (f"--{k}", v)])
    counts, *steps = [json.loads(line) for line in result.stdout.splitlines()]
    # the module's parameters, and those of the example's model fields, counted by hand
    # (wte, wpe, ln_f; per block ln_1, qkv, proj, ln_2, fc, fc_proj; no biases)
    params = 64 * 32 + 16 * 32 + 32 + 2 * (32 + 3 * 32 * 32 + 32 * 32 + 32 + 2 * 4 * 32 * 32)
    assert counts["params"] == counts["params_mfu_sym"] == params
    assert [s["step"] for s in steps] == [0, 1, 2]
    # the same model as a file: the example's fields, written out independently here
    model = write_model(tmp_path, {"d_model": 32, "n_layers": 2, "n_heads": 4, "d_ff": 128, "vocab_size": 64,
                                   "mlp": "plain", "norm": "layernorm_no_bias", "tied_embeddings": True,
                                   "position_embedding": "learned", "n_positions": 16, "seq_len": 16})
    for step in steps:
        assert step["tokens"] == 2 * 16
        expected = run_json("mfu", model, "--hardware", "a100", "--seq-len", 16,
                            "--tokens-per-sec", repr(step["tokens"] / step["seconds"]))
        assert math.isclose(step["mfu"], expected["mfu"], rel_tol=1e-12)
        assert math.isclose(step["hfu"], expected["hfu"], rel_tol=1e-12)


def nanogpt_estimate_mfu(n_layer, n_head, n_embd, vocab_size, block_size, fwdbwd_per_iter, dt):
    """nanoGPT's model.py, bias=False: get_num_params() then estimate_mfu()."""
    per_block = 2 * n_embd + n_embd * 3 * n_embd + n_embd * n_embd + n_embd * 4 * n_embd + 4 * n_embd * n_embd
    N = n_layer * per_block + vocab_size * n_embd + n_embd   # wte (tied lm_head), ln_f; no wpe
    L, H, Q, T = n_layer, n_head, n_embd // n_head, block_size
    flops_per_token = 6 * N + 12 * L * H * Q * T
    flops_per_iter = flops_per_token * T * fwdbwd_per_iter
    return flops_per_iter * (1.0 / dt) / 312e12, N


def test_nanogpt_example_matches_nanogpt_and_the_palm_preset(tmp_path):
    fields = yaml.safe_load((EXAMPLES / "gpt2_124m_nanogpt.yaml").read_text())
    fields.update(d_model=64, n_layers=3, n_heads=4, d_ff=256, vocab_size=500, n_positions=128, seq_len=128,
                  name="tiny nanoGPT")
    config = write_model(tmp_path, fields)
    args = {"dt": 0.02, "batch_size": 4, "grad_accum": 2, "world_size": 2}
    out = json.loads(run_example("nanogpt_mfu.py", "--config", config, "--json",
                                 *[x for k, v in args.items() for x in (f"--{k.replace('_', '-')}", v)]).stdout)
    theirs, n = nanogpt_estimate_mfu(3, 4, 64, 500, 128, 4 * 2, 0.02)
    assert out["nanogpt"]["num_params"] == n
    assert math.isclose(out["nanogpt"]["mfu"], theirs, rel_tol=1e-12)
    # the palm preset is nanoGPT's formula; the meter's global tokens over 2 GPUs give the
    # same ratio as nanoGPT's per-process count over one
    assert math.isclose(out["mfu_sym"]["palm"]["mfu"], theirs, rel_tol=1e-12)
    tokens = 4 * 128 * 2 * 2
    expected = run_json("mfu", config, "--hardware", "a100", "--gpus", 2, "--tokens-per-sec", repr(tokens / 0.02))
    assert math.isclose(out["mfu_sym"]["exact"]["mfu"], expected["mfu"], rel_tol=1e-12)
    assert out["mfu_sym"]["exact"]["mfu"] < theirs   # causal attention: about half of 12LHQT


def test_nanogpt_example_runs_on_the_124m_file():
    out = run_example("nanogpt_mfu.py").stdout
    assert "nanoGPT estimate_mfu (6N + 12LHQT, 312 TFLOP/s): 33.66%" in out
