"""`mfu-sym latex`: every formula is sympy's own LaTeX of the engine's expression (line
breaks aside), every citation resolves, and the standalone document compiles with pdflatex
for every example model, with no undefined citation and no line wider than the page."""

import functools
import re
import subprocess
from pathlib import Path

import pytest
import sympy
from click.testing import CliRunner

import mfu_sym
from mfu_sym.render import document, escape, latex, tex_lines, units
from mfu_sym.cli import main
from mfu_sym.model import collect_in
from optional import require_program

ROOT = Path(__file__).resolve().parent.parent
MODELS = sorted(ROOT.glob("examples/*.yaml"))
run = lambda *args: CliRunner().invoke(main, [str(a) for a in args])
PDFLATEX_HINT = "Debian: texlive-latex-base, texlive-latex-recommended"


def reference_tex(model, expression):
    """sympy's own LaTeX of the expression, with the symbol table's names and their
    multi-letter subscripts upright (`h_{kv}` set as `h_{\\mathrm{kv}}`): what each formula
    must read, once its line breaks are taken out."""
    tex = sympy.latex(expression, symbol_names=model.library.latex_names(), **document.PRINT_SETTINGS)
    return re.sub(r"_\{([A-Za-z]+)\}", lambda m: m.group() if len(m.group(1)) == 1 else r"_{\mathrm{%s}}" % m.group(1),
                  tex)


def rows(fragment, slug):
    """{label: the right-hand side as written} for every labelled align row."""
    out = {}
    for match in re.finditer(r"&= (.*?)(?:\\quad\\text\{\\cite\{([^}]*)\}\})? \\label\{eq:%s:([a-z_]+)\}"
                             % re.escape(slug), fragment, re.S):
        out[match.group(3)] = (match.group(1), match.group(2))
    return out


def expected_cites(model, component):
    """The formula's source, its backward's under the kernel in force, the mask's."""
    keys = []
    for term in model.terms:
        if term.kind == component and term.flops:
            keys.append(term.formula.reference.cite)
            for kernel, citation in term.formula.backward_references:
                if kernel == model.conventions.attention_kernel:
                    keys.append(citation.cite)
            if term.mask is not None:
                keys.append(term.mask.reference.cite)
    return set(keys)


# ---- the formulas are the engine's -------------------------------------------------

@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_fragment_formulas_are_the_engines_expressions(path):
    model = mfu_sym.load(path)
    doc = document.build(model)
    fragment = latex.to_latex(doc)
    found = rows(fragment, doc.slug)
    components = [c for c in model.components if model.forward(c) != 0]
    assert components and set(components) <= set(found)
    for name in components:
        body, cites = found[name]
        assert tex_lines.unbreak(body) == reference_tex(model, model.formula(name)), name
        assert set(cites.split(",")) == expected_cites(model, name), name
    s = model.seq_len
    totals = {"forward": collect_in(model.forward(), s), "training": collect_in(model.training(), s),
              "forward_per_token": collect_in(model.forward() / s, s),
              "training_per_token": collect_in(model.training() / s, s), "params": model.params()}
    for key, expression in totals.items():
        assert tex_lines.unbreak(found[key][0]) == reference_tex(model, expression), key
    # what the document shows is the engine's total, not a rewriting of it
    assert equal(doc.totals[1].expr, model.training())


def equal(a, b):
    """Exact symbolic equality, piece by piece for a Piecewise."""
    difference = sympy.piecewise_fold(a - b)
    pieces = difference.args if isinstance(difference, sympy.Piecewise) else ((difference, True),)
    return all(sympy.expand(piece) == 0 for piece, _ in pieces)


