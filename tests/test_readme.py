"""Every `mfu-sym` command the README shows runs as shown, and none prints an MFU the
tool itself would warn about."""

import re
import shlex
from pathlib import Path

import pytest

from cli_helpers import run
from optional import require

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _code_lines():
    fenced = False
    for line in README.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced:
            yield line


def _commands():
    for line in _code_lines():
        line = line.strip().removeprefix("$ ")
        if line.startswith("mfu-sym "):
            line = re.split(r"\s+#\s", line)[0]          # a trailing comment
            line = re.split(r"\s*(?:&&|>|\|)\s*", line)[0]  # the mfu-sym part of a shell line
            yield line


COMMANDS = sorted(set(_commands()))


def test_the_readme_shows_commands():
    assert len(COMMANDS) > 20


@pytest.mark.parametrize("line", COMMANDS)
def test_readme_command_runs(tmp_path, monkeypatch, line):
    args = shlex.split(line)[1:]
    args = [str(ROOT / a) if a.startswith("examples/") else a for a in args]
    missing = [a for a in args if a.endswith((".jsonl", ".csv")) and not Path(a).exists()]
    if missing:
        pytest.skip(f"needs the user's own {missing[0]}")
    if "--hardware" in args and args[args.index("--hardware") + 1] == "auto":
        pytest.skip("needs the user's own accelerator")
    if len(args) > 1 and re.fullmatch(r"[\w.-]+/[\w.-]+", args[1]) and not (ROOT / args[1]).exists():
        pytest.skip("needs the Hugging Face hub (tests/test_model_sources.py reads hub ids from a local cache)")
    if args[0] == "plot":
        require("matplotlib")
    if args[0] == "trace" or "trace" in args:  # the [trace] extra
        require("torch")
        require("transformers")
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "exceeds 100%" not in result.output and "Traceback" not in result.output


def test_the_readme_describes_every_layer_kind_preset_and_variant():
    """The tables of layer kinds, presets and variants cannot fall behind the registry."""
    from mfu_sym import hf, kinds
    from mfu_sym.conventions import load_presets, load_variants
    table = README[README.index("### Layer kinds"):README.index("## Conventions")]
    for part in kinds.PARTS:
        for name in kinds.kinds(part):
            assert f"`{name}`" in table, f"layer kind {name} missing from README's table"
    for name in load_presets():
        assert f"| `{name}` " in README, f"preset {name} missing from README's table"
    for name in load_variants():
        assert f"`{name}`" in README, f"variant {name} missing from README"
    families = README[README.index("Supported `model_type`s"):README.index("Every other causal language model")]
    for model_type in hf.families():
        assert f"`{model_type}`" in families, f"model_type {model_type} missing from README's list"
