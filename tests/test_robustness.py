"""A catalogue of bad inputs: each gives `Error: ...` with exit 1 (bad data) or 2 (bad
usage), no traceback, no file written, in bounded time."""

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mfu_sym.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LLAMA = str(EXAMPLES / "llama3_8b.yaml")
DEADLINE_S = 20


def invoke(*args, cwd=None):
    start = time.monotonic()
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert time.monotonic() - start < DEADLINE_S
    return result


def assert_clean_failure(result, codes=(1, 2)):
    assert result.exit_code in codes, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if result.exit_code == 1:
        assert result.output.startswith("Error: ")


# Every model command with every numeric option at zero, negative, non-numeric and huge.
COMMANDS = {
    "derive": ["--seq-len", "--batch", "--capacity-factor"],
    "analyze": ["--seq-len", "--batch", "--shares-at"],
    "reconcile": ["--seq-len", "--batch"],
    "sweep": ["--seq-len", "--batch", "--d-model", "--n-layers"],
}
BAD_NUMBERS = ["0", "-1", "abc", "1.5.3", "", "nan"]


# The other commands, each with the arguments it needs to run at all.
RUNNABLE = {
    "mfu": (["--hardware", "h100", "--gpus", "8", "--tokens-per-sec", "1000"],
            ["--gpus", "--tokens-per-sec", "--seq-len"]),
    "infer": (["--context", "4096", "--prompt-len", "512"], ["--context", "--prompt-len", "--batch"]),
    "memory": (["--seq-len", "2048", "--batch", "1"], ["--seq-len", "--batch", "--tp", "--pp", "--dp"]),
    "budget": (["--tokens", "1e12"], ["--tokens", "--seq-len"]),
    "latex": ([], ["--seq-len", "--batch"]),
}


@pytest.mark.parametrize("command, option", [(c, o) for c, opts in COMMANDS.items() for o in opts])
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_bad_numeric_options(command, option, value):
    assert_clean_failure(invoke(command, LLAMA, option, value))


@pytest.mark.parametrize("command, option", [(c, o) for c, (_, opts) in RUNNABLE.items() for o in opts])
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_bad_numeric_options_of_the_other_commands(command, option, value):
    base, _ = RUNNABLE[command]
    args = list(base)
    if option in args:  # replace the good value
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    assert_clean_failure(invoke(command, LLAMA, *args))


@pytest.mark.parametrize("command", list(COMMANDS))
def test_huge_sequence_lengths_stay_exact_and_fast(command):
    result = invoke(command, LLAMA, "--seq-len", str(10**15))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("option, value", [("--mask", "diagonal"), ("--attention-kernel", "cuda"),
                                           ("--recompute", "some"), ("--mla", "latent"), ("--format", "pdf"),
                                           ("--preset", "plam"), ("--frobnicate", "1")])
def test_bad_choices(command, option, value):
    assert_clean_failure(invoke(command, LLAMA, option, value))


def _file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize("name, content, message", [
    ("empty.yaml", "", "empty file"),
    ("empty.json", "", "invalid JSON"),
    ("blank.yaml", "\n\n   \n", "empty file"),
    ("binary.yaml", b"\x89PNG\r\n\x1a\n\x00\x00", "binary file"),
    ("latin.yaml", b"name: caf\xe9\n", "not UTF-8"),
    ("huge.yaml", "# " + "x" * (5 * 1024 * 1024), "bytes (at most"),
    ("list.yaml", "- d_model\n- 1\n", "expected a mapping"),
    ("scalar.yaml", "42\n", "expected a mapping"),
    ("tag.yaml", "!!python/object/apply:os.system ['touch pwned']\n", "invalid YAML"),
    ("tag2.yaml", "d_model: !!python/object/new:int [4]\n", "invalid YAML"),
    ("anchor-bomb.yaml", "a: &a [1, 1]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd_model: *c\n", "d_model"),
    ("deep.json", "[" * 100000 + "]" * 100000, "invalid JSON"),
    ("deep.yaml", "[" * 5000 + "]" * 5000, "invalid YAML"),
    ("contradiction.yaml", "d_model: 64\nn_layers: 2\nn_heads: 4\nd_ff: 8\nvocab_size: 9\n"
                           "position_embedding: none\nn_positions: 16\n", "position_embedding is none"),
    ("contradiction2.yaml", "d_model: 64\nn_layers: 2\nn_heads: 4\nd_ff: 8\nvocab_size: 9\n"
                            "top_k: 2\n", "n_experts is not"),
    ("contradiction.json", '{"model_type": "gemma2", "num_hidden_layers": 2, "layer_types": ["full_attention"]}',
     "one per layer"),
], ids=lambda value: value if isinstance(value, str) and len(value) < 40 else "")
def test_bad_files(tmp_path, name, content, message):
    path = _file(tmp_path, name, content)
    before = set(os.listdir(tmp_path))
    result = invoke("derive", path, "--seq-len", "8")
    assert_clean_failure(result, codes=(1,))
    assert message in result.output
    assert set(os.listdir(tmp_path)) == before  # no side effect
    assert not Path("pwned").exists()