def test_symbols_print_as_papers_write_them(example):
    model = mfu_sym.load(example("llama3_8b.yaml"))
    fragment = latex.to_latex(document.build(model))
    # multi-letter subscripts are labels, set upright; one letter is a variable (d_h)
    assert r"4 d_h d L s \left(h + h_{\mathrm{kv}}\right)" in fragment
    assert r"6 d_{\mathrm{ff}} d L s" in fragment
    assert r"2 d_h h L s^{2} + 2 d_h h L s" in fragment
    assert "n_{kv" not in fragment and "d_{model}" not in fragment and "seq" + "_{len}" not in fragment
    assert "h_{kv}" not in fragment and "d_{ff}" not in fragment  # italic k v, f f: the old output
    # the symbol table: only the symbols that appear, with meaning and value
    assert r"$h_{\mathrm{kv}}$ & \texttt{n\_kv\_heads} & \raggedright number of key/value heads" in fragment
    assert r"$s$ & \texttt{seq\_len}" in fragment and "& 8,192 " in fragment
    assert r"\texttt{window}" not in fragment and r"\texttt{n\_experts}" not in fragment


def test_values_are_exact_and_grouped(example):
    model = mfu_sym.load(example("llama3_8b.yaml"))
    fragment = latex.to_latex(document.build(model, seq_len=8192))
    training = model.evaluate(model.training(), seq_len=8192)
    assert f"{int(training):,}" in fragment  # 421,651,971,833,856
    assert "8,030,261,248" in fragment       # parameters
    assert "51,471,187,968" in fragment      # training FLOPs per token
    assert r"$s = 8{,}192$" in fragment


def test_conventions_are_stated(example):
    model = mfu_sym.load(example("llama3_8b.yaml"), preset="palm")
    fragment = latex.to_latex(document.build(model))
    assert r"preset palm" in fragment
    assert "full: every query sees all S keys" in fragment
    assert r"\cite[{App. B (R = P / (6N + 12LHQT))}]{chowdhery2022}" in fragment


def test_params_presets_cite_the_preset(example):
    model = mfu_sym.load(example("llama3_8b.yaml"), preset="6n")
    doc = document.build(model)
    found = rows(latex.to_latex(doc), doc.slug)
    assert "kaplan2020" in found["mlp"][1].split(",")


def test_bibliography_holds_exactly_the_keys_cited(example):
    model = mfu_sym.load(example("gemma3_27b.yaml"))
    fragment = latex.to_latex(document.build(model))
    cited = set()
    for group in re.findall(r"\\cite(?:\[[^\]]*\])?\{([^}]*)\}", fragment):
        cited |= set(group.split(","))
    items = set(re.findall(r"\\bibitem\{([^}]*)\}", fragment))
    assert cited == items
    assert {"beltagy2020", "vaswani2017", "shazeer2020"} <= items
    assert r"arXiv:2004.05150, \url{https://arxiv.org/abs/2004.05150}" in fragment


def test_no_bibliography_and_bibtex(example):
    path = example("llama3_8b.yaml")
    result = run("latex", path, "--no-bibliography")
    assert result.exit_code == 0, result.output
    assert "thebibliography" not in result.output and r"\cite{" in result.output
    bib = run("latex", path, "--format", "bibtex")
    assert bib.exit_code == 0, bib.output
    assert "@misc{vaswani2017," in bib.output and "eprint = {1706.03762}" in bib.output
    assert "author = {Vaswani, A. and Shazeer, N." in bib.output


def test_markdown(example):
    result = run("latex", example("llama3_8b.yaml"), "--format", "markdown")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "| mlp | $6 d_{\\mathrm{ff}} d L s$ |" in text
    assert "$$F_{\\mathrm{train}}(s) = 6 d_h h L s^{2} + 6 s \\left(" in text
    assert "| $h_{\\mathrm{kv}}$ | `n_kv_heads` |" in text
    assert "[Shazeer 2020](https://arxiv.org/abs/2002.05202), §2" in text
    assert "\\begin{align}" not in text and "\\bibitem" not in text


def test_cli_output_file_and_usage(tmp_path, example):
    out = tmp_path / "doc.tex"
    result = run("latex", example("llama3_8b.yaml"), "--standalone", "-o", out)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("%") and r"\documentclass[11pt]{article}" in text
    assert text.rstrip().endswith(r"\end{document}")
    assert run("latex", example("llama3_8b.yaml"), "--format", "markdown", "--standalone").exit_code == 2
    assert run("latex", example("llama3_8b.yaml"), "--seq-len", 0).exit_code == 2
    missing = run("latex", tmp_path / "nope.yaml")
    assert missing.exit_code == 1 and missing.output.startswith("Error: ")
    unwritable = run("latex", example("llama3_8b.yaml"), "-o", tmp_path / "no" / "dir" / "x.tex")
    assert unwritable.exit_code == 1 and "Error: " in unwritable.output and "Traceback" not in unwritable.output


