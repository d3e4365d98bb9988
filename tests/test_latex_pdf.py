"""`mfu-sym latex --standalone` as a reader sees it: compiled with pdflatex, the PDF read
back as text with `pdftotext -layout` (pages separated by form feeds).

What a paper can take as is: no TeX source leaks into the text (`W^{DQ}`, `_{`,
`\\mathrm`), products print ×, each section heading stands on the page of its first table
(tables are set where they stand, never floated past their section) and never last on
a page, the attention core cites FlashAttention only under the flash kernel, and the
log holds no error, no undefined reference and no overfull box beyond 1pt (below what
the eye sees: a third of a millimetre; the engine's line breaking estimates widths, see
render/tex_lines.py, and the existing compile tests hold it to the same bound)."""

import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mfu_sym.cli import main
from optional import require_program

ROOT = Path(__file__).resolve().parent.parent
HINT = "Debian: texlive-latex-base, texlive-latex-recommended, poppler-utils"

# several families: dense GQA, MLA + MoE, sliding windows, and a hybrid (Gated DeltaNet +
# gated attention + MoE) read from a Hugging Face config
MODELS = [
    ("llama3_8b", ["examples/llama3_8b.yaml"]),
    ("deepseek_v3", ["examples/deepseek_v3.yaml"]),
    ("gemma3_27b", ["examples/gemma3_27b.yaml"]),
    ("qwen3_next", ["examples/hf/qwen3_next_80b_a3b", "--seq-len", "4096"]),
]


def export(tmp_path, args):
    """(tex, log, pages): the standalone export of `args`, compiled twice, its PDF as text."""
    pdflatex = require_program("pdflatex", HINT)
    pdftotext = require_program("pdftotext", HINT)
    args = [str(ROOT / args[0]), *args[1:]]
    result = CliRunner().invoke(main, ["latex", *args, "--standalone", "-o", str(tmp_path / "doc.tex")])
    assert result.exit_code == 0, result.output
    for _ in range(2):  # citations and references need the second pass
        done = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=180)
        log = (tmp_path / "doc.log").read_text(encoding="latin-1")
        assert done.returncode == 0, log[-3000:]
    subprocess.run([pdftotext, "-layout", "doc.pdf", "doc.txt"], cwd=tmp_path, check=True, timeout=60)
    pages = (tmp_path / "doc.txt").read_text(encoding="utf-8").split("\f")
    return (tmp_path / "doc.tex").read_text(), log, pages


def check_fonts(directory):
    """No Type 3 (bitmap) font: publishers refuse them (pdflatex's text \\S was one)."""
    pdffonts = require_program("pdffonts", HINT)
    listing = subprocess.run([pdffonts, "doc.pdf"], cwd=directory, capture_output=True, text=True,
                             check=True, timeout=60).stdout
    assert "Type 3" not in listing, listing