def test_a_directory_is_not_a_model(tmp_path):
    assert_clean_failure(invoke("derive", tmp_path))


FORMULA = """formulas:
  - name: {name}
    component: mlp
    forward: "{forward}"
    description: d
    reference: {{cite: kaplan2020, where: x}}
"""


@pytest.mark.parametrize("name, forward, message", [
    ("x_attr", "d_model.__class__", "attribute access"),
    ("x_call", "print(1)", "function 'print'"),
    ("x_import", "__import__('os').system('touch pwned')", "not allowed"),
    ("x_lambda", "(lambda: 1)()", "not allowed"),
    ("x_bomb", "9**9**9**9", "exponent must be an integer literal"),
    ("x_bomb2", "d_model**99999999", "too large"),
    ("x_deep", "-" * 500 + "d_model", "nested deeper"),
    ("x_parens", "(" * 900 + "d_model" + ")" * 900, "cannot parse"),
    ("x_unknown", "d_modle * 2", "did you mean d_model"),
    ("x_cycle", "mlp_gated + 1", "unknown name 'mlp_gated'"),  # formulas cannot name formulas: no cycles
    ("mlp_gated", "2", "duplicate formula 'mlp_gated'"),
    ("x_subscript", "d_model[0]", "subscripting"),
    ("x_string", "'d_model'", "literal"),
    ("x_float", "0.5 * d_model", "write a fraction"),
    ("x_walrus", "(y := 1)", "not allowed"),
], ids=lambda value: value if isinstance(value, str) and len(value) < 40 else "")
def test_bad_formula_files(tmp_path, name, forward, message):
    _file(tmp_path, "extra.yaml", FORMULA.format(name=name, forward=forward.replace('"', '\\"')))
    result = invoke("derive", LLAMA, "--formulas", tmp_path)
    assert_clean_failure(result, codes=(1,))
    assert message in result.output
    assert not Path("pwned").exists()


def test_sweep_refuses_a_flood_of_points():
    result = invoke("sweep", LLAMA, "--seq-len", "1:100000", "--batch", "1:1000")
    assert_clean_failure(result, codes=(1,))
    assert "points (at most" in result.output


@pytest.mark.parametrize("text", ["1:", ":5", "5:1", "1:10:0", "1:10:-2", "a:b", "1:2:3:4", ",", "-5"])
def test_sweep_bad_ranges(text):
    assert_clean_failure(invoke("sweep", LLAMA, "--seq-len", text), codes=(1,))


def test_sweep_of_a_symbol_the_model_does_not_use():
    """Llama-3-8B has no sliding window: sweeping `window` would repeat one row."""
    result = invoke("sweep", LLAMA, "--window", "4:8")
    assert_clean_failure(result, codes=(1,))
    assert "Error: window: not a size of this model that a sweep can change (expected one of seq_len, batch, d_ff" in result.output