def test_standalone_uses_standard_packages_only(example):
    text = latex.to_latex(document.build(mfu_sym.load(example("deepseek_v3.yaml"))), standalone=True)
    packages = set()
    for group in re.findall(r"\\usepackage(?:\[[^\]]*\])?\{([^}]*)\}", text):
        packages |= set(group.split(","))
    assert packages == {"geometry", "amsmath", "amssymb", "booktabs", "url", "float", "hyperref"}


# ---- line breaking -----------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def expressions():
    """(model, expression, sympy's LaTeX of it) for every formula of every example."""
    out = []
    for path in MODELS:
        model = mfu_sym.load(path, nonmatmul=("all",))
        s = model.seq_len
        for expression in [model.formula(name) for name in model.components] + [
                collect_in(model.training() / s, s), model.params()]:
            out.append((model, expression, reference_tex(model, expression)))
    return tuple(out)


@pytest.mark.parametrize("limit", [20, 40, 76])
def test_breaking_only_inserts_markup(limit):
    for _, _, tex in expressions():
        out = tex_lines.broken(tex, limit)
        assert tex_lines.unbreak(out) == tex
        if out == tex or tex.startswith(r"\begin{cases}"):
            continue  # (cases rows: their widths are checked by pdflatex below)
        # every line but a single over-long term fits
        for line in re.split(r"\\\\\n", out):
            parts = [p for p in re.split(r" (?=[+-] )", line) if p]
            assert tex_lines.width(line) <= limit + 4 or len(parts) <= 2, line


def test_cases_are_broken_inside_their_cells(example):
    model = mfu_sym.load(example("gemma3_27b.yaml"))
    tex = reference_tex(model, model.formula("attention_core"))
    out = tex_lines.broken(tex, 30)
    assert out.startswith(r"\begin{cases} ") and out.endswith(r" \end{cases}")
    assert tex_lines.ALIGNED_OPEN in out and tex_lines.unbreak(out) == tex


@pytest.mark.parametrize("value, text", [
    (0, "0"), (1234567, "1,234,567"), (sympy.Rational(3, 2), "1.5"), (sympy.Rational(-5, 4), "-1.25"),
    (sympy.Rational(123456789, 1024), "120,563.2705078125"), (sympy.Rational(1, 3), "1/3"),
    (sympy.Rational(10**7, 3), "10,000,000/3"),
])
def test_number(value, text):
    assert units.decimal(value) == text


@pytest.mark.parametrize("raw, tex", [
    ("a_b & 50% #1", r"a\_b \& 50\% \#1"),
    ("{x} ~ ^ \\", r"\{x\} \textasciitilde{} \textasciicircum{} \textbackslash{}"),
    ("§3.2 (W^O)", r"$\S$3.2 (W\textasciicircum{}O)"),
    ("Gödel <x>", r"G{\"{o}}del $<$x$>$"),
])
def test_text_escaping(raw, tex):
    assert escape.tex_text(raw) == tex


# ---- text of the formula library: its math set as math; text of model files escaped

