"""The command line: formats, the JSON contract, and every bad-input path (exit 1, one
`Error: FILE: FIELD: ...` line, no traceback)."""

import json
from pathlib import Path
import re

import pytest
from click.testing import CliRunner

from mfu_sym.cli import main

run = lambda *args: CliRunner().invoke(main, [str(a) for a in args])


def test_derive_json_contract(example):
    result = run("derive", example("llama3_8b.yaml"), "--seq-len", 8192, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data["params"]) >= {"total", "embedding", "lm_head", "non_embedding", "active"}
    assert data["params"]["total"] == 8_030_261_248
    flops = data["flops"]
    assert set(flops) >= {"forward", "backward", "training", "per_token", "components"}
    assert set(flops["per_token"]) >= {"forward", "training"}
    assert all(isinstance(v, int) for v in (flops["forward"], flops["backward"], flops["training"]))
    for name in ("attention_projections", "attention_core", "mlp", "lm_head"):
        assert set(flops["components"][name]) >= {"forward", "backward"}
        assert name in data["formulas"]
    assert data["conventions"]["mask"] == "causal"


def test_derive_json_matches_the_python_api(example):
    import mfu_sym
    model = mfu_sym.load(example("gpt2_124m.yaml"), mask="full", attention_kernel="flash")
    data = json.loads(run("derive", example("gpt2_124m.yaml"), "--mask", "full", "--attention-kernel", "flash",
                          "--batch", 4, "--format", "json").output)
    assert data["flops"]["training"] == 4 * model.evaluate(model.training(), seq_len=1024)
    assert data["conventions"]["attention_kernel"] == "flash"


@pytest.mark.parametrize("fmt, marker", [("text", "Parameters (exact)"), ("markdown", "| component |"),
                                         ("latex", r"\begin{align}")])
def test_derive_formats(example, fmt, marker):
    result = run("derive", example("gpt2_124m.yaml"), "--format", fmt)
    assert result.exit_code == 0, result.output
    assert marker in result.output
    assert "causal" in result.output  # every output names its convention


def test_text_output_names_conventions_and_values(example):
    out = run("derive", example("llama3_8b.yaml")).output
    assert "8,030,261,248" in out
    assert "counted under: preset exact, mask causal, attention kernel eager" in out
    assert "= 6*d_ff*d_model*n_layers*seq_len" in out


def _bad(tmp_path, text, name="model.yaml"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return run("derive", path, "--seq-len", 16)


BASE = "d_model: 64\nn_layers: 2\nn_heads: 8\nd_ff: 128\nvocab_size: 100\n"


@pytest.mark.parametrize("text, field, message", [
    ("n_layers: 2\nn_heads: 8\nd_ff: 128\nvocab_size: 100\n", "d_model", "missing"),
    (BASE.replace("d_model: 64", "d_model: -64"), "d_model", "not positive"),
    (BASE.replace("d_model: 64", "d_model: 0"), "d_model", "not positive"),
    (BASE.replace("d_model: 64", "d_model: 64.5"), "d_model", "not a positive integer"),
    (BASE.replace("d_model: 64", "d_model: 64.0"), "d_model", "is a float"),
    (BASE.replace("d_model: 64", "d_model: sixty"), "d_model", "not a positive integer"),
    (BASE.replace("d_model: 64", "d_model: true"), "d_model", "not a positive integer"),
    (BASE + "n_kv_heads: 3\n", "n_kv_heads", "not divisible by n_kv_heads (3)"),
    (BASE.replace("d_model: 64", "d_model: 60"), "d_head", "not divisible by n_heads"),
    (BASE + "mlp: swishy\n", "mlp", "expected one of gated, plain"),
    (BASE + "d_modle: 3\n", "d_modle", "did you mean d_model"),
    (BASE + "tied_embeddings: yes please\n", "tied_embeddings", "not true or false"),
    (BASE + "position_embedding: learned\n", "n_positions", "missing"),
    (BASE + "n_positions: 10\n", "n_positions", "position_embedding is none"),
    (BASE + "layer_types: [full_attention]\n", "layer_types", "one per layer"),
    (BASE + "layer_types: [full_attention, sliding_attention]\n", "window", "missing"),
    (BASE + "layer_types: [full_attention, local]\n", "layer_types[1]", "expected full_attention"),
    (BASE + "window: -4\n", "window", "-4 is negative"),
    ("- 1\n- 2\n", None, "expected a mapping"),
    ("d_model: [\n", None, "invalid YAML"),
    ("!!python/object/apply:os.system ['echo pwned']\n", None, "invalid YAML"),
    (BASE + "x: !!python/name:os.system\n", None, "invalid YAML"),
    ("", None, "empty file"),
    (b"\x00\x01binary", None, "binary file"),
    (b"\xff\xfe\xfa", None, "not UTF-8"),
])
def test_bad_model_files(tmp_path, text, field, message):
    result = _bad(tmp_path, text)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    line = result.output.strip()
    assert line.startswith(f"Error: {tmp_path / 'model.yaml'}: " + (f"{field}: " if field else ""))
    assert message in line
    assert len(line.splitlines()) == 1


def test_missing_file_and_directory(tmp_path):
    result = run("derive", tmp_path / "none.yaml")
    assert result.exit_code == 1 and "no such file" in result.output


def test_bad_formula_directory_is_an_error(example, tmp_path):
    (tmp_path / "mlp.yaml").write_text("formulas:\n  - {name: mlp_gated, component: mlp, forward: 'd_model.__class__',"
                                       " description: d, reference: {cite: kaplan2020, where: x}}\n")
    result = run("derive", example("llama3_8b.yaml"), "--formulas", tmp_path)
    assert result.exit_code == 1
    assert re.match(r"Error: .*mlp\.yaml: formula mlp_gated\.forward: attribute access is not allowed", result.output)


def test_unknown_name_in_a_formula_file(example, tmp_path):
    (tmp_path / "mlp.yaml").write_text("formulas:\n  - {name: mlp_gated, component: mlp, forward: 3 * d_mdel,"
                                       " description: d, reference: {cite: kaplan2020, where: x}}\n")
    result = run("derive", example("llama3_8b.yaml"), "--formulas", tmp_path)
    assert result.exit_code == 1 and "did you mean d_model" in result.output


@pytest.mark.parametrize("args", [["--seq-len", "0"], ["--seq-len", "-5"], ["--seq-len", "x"],
                                  ["--batch", "0"], ["--mask", "diagonal"], ["--format", "pdf"]])
def test_bad_usage_is_clicks_exit_2(example, args):
    result = run("derive", example("llama3_8b.yaml"), *args)
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_no_sequence_length_anywhere(tmp_path):
    result = _bad(tmp_path, BASE)
    assert result.exit_code == 0
    path = tmp_path / "m.yaml"
    path.write_text(BASE)
    result = run("derive", path)
    assert result.exit_code == 1 and "no sequence length" in result.output


def test_every_command_has_help_and_appears_in_the_readme():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name, command in main.commands.items():
        assert command.help, name
        assert f"mfu-sym {name}" in readme, name
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output