@pytest.mark.parametrize("command, option", [(c, o) for c, (_, opts) in RUNNABLE.items() for o in opts])
def test_huge_values_of_the_other_commands(command, option):
    """A huge value either runs (exact arithmetic) or is refused cleanly, in bounded time."""
    base, _ = RUNNABLE[command]
    args = list(base)
    huge = str(10**15)
    if option in args:
        args[args.index(option) + 1] = huge
    else:
        args += [option, huge]
    result = invoke(command, LLAMA, *args)
    if result.exit_code != 0:
        assert_clean_failure(result)


BASE_YAML = "d_model: 64\nn_layers: 2\nn_heads: 4\nd_ff: 8\nvocab_size: 9\n"


@pytest.mark.parametrize("name, content, args, message", [
    ("dense.yaml", BASE_YAML, ["--capacity-factor", "1.25"], "capacity_factor: the model has no experts"),
    ("both.yaml", BASE_YAML + "window: 4\nfull_attention_every: 2\nlayer_types: [full_attention, full_attention]\n",
     [], "give either layer_types or full_attention_every"),
    ("every.yaml", BASE_YAML + "window: 4\nfull_attention_every: 0\n", [], "full_attention_every: 0 is not positive"),
    ("null.json", '{"model_type": "llama", "hidden_size": null}', [], "hidden_size: missing (no default"),
    ("only.json", '{"model_type": "qwen2_moe", "mlp_only_layers": 3}', [], "mlp_only_layers: expected a list"),
    ("dense_layers.yaml", BASE_YAML + "n_experts: 2\ntop_k: 1\nd_expert: 4\ndense_layers: 1\n", [],
     "dense_layers: expected a list of layer indices"),
])
def test_more_bad_models(tmp_path, name, content, args, message):
    result = invoke("derive", _file(tmp_path, name, content), "--seq-len", "8", *args)
    assert_clean_failure(result, codes=(1,))
    assert message in result.output


def test_library_errors_for_api_users(example):
    import mfu_sym
    from mfu_sym.errors import UsageError
    model = mfu_sym.load(LLAMA)
    with pytest.raises(UsageError, match="expected one of embedding"):
        model.forward("attention")
    with pytest.raises(UsageError, match="frobnicate: unknown switch"):
        mfu_sym.load(LLAMA, frobnicate=True)
    with pytest.raises(UsageError, match="seq_len: 0 is not a positive integer"):
        model.report(seq_len=0)


# ---- the classes of bad input found by trying mfu-sym as new users do (issue 12)