def check_log(log):
    assert not re.findall(r"^! .*", log, re.M), re.findall(r"^! .*", log, re.M)
    assert "undefined" not in log.lower() or not re.search(r"(Citation|Reference) .* undefined", log)
    assert "There were undefined references" not in log
    assert "Float too large" not in log and "Overfull \\vbox" not in log
    assert "Token not allowed in a PDF string" not in log  # headings with math have a text form
    overfull = [float(x) for x in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    assert all(x < 1.0 for x in overfull), overfull


def sections(tex):
    """[(number, first word of the title, number of its first table or None)] in order."""
    out, table = [], 0
    for m in re.finditer(r"\\section\{([^}]*)\}|\\begin\{table\}", tex):
        if m.group(1) is not None:
            out.append([len(out) + 1, re.match(r"\w+", m.group(1)).group(), None])
        else:
            table += 1
            if out and out[-1][2] is None:
                out[-1][2] = table
    return out


def page_of(pages, pattern):
    found = [i for i, page in enumerate(pages) if re.search(pattern, page, re.M)]
    assert found, pattern
    return found[0]


def check_layout(tex, pages):
    # pdftotext reads an escaped ^ or ~ (\textasciicircum, \textasciitilde) as ˆ or ˜, an
    # escaped { } as { }, and OT1's underscore (a rule) as a space
    text = "\f".join(pages).replace("ˆ", "^").replace("˜", "~")
    # no TeX source in the text: math set as math, never printed as its source
    for leaked in ("W^{DQ}", "^{", "_{", "\\mathrm", "\\times", "\\cite", "\\", "$", "^", "{", "}"):
        assert leaked not in text, (leaked, re.findall(r".*%s.*" % re.escape(leaked), text)[:3])
    assert "×" in text and not re.search(r"\b\d+ ?x\b", text)  # 2 × forward, never "2 x" or "2x"
    # each heading on the page of its first table, and never the last line of a page
    found = sections(tex)
    assert len(found) >= 4 and any(t is not None for _, _, t in found)
    for number, word, table in found:
        heading = rf"^ *{number} +{word}\b"
        page = page_of(pages, heading)
        if table is not None:
            assert page_of(pages, rf"^ *Table {table}:") == page, (number, word, table)
        lines = [line for line in pages[page].splitlines() if line.strip()]
        at = next(i for i, line in enumerate(lines) if re.search(heading, line))
        below = [line for line in lines[at + 1:] if not re.fullmatch(r" *\d+ *", line)]  # not the page number
        assert len(below) >= 2, (number, word, lines[at:])


@pytest.mark.parametrize("name, args", MODELS, ids=[m[0] for m in MODELS])
def test_pdf_reads_as_a_paper(tmp_path, name, args):
    tex, log, pages = export(tmp_path, args)
    check_log(log)
    check_layout(tex, pages)
    check_fonts(tmp_path)


def reference_number(pages, title_word):
    """The number [n] of the bibliography entry whose text holds `title_word`, or None."""
    references = "\n".join(pages)[ "\n".join(pages).rindex("References"):]
    for m in re.finditer(r"^\[(\d+)\] (.*?)(?=^\[\d+\] |\Z)", references, re.M | re.S):
        if title_word in m.group(2):
            return int(m.group(1))
    return None


def attention_core_cites(pages):
    """The citation numbers printed after the attention core's equation."""
    text = "\n".join(pages)
    line = next(line for line in text.splitlines() if re.search(r"attention core *=", line))
    return {int(n) for group in re.findall(r"\[([\d, ]+)\]", line) for n in group.split(",")}


def test_attention_core_cites_the_kernel_in_force(tmp_path):
    eager = tmp_path / "eager"
    flash = tmp_path / "flash"
    eager.mkdir(), flash.mkdir()
    _, log, pages = export(eager, ["examples/llama3_8b.yaml"])
    check_log(log)
    assert reference_number(pages, "FlashAttention") is None  # not in the bibliography at all
    assert reference_number(pages, "Attention Is All You Need") in attention_core_cites(pages)
    assert "flash backward" not in "\n".join(pages)

    _, log, pages = export(flash, ["examples/llama3_8b.yaml", "--attention-kernel", "flash"])
    check_log(log)
    dao = reference_number(pages, "FlashAttention")
    assert dao is not None and dao in attention_core_cites(pages)
    assert reference_number(pages, "Attention Is All You Need") in attention_core_cites(pages)
    row = next(line for line in "\n".join(pages).splitlines() if "flash backward" in line)
    assert f"[{dao}, Algorithm 2" in row


def test_model_file_text_is_escaped_not_run(tmp_path):
    """A model file's name and source go into the document as text: TeX specials print
    as themselves, `\\input` and `$...$` are not run, `W^{DQ}` is not set as math."""
    hostile = r"Evil \input{/etc/hostname} $W^{DQ}$ 50% #1 & a_b ~ {x}"
    model = (ROOT / "examples" / "llama3_8b.yaml").read_text()
    model = re.sub(r"(?m)^name: .*$", lambda _: "name: '%s'" % hostile.replace("'", "''"), model)
    model = re.sub(r"(?m)^source: .*$", lambda _: r"source: 'see \def\x{y} and https://example.org/a_b%20c'", model)
    (tmp_path / "evil.yaml").write_text(model)
    pdftotext_dir = tmp_path / "out"
    pdftotext_dir.mkdir()
    tex, log, pages = export(pdftotext_dir, [str(tmp_path / "evil.yaml")])
    check_log(log)
    typeset = "\n".join(line for line in tex.splitlines() if not line.startswith("%"))  # comments: one line each
    assert r"\textbackslash{}input\{/etc/hostname\} \$W\textasciicircum{}\{DQ\}\$ 50\% \#1 \&" in typeset
    assert r"\input{/etc" not in typeset and r"\def\x" not in typeset
    # as printed: pdftotext reads \textasciicircum as ˆ, \textasciitilde as ˜, and OT1's
    # underscore (a rule) as a space
    text = " ".join("\n".join(pages).replace("ˆ", "^").replace("˜", "~").split())
    assert hostile.replace("_", " ") in text
    assert r"\def\x{y}" in text