@pytest.mark.parametrize("raw, tex", [
    # the library's notation, as its `where` fields write it
    ("§2.1.2, Eq. 12 (c^Q = W^{DQ} h)", r"$\S$2.1.2, Eq. 12 ($c^Q$ = $W^{DQ}$ h)"),
    ("recomputes S = Q K^T", r"recomputes S = Q $K^T$"),
    ("(4 n_v d_v^2, x2 per multiply-add)", r"(4 $n_v$ $d_v^2$, $\times$2 per multiply-add)"),
    ("kv_t = kv_{t-1} + k_t^T v_t", r"$kv_t$ = $kv_{t-1}$ + $k_t^T$ $v_t$"),
    ("width d_{model}", r"width $d_{\mathrm{model}}$"),
    (r"explicit $d_{ff} \cdot h$ math", r"explicit $d_{\mathrm{ff}} \cdot h$ math"),
    ("backward 2 x forward; 2x; n x m", r"backward 2 $\times$ forward; 2$\times$; n $\times$ m"),
    # code names and words stay text, escaped
    ("DeepseekV3Attention.q_a_layernorm", r"DeepseekV3Attention.\allowbreak{}q\_\allowbreak{}a\_\allowbreak{}layernorm"),
    ("FFN_SwiGLU, top_k of 8, Mixtral 8x7B", r"FFN\_SwiGLU, top\_k of 8, Mixtral 8x7B"),
    # $...$ holding anything but plain math is text, escaped: no command gets through
    (r"$\input{x}$ and $a$ % #", r"\$\textbackslash{}input\{x\}\$ and $a$ \% \#"),
    (r"$x}{$", r"\$x\}\{\$"),
])
def test_library_text_sets_its_math(raw, tex):
    assert escape.tex_library_text(raw) == tex


def test_library_text_in_markdown():
    assert escape.md_library_text("(c^Q = W^{DQ} h), 2x, d_{model}, q_a_norm") == \
        r"($c^Q$ = $W^{DQ}$ h), 2×, $d_{\mathrm{model}}$, q\_a\_norm"


def test_sources_render_their_math(example):
    fragment = latex.to_latex(document.build(mfu_sym.load(example("deepseek_v3.yaml"))))
    assert r"\cite[{$\S$2.1.2, Eq. 12 ($c^Q$ = $W^{DQ}$ h)}]{deepseekv2}" in fragment
    assert r"W\textasciicircum{}" not in fragment  # the old output: W^{DQ} printed as its source
    assert r"2 $\times$ forward for every matmul" in fragment and " 2 x " not in fragment
    markdown = run("latex", example("deepseek_v3.yaml"), "--format", "markdown").output
    assert r"§2.1.2, Eq. 12 ($c^Q$ = $W^{DQ}$ h)" in markdown and "2 × forward" in markdown
    assert r"$d_{\mathrm{sh}}$" in markdown and "d_{sh}" not in markdown


def test_model_file_strings_stay_escaped(tmp_path, example):
    """Text from a model file is never read as math or TeX, in LaTeX or Markdown."""
    text = Path(example("llama3_8b.yaml")).read_text().replace(
        "name: Llama-3-8B", r"name: 'W^{DQ} $x$ \input{y} 2x 50% #1 & d_{model}'")
    (tmp_path / "m.yaml").write_text(text)
    doc = document.build(mfu_sym.load(tmp_path / "m.yaml"))
    body = [line for line in latex.to_latex(doc, standalone=True).splitlines() if not line.startswith("%")]
    title = next(line for line in body if line.startswith(r"\title"))
    assert title == (r"\title{FLOPs of W\textasciicircum{}\{DQ\} \$x\$ \textbackslash{}input\{y\} 2x 50\% \#1 "
                     r"\& d\_\{model\}}")
    markdown = next(line for line in run("latex", tmp_path / "m.yaml", "--format", "markdown")
                                       .output.splitlines() if line.startswith("## "))
    assert markdown == r"## FLOPs of W^{DQ} \$x\$ \\input{y} 2x 50% \#1 & d\_{model}", markdown


# ---- citations follow the conventions in force

def test_attention_core_cites_the_kernel_in_force(example):
    for kernel, flash_cited in (("eager", False), ("flash", True)):
        model = mfu_sym.load(example("llama3_8b.yaml"), attention_kernel=kernel)
        doc = document.build(model)
        fragment = latex.to_latex(doc)
        cites = set(rows(fragment, doc.slug)["attention_core"][1].split(","))
        assert "vaswani2017" in cites  # the forward: scaled dot-product attention
        assert ("dao2023" in cites) is flash_cited, kernel
        assert ("attention\\_core, flash backward" in fragment) is flash_cited
        assert (r"\bibitem{dao2023}" in fragment) is flash_cited


def test_every_kernel_dependent_backward_cites_its_source():
    from mfu_sym.library import load_library
    library = load_library()
    differing = [f for f in library.formulas.values() if f.backward["eager"] != f.backward["flash"]]
    assert {"attention_core", "mla_attention_core"} <= {f.name for f in differing}
    for formula in differing:
        assert dict(formula.backward_references).get("flash") is not None, formula.name
        assert formula.reference.cite != "dao2023", formula.name  # the forward's source is not the kernel's


