"""One number style in every text output (render/units.py): exact counts grouped in full,
measured or derived quantities to four significant digits, percentages with two decimals,
no exponents. Every command's text is scanned; formula lines (sympy's text), sources
(links, arXiv ids, commits, dates) and quoted data are left out of the scan."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mfu_sym.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LLAMA = str(EXAMPLES / "llama3_8b.yaml")
DEEPSEEK = str(EXAMPLES / "deepseek_v3.yaml")
MISTRAL = str(EXAMPLES / "mistral_7b.yaml")

COMMANDS = [
    ("derive", LLAMA),
    ("derive", DEEPSEEK, "--seq-len", "4096", "--batch", "16"),
    ("derive", LLAMA, "--documents", "1024,3072,4096"),
    ("analyze", MISTRAL),
    ("reconcile", LLAMA),
    ("mfu", LLAMA, "--hardware", "h100", "--gpus", "16", "--tokens-per-sec", "123456.7", "--seq-len", "8192"),
    ("mfu", DEEPSEEK, "--hardware", "b200", "--gpus", "64", "--step-time", "12.3456", "--batch", "1024",
     "--seq-len", "4096", "--recompute", "full"),
    ("budget", LLAMA, "--tokens", "15.6e12", "--hardware", "h100", "--gpus", "1024", "--mfu", "0.41"),
    ("memory", LLAMA, "--seq-len", "8192", "--hardware", "h100", "--tp", "2"),
    ("infer", LLAMA, "--hardware", "h100", "--context", "32768", "--prompt-len", "1000", "--batch", "8"),
    ("infer", DEEPSEEK, "--hardware", "h200", "--gpus", "8", "--context", "4096", "--draft-tokens", "2",
     "--acceptance", "0.8", "--draft", "mtp"),
    ("chinchilla", "--compute", "5.76e23"),
    ("hardware", "show", "b200"),
    ("hardware", "list"),
]

# Lines that hold formulas (sympy's text) or sources, and the tokens of a line that are
# identifiers rather than numbers.
SKIP_LINE = re.compile(r"\*|<https?://|\bhttps?://|arXiv|commit|\b(19|20)\d\d\b|^\s*= |F\(s\)|d2L|C = 6")
NOT_NUMBER = re.compile(r"[A-Za-z_][\w-]*\d[\w.-]*|\[[^\]]*\]|'[^']*'|\([^)]*\.yaml\)|\S+\.yaml|p\d+\.\d+xlarge")
UNGROUPED = re.compile(r"(?<![\d,.])\d{5,}(?![\d,])")       # 12345 rather than 12,345
LONG_FRACTION = re.compile(r"(?<![\d/])\d+\.\d{5,}")          # more digits than four significant allow
EXPONENT = re.compile(r"\d[eE][+-]?\d")
PERCENT = re.compile(r"(?<![\d.])[+-]?\d+(\.\d+)?%")
TWO_DECIMALS = re.compile(r"^[+-]?\d+\.\d\d%$|^[+-]?0\.00\d+%$")


def _text(args):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(Path(x).name for x in a[:2]))
def test_one_number_style(args):
    bad = []
    for line in _text(args).splitlines():
        if SKIP_LINE.search(line):
            continue
        scanned = NOT_NUMBER.sub(" ", line)
        for pattern, what in ((UNGROUPED, "ungrouped count"), (LONG_FRACTION, "more than four digits"),
                              (EXPONENT, "an exponent")):
            bad += [f"{what}: {m.group()!r} in {line.strip()!r}" for m in pattern.finditer(scanned)]
        for m in PERCENT.finditer(scanned):
            if not TWO_DECIMALS.match(m.group()) and m.group() not in ("100%", "1%"):
                bad.append(f"percentage not to two decimals: {m.group()!r} in {line.strip()!r}")
    assert not bad, "\n".join(bad)


def test_the_scan_finds_each_fault():
    """The patterns catch what they are for (the test above can fail)."""
    assert UNGROUPED.search("seq_len 8192 x batch 1") is None      # four digits need no comma
    assert UNGROUPED.search("seq_len 32768").group() == "32768"
    assert LONG_FRACTION.search("ratio 1.068275").group() == "1.068275"
    assert EXPONENT.search("(3.799e+25)")
    assert not TWO_DECIMALS.match("15.6%") and TWO_DECIMALS.match("15.61%") and TWO_DECIMALS.match("-0.0031%")


def test_one_number_style_in_a_log(tmp_path):
    """`mfu --log --per-step`: the summary table and every step in the same style."""
    log = tmp_path / "train.jsonl"
    log.write_text("".join(f'{{"tps": {v}}}\n' for v in (1234.5678, 612345.25, 598765.5, 601234.125)))
    args = ("mfu", LLAMA, "--hardware", "h100", "--gpus", "64", "--seq-len", "8192", "--log", str(log),
            "--log-column", "tps", "--warmup", "1", "--per-step")
    text = _text(args)
    assert "612,345" in text and "612345" not in text
    test_one_number_style(args)