def _log(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("".join(lines))
    return path


@pytest.mark.parametrize("args, code, message", [
    (["derive", "MIXTRAL", "--capacity-factor", "nan"], 2, "not a positive finite number"),
    (["derive", "MIXTRAL", "--capacity-factor", "inf"], 2, "not a positive finite number"),
    (["mfu", LLAMA, "--hardware", "h100", "--tokens-per-sec", "1e308"], 2, "out of range"),
    (["mfu", LLAMA, "--hardware", "h100", "--step-time", "1e-300", "--batch", "8"], 2, "out of range"),
    (["mfu", LLAMA, "--hardware", "h100", "--tokens-per-sec", "1e3", "--gpus", str(10**400)], 2, "Invalid value"),
    (["budget", LLAMA, "--tokens", "1e12", "--hardware", "h100", "--gpus", "8", "--mfu", "nan"], 2,
     "not a fraction"),
    (["derive", LLAMA, "--seq-len", str(2**63)], 2, "Invalid value"),
    (["sweep", LLAMA, "--seq-len", "1:200000000"], 1, "has 200,000,000 values (at most 10,000,000)"),
    (["sweep", LLAMA, "--seq-len", "1" * 5000], 1, "numbers of at most 20 digits"),
    (["infer", "MIXTRAL", "--context", "4096", "--batch", "10000000"], 0, "experts read"),
    (["mfu", "HF_LLAMA", "--hardware", "h100", "--tokens-per-sec", "1000"], 1,
     "seq_len: no sequence length: give --seq-len"),
    (["budget", "HF_LLAMA", "--tokens", "1e12"], 1, "seq_len: no sequence length: give --seq-len"),
    (["memory", "HF_LLAMA"], 1, "seq_len: no sequence length: give --seq-len"),
])
def test_bad_values_end_cleanly(args, code, message):
    paths = {"MIXTRAL": str(EXAMPLES / "mixtral_8x7b.yaml"), "HF_LLAMA": str(EXAMPLES / "hf" / "llama3_8b" / "config.json")}
    result = invoke(*[paths.get(a, a) for a in args])
    if code == 0:
        assert result.exit_code == 0, result.output
    else:
        assert_clean_failure(result, codes=(code,))
    assert message in result.output


@pytest.mark.parametrize("lines, message", [
    (['{"tps": %s}\n' % ("9" * 5000)], "an integer with 5000 digits"),
    (['{"tps": NaN}\n'], "NaN is not a JSON number"),
    (['{"tps": 1e400}\n'], "out of range"),
    (['{"tps": "%s"}\n' % ("9" * 5000)], "expected a positive finite number"),
    (['{"tps": 1e300}\n'], "expected at most"),
    (['{"tps": 1000, "tps": 2000}\n'], "given twice"),
])
def test_bad_log_values(tmp_path, lines, message):
    path = _log(tmp_path, "train.jsonl", ['{"tps": 1000}\n'] + lines)
    result = invoke("mfu", LLAMA, "--hardware", "h100", "--log", path, "--log-column", "tps")
    assert_clean_failure(result, codes=(1,))
    assert message in result.output


def test_a_long_log_is_read_in_bounded_time(tmp_path):
    path = _log(tmp_path, "train.csv", ["step,tps\n"] + [f"{i},{50000 + i % 1000}\n" for i in range(10**6)])
    start = time.monotonic()
    result = invoke("mfu", LLAMA, "--hardware", "h100", "--gpus", "8", "--log", path, "--log-column", "tps",
                    "--format", "json")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("command, extra", [
    ("sweep", ["--seq-len", "8,16"]), ("latex", []), ("latex", ["--standalone"]),
])
@pytest.mark.parametrize("target", ["missing", "full", "directory"])
def test_output_targets_that_cannot_be_written(tmp_path, command, extra, target):
    path = {"missing": tmp_path / "no" / "such" / "out.txt", "full": Path("/dev/full"), "directory": tmp_path}[target]
    if target == "full" and not path.exists():
        pytest.skip("no /dev/full here")
    before = sorted(os.listdir(tmp_path))
    result = invoke(command, LLAMA, *extra, "-o", path)
    assert_clean_failure(result, codes=(1, 2))
    assert "cannot write" in result.output or "directory" in result.output
    assert sorted(os.listdir(tmp_path)) == before


def test_a_formula_library_missing_an_entry(tmp_path):
    text = (Path(__file__).resolve().parent.parent / "formulas" / "moe.yaml").read_text()
    start, end = text.index("  - name: router"), text.index("  - name: experts_gated")
    _file(tmp_path, "moe.yaml", text[:start] + text[end:])
    result = invoke("derive", EXAMPLES / "mixtral_8x7b.yaml", "--formulas", tmp_path)
    assert_clean_failure(result, codes=(1,))
    assert "formula 'router': missing from the formula library" in result.output


@pytest.mark.parametrize("forward, params, message", [
    ("3 * 2 * d_model * d_ff / (n_heads - 32)", "3 * d_model * d_ff", "not finite at this model's sizes"),
    ("3 * 2 * d_model * d_ff - 10 * d_model * d_ff", "3 * d_model * d_ff", "(expected a non-negative integer"),
    ("3 * 2 * d_model * d_ff", "3 * d_model * d_ff / 11", "evaluates to"),
    ("3 * 2 * d_model * d_ff", "-3 * d_model * d_ff", "evaluates to"),
    ("d_model * d_ff / 3", "3 * d_model * d_ff", "(expected a non-negative integer"),
    ("(((d_model**4)**4)**4)", "3 * d_model * d_ff", "a power of degree 64"),
])
def test_formulas_that_do_not_count(tmp_path, forward, params, message):
    text = (Path(__file__).resolve().parent.parent / "formulas" / "mlp.yaml").read_text()
    text = text.replace("forward: 3 * 2 * d_model * d_ff", f"forward: {forward}", 1)
    text = text.replace("params: 3 * d_model * d_ff\n", f"params: {params}\n", 1)
    _file(tmp_path, "mlp.yaml", text)
    result = invoke("derive", LLAMA, "--formulas", tmp_path)
    assert_clean_failure(result, codes=(1,))
    assert message in result.output and "mlp_gated" in result.output


def test_names_from_files_are_escaped_for_every_output(tmp_path):
    path = _file(tmp_path, "evil.yaml", 'name: "evil\\n\\\\input{/etc/passwd}\\e[31m $x$ | [l](javascript:x)"\n'
                 + BASE_YAML + "seq_len: 8\n")
    text = invoke("derive", path).stdout
    assert "\x1b" not in text and "evil\\n\\input{/etc/passwd}\\x1b[31m" in text.splitlines()[0]
    for fmt in ("latex", "markdown"):
        out = invoke("latex", path, "--format", fmt).stdout
        assert "\x1b" not in out
        for line in out.splitlines():
            # the command appears only inside a comment; elsewhere it is escaped
            assert line.startswith("%") or "\\input{" not in line.replace("\\\\input", ""), line
    bad = invoke("derive", _file(tmp_path, "key.yaml", BASE_YAML + '"x\\e[2J": 1\n'))
    assert_clean_failure(bad, codes=(1,))
    assert "\x1b" not in bad.output and "x\\x1b[2J: unknown field" in bad.output


@pytest.mark.parametrize("value, message", [
    (None, "expected the path of a model file"),
    ({"foo": 1}, "foo"),  # a dict without model_type is the YAML format: an unknown field
    (42, "expected the path of a model file"),
])
def test_the_python_api_refuses_what_it_cannot_read(value, message):
    import mfu_sym
    with pytest.raises(mfu_sym.MfuSymError, match=message):
        mfu_sym.load(value)


def test_the_python_api_refuses_text_and_bad_inputs():
    import numpy as np
    import mfu_sym
    model = mfu_sym.load(LLAMA)
    for bad in ("__import__('os')", None, {"a": 1}, 1.5):
        with pytest.raises(mfu_sym.UsageError):
            model.evaluate(bad)
    for seq_len in (0, -1, 1.5, True, float("nan")):
        with pytest.raises(mfu_sym.UsageError):
            model.evaluate(model.training(), seq_len=seq_len)
    f = model.compile(model.training(), "seq_len")
    for bad in (np.array([1.5]), np.array([np.nan]), np.array([0]), np.array([-4]), np.array([True])):
        with pytest.raises(mfu_sym.UsageError):
            f(bad)
    assert f(np.array([8192]))[0] == model.evaluate(model.training(), seq_len=8192)


@pytest.mark.parametrize("section, message", [
    ("symbols:\n  - {name: evil, latex: '\\\\input{/etc/passwd}', kind: architecture, description: d}\n",
     "is not allowed (expected letters"),
    ("symbols:\n  - {name: evil, latex: 'x\\\\def\\\\y{1}', kind: architecture, description: d}\n", "is not allowed"),
    ("references:\n  - {key: 'a}\\\\input{b', authors: A, title: T, year: 2020, arxiv: '2001.00001'}\n",
     "is not a citation key"),
    ("references:\n  - {key: ok, authors: A, title: T, year: 2020, url: 'javascript:alert(1)'}\n",
     "is not a web address"),
    ("references:\n  - {key: ok, authors: A, title: T, year: 2020, arxiv: '../../x'}\n", "is not an arXiv id"),
])
def test_formula_files_cannot_inject_into_documents(tmp_path, section, message):
    _file(tmp_path, "extra.yaml", section)
    result = invoke("latex", LLAMA, "--formulas", tmp_path)
    assert_clean_failure(result, codes=(1,))
    assert message in result.output