@pytest.mark.parametrize("field, message", [
    ("3", "backward_reference: expected a mapping with keys eager, flash"),
    ("{cuda: {cite: dao2023, where: x}}", "backward_reference: expected a mapping with keys eager, flash"),
    ("{flash: {cite: nobody2099, where: x}}", "unknown reference 'nobody2099'"),
    ("{flash: {cite: dao2023}}", "where: missing"),
])
def test_bad_backward_reference(tmp_path, field, message):
    from mfu_sym.errors import FormulaError
    from mfu_sym.library import load_library
    (tmp_path / "extra.yaml").write_text(
        "formulas:\n  - {name: x_new, component: attention_core, forward: 2 * keys, description: d,\n"
        f"     reference: {{cite: vaswani2017, where: x}}, backward_reference: {field}}}\n")
    with pytest.raises(FormulaError, match=re.escape(message)) as info:
        load_library([str(tmp_path)])
    assert "extra.yaml" in str(info.value)


def test_notebook_display_uses_paper_names(example):
    model = mfu_sym.load(example("llama3_8b.yaml"))
    shown = document.show(model, model.formula("attention_projections"))
    assert shown._repr_latex_() == r"$4 d_h d L s \left(h + h_{\mathrm{kv}}\right)$"


# ---- pdflatex ----------------------------------------------------------------------

def compile_tex(directory, text, name="doc"):
    """pdflatex twice (citations need two passes); the log of the second."""
    pdflatex = require_program("pdflatex", PDFLATEX_HINT)
    (directory / f"{name}.tex").write_text(text, encoding="utf-8")
    for _ in range(2):
        done = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
                              cwd=directory, capture_output=True, text=True, timeout=120)
        log = (directory / f"{name}.log").read_text(encoding="latin-1")
        assert done.returncode == 0, log[-3000:]
    assert (directory / f"{name}.pdf").stat().st_size > 1000
    return log


def check_log(log):
    assert "Citation" not in log or "undefined" not in log, re.findall(r".*Citation.*", log)
    assert "There were undefined references" not in log
    assert "Reference `" not in log
    overfull = [float(x) for x in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    assert all(x < 1.0 for x in overfull), overfull
    assert "Overfull \\vbox" not in log


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_standalone_compiles(tmp_path, path):
    result = run("latex", path, "--standalone", "-o", tmp_path / "doc.tex")
    assert result.exit_code == 0, result.output
    check_log(compile_tex(tmp_path, (tmp_path / "doc.tex").read_text()))


@pytest.mark.parametrize("args", [
    ("deepseek_v3.yaml", "--mla", "absorbed", "--mtp", "--nonmatmul"),
    ("gemma3_1b.yaml", "--attention-kernel", "flash", "--nonmatmul", "--batch", "4096"),
    ("gpt3_175b.yaml", "--preset", "megatron-2022", "--recompute", "selective"),
    ("llama3_8b.yaml", "--preset", "6n"),
], ids=lambda a: "-".join(a))
def test_standalone_compiles_under_other_conventions(tmp_path, args):
    result = run("latex", ROOT / "examples" / args[0], *args[1:], "--standalone", "-o", tmp_path / "doc.tex")
    assert result.exit_code == 0, result.output
    check_log(compile_tex(tmp_path, (tmp_path / "doc.tex").read_text()))


@pytest.mark.parametrize("name", ["llama3_8b.yaml", "gemma3_27b.yaml"])
def test_fragment_compiles_when_input(tmp_path, name):
    result = run("latex", ROOT / "examples" / name, "-o", tmp_path / "fragment.tex")
    assert result.exit_code == 0, result.output
    wrapper = "\n".join([r"\documentclass{article}", r"\usepackage{amsmath,booktabs,url}",
                         r"\begin{document}", r"\input{fragment}", r"\end{document}"])
    log = compile_tex(tmp_path, wrapper, "paper")
    assert "Citation" not in log or "undefined" not in log
