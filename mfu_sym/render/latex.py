"""A model's document as LaTeX for papers: align blocks and tables to \\input, or with
`standalone` a whole article that pdflatex compiles; and the Chinchilla frontier as an
align block.

Only standard packages: amsmath, amssymb, booktabs, geometry, url, float, hyperref
(Debian's texlive-latex-base and texlive-latex-recommended). In the standalone article
every table is set where it stands (`[H]`, float.sty), first under its section's heading,
and a heading starts a new page when too little of the page is left for it and what
follows (`\\mfusymneedspace`, needspace.sty's rule: that package is not in those two).
The text of the formula library and the engine has its math set as math and "2x" as
2$\\times$ (`escape.tex_library_text`); text from model files is escaped as it is.
Long formulas are broken by `tex_lines`; removing its markup gives back sympy's own LaTeX
of the engine's expression (`document.expression`), which the tests check.
"""

import functools
import math
import re

from .document import authors, dedupe, model_conventions, total_rows
from .escape import tex_comment, tex_library_text, tex_text, tex_text_links, tex_url, upright_subscripts
from .tex_lines import BREAK, DEFAULT_WIDTH, NUMBER_WIDTH, broken, width
from .units import decimal

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[margin=2.5cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{booktabs}
\usepackage{url}
\usepackage{float}
\usepackage[hidelinks]{hyperref}
\setlength{\emergencystretch}{3em}
\allowdisplaybreaks
% needspace.sty's \needspace: a new page unless #1 is left on this one
\makeatletter
\newcommand{\mfusymneedspace}[1]{\par\penalty-100\begingroup\setlength{\dimen@}{#1}%
  \dimen@ii\pagegoal\advance\dimen@ii-\pagetotal
  \ifdim\dimen@>\dimen@ii\ifdim\dimen@ii>\z@\vfil\fi\penalty-\@M\fi\endgroup}
\makeatother
"""
# before each heading: the heading, a line and the top of a table or a formula
NEEDSPACE = r"\mfusymneedspace{10\baselineskip}"
FRAGMENT_NEEDS = r"\usepackage{amsmath,booktabs,url}"


def _cite(citations):
    keys = dedupe(c.cite for c in citations)
    return r"\cite{%s}" % ",".join(keys) if keys else ""


def _align(doc, equations, line_width, with_cites):
    """One `align` block: a row per equation, broken to fit, each labelled."""
    lhs_width = max(width(e.lhs) for e in equations)
    rows = []
    for e in equations:
        cite = _cite(e.cites) if with_cites else ""
        cite_width = 3 + 2.5 * len(dedupe(c.cite for c in e.cites)) if cite else 0  # \quad[1, 2]
        limit = line_width - lhs_width - 2.5 - NUMBER_WIDTH - cite_width
        body = broken(e.tex, limit, BREAK)
        tail = (r"\quad\text{%s}" % cite) if cite else ""
        rows.append(f"  % {e.key}: {e.meaning}\n  {e.lhs} &= {body}{tail} \\label{{eq:{doc.slug}:{e.key}}}")
    return "\\begin{align}\n" + " \\\\\n".join(rows) + "\n\\end{align}"


TABLE_ROWS = 30  # a float taller than a page cannot break: longer tables are continued
# ... and so are tables whose wrapped rows would take more lines than a page holds with a
# heading and a caption above (about 50 lines of \small on the 11pt page; kept well under)
TABLE_LINES = 34
_CHARS = {r"p{0.2\linewidth}": 16, r"p{0.36\linewidth}": 30, r"p{0.5\linewidth}": 40,
          r"p{0.7\linewidth}": 58}


def _visible(cell):
    """About the characters a cell shows."""
    cell = re.sub(r"\\cite(\[[^\]]*\])?\{[^}]*\}", lambda m: "[99, " + (m.group(1) or "") + "]", cell)
    return len(re.sub(r"\\[A-Za-z]+|[{}$\\]", "", cell))


def _row_lines(spec, row):
    columns = spec.replace("p{", " p{").split()
    return max([1] + [math.ceil(_visible(cell) / _CHARS[column]) for column, cell in zip(columns, row)
                      if column in _CHARS])


def _chunks(spec, rows):
    chunks, current, lines = [], [], 0
    for row in rows:
        height = _row_lines(spec, row)
        if current and (len(current) == TABLE_ROWS or lines + height > TABLE_LINES):
            chunks.append(current)
            current, lines = [], 0
        current.append(row)
        lines += height
    return chunks + [current]


def _table(spec, header, rows, caption=None, label=None, size=r"\small", here=False):
    """A table (continued in more than one when long); `here`: set where it stands
    ([H], float.sty), else a float ([htbp])."""
    out = []
    for n, chunk in enumerate(_chunks(spec, rows)):
        lines = [r"\begin{table}[%s]" % ("H" if here else "htbp"), r"\centering", size]
        if caption:
            lines.append(r"\caption{%s}" % (caption if n == 0 else caption + " (continued)"))
        if label and n == 0:
            lines.append(r"\label{%s}" % label)
        # rows end in \tabularnewline, so that a cell may be \raggedright
        lines += [r"\begin{tabular}{%s}" % spec, r"\toprule", " & ".join(header) + r" \tabularnewline",
                  r"\midrule"]
        lines += [" & ".join(row) + r" \tabularnewline" for row in chunk]
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
        out.append("\n".join(lines))
    return "\n".join(out)


def _symbol_rows(doc):
    rows = []
    for info, value in doc.symbols:
        rows.append([f"${upright_subscripts(info.latex)}$", r"\texttt{%s}" % tex_text(info.name),
                     r"\raggedright " + tex_library_text(info.description),
                     decimal(value) if value is not None else "---"])
    return rows


def _convention_rows(doc):
    rows = []
    for key, text in doc.conventions.items():
        text = tex_library_text(text)
        if key == "preset" and doc.preset_citation is not None:
            text += " " + _cite_at(doc.preset_citation)
        rows.append([r"\raggedright " + tex_text(key.replace("_", " ")), r"\raggedright " + text])
    return rows


def _value_rows(doc):
    flops = doc.report["flops"]
    rows = []
    for name, c in flops["components"].items():
        rows.append([tex_text(name), decimal(c["forward"]), decimal(c["backward"]), decimal(c["params"])])
    rows.append([r"\midrule total", decimal(flops["forward"]), decimal(flops["backward"]),  # a rule above
                 decimal(doc.report["params"]["total"])])
    return rows


def _bibliography(doc):
    lines = [r"\begin{thebibliography}{%d}" % max(9, len(doc.references))]
    for ref in doc.references:
        where = (r"arXiv:%s, \url{%s}" % (tex_text(ref.arxiv), tex_url(ref.link)) if ref.arxiv
                 else r"\url{%s}" % tex_url(ref.link) if ref.link else tex_text(ref.note))
        names = tex_text(authors(ref.authors)).rstrip(".")
        lines.append(r"\bibitem{%s} %s. \newblock \emph{%s}. \newblock %s. %s."
                     % (ref.key, names, tex_text(ref.title), ref.year_text, where))
    lines.append(r"\end{thebibliography}")
    return "\n".join(lines)


def _cite_at(citation):
    """\\cite[where]{key}; `where` in braces, so that a ] in it cannot end the option."""
    return r"\cite[{%s}]{%s}" % (tex_library_text(citation.where), citation.cite)


def _math_number(text):
    return text.replace(",", "{,}")


def _blocks(doc, line_width, here=False):
    """The pieces both forms share: two align blocks and the tables."""
    name, slug = tex_text(doc.model.arch.name), doc.slug
    s, b = decimal(doc.run["seq_len"]), decimal(doc.run["batch"])
    sources = [[tex_text(component), r"\texttt{%s}" % tex_text(formula), r"\raggedright" + _cite_at(citation)]
               for component, formula, citation in doc.sources]
    _table_here = functools.partial(_table, here=here)
    return {
        "components": _align(doc, list(doc.components), line_width, True),
        "totals": _align(doc, list(doc.totals), line_width, False),
        "sources": _table_here(r"l l p{0.36\linewidth}", ["component", "formula", "source"], sources,
                          f"{name}: the formula library's entries behind each component", f"tab:{slug}:sources"),
        "symbols": _table_here(r"l l p{0.5\linewidth} r", ["symbol", "name", "meaning", "value"], _symbol_rows(doc),
                          f"{name}: symbols and their values ($s$ and $b$: the run)", f"tab:{slug}:symbols"),
        "conventions": _table_here(r"p{0.2\linewidth} p{0.7\linewidth}", ["switch", "in force"], _convention_rows(doc),
                              f"{name}: counting conventions", f"tab:{slug}:conventions"),
        "values": _table_here("l r r r", ["component", "forward", "backward", "parameters"], _value_rows(doc),
                         f"{name}: exact FLOPs of one step of ${_math_number(b)} \\times {_math_number(s)}$ tokens, "
                         "and parameters",
                         f"tab:{slug}:values"),
        "totals_values": _table_here("l r r", ["FLOPs", "forward", "training"], total_rows(doc),
                                f"{name}: exact totals at $s = {_math_number(s)}$, $b = {_math_number(b)}$",
                                f"tab:{slug}:totals"),
    }


def to_latex(doc, standalone=False, bibliography=True, line_width=DEFAULT_WIDTH):
    """The document as LaTeX: a fragment to \\input (align blocks and tables; needs
    amsmath, booktabs and url), or with `standalone` a complete article."""
    model, slug = doc.model, doc.slug
    blocks = _blocks(doc, line_width, here=standalone)
    header = [tex_comment(f"mfu-sym latex: {model.arch.name}" + (f" ({doc.source})" if doc.source else "")),
              f"% {model_conventions(doc)}",
              "% Formulas: sympy's LaTeX of the engine's expressions, symbols as in formulas/symbols.yaml."]
    if not standalone:
        header.append(f"% Needs {FRAGMENT_NEEDS} (and \\allowdisplaybreaks for very long formulas); "
                      + ("ends with its own thebibliography" if bibliography
                         else "cites the keys of `mfu-sym latex --format bibtex`"))
        parts = header + [
            "% ---- forward FLOPs of one sequence, per component", blocks["components"],
            "% ---- totals, collected in s", blocks["totals"],
            "% ---- sources", blocks["sources"],
            "% ---- symbols", blocks["symbols"],
            "% ---- conventions", blocks["conventions"],
            "% ---- values at the run", blocks["values"], blocks["totals_values"],
        ] + (["% ---- bibliography", _bibliography(doc)] if bibliography else [])
        return "\n".join(parts) + "\n"
    source = getattr(model.arch, "source", "") or ""
    intro = ((r"Sizes: %s. " % tex_text_links(source) if source else "")
             + r"FLOPs are %s, under the \texttt{%s} preset (Table~\ref{tab:%s:conventions}). "
             % (tex_text(doc.conventions["counted"]), tex_text(model.conventions.preset), slug)
             + r"Each formula is the engine's exact expression; Table~\ref{tab:%s:symbols} lists the symbols." % slug)
    components = (r"The forward FLOPs of one sequence of $s$ tokens, per component, each with the sources of the "
                  r"formulas it is built from (Table~\ref{tab:%s:sources}); the backward pass: %s."
                  % (slug, tex_library_text(doc.conventions["backward"])))
    s, b = decimal(doc.run["seq_len"]), decimal(doc.run["batch"])
    values = r"Values at \texorpdfstring{$s = %s$, $b = %s$}{s = %s, b = %s}" % (
        _math_number(s), _math_number(b), s, b)

    def section(title, *body):
        # the heading keeps room for what follows it; a section with tables starts with
        # one, set where it stands ([H]), so that heading and table share a page
        return [NEEDSPACE, r"\section{%s}" % title, *body, ""]

    parts = header + [
        PREAMBLE.rstrip(),
        r"\title{FLOPs of %s}" % tex_text(model.arch.name), r"\author{mfu-sym}", r"\date{}",
        r"\begin{document}", r"\maketitle", "", intro, "",
        *section("Forward FLOPs of one sequence, by component", components, blocks["components"]),
        *section("Totals", r"Per sequence and per token, collected in the sequence length $s$; "
                           r"$N$ counts the parameters.", blocks["totals"]),
        *section("Sources of the formulas", blocks["sources"]),
        *section("Symbols and conventions", blocks["symbols"], blocks["conventions"]),
        *section(values, blocks["values"], blocks["totals_values"],
                 r"Exact integers (per-token figures are averages over the $s$ positions, exact decimals "
                 r"or fractions)."),
        r"\clearpage", "", _bibliography(doc), r"\end{document}",
    ]
    return "\n".join(parts) + "\n"


def chinchilla(frontier):
    """The Chinchilla frontier as an align block: the loss, the constraint, N_opt(C) and
    D_opt(C) as sympy derived them."""
    from ..planning import latex
    from .json import chinchilla_forms
    forms = chinchilla_forms(frontier)
    rows = [r"L(N, D) &= %s" % latex(forms["loss"]),
            r"C &= 6ND",
            r"N_{\mathrm{opt}}(C) &= %s" % latex(forms["n_opt"]),
            r"D_{\mathrm{opt}}(C) &= %s" % latex(forms["d_opt"])]
    return "\n".join([r"% Chinchilla compute-optimal frontier (Hoffmann et al. 2022, arXiv:2203.15556, Eq. 4),",
                      r"% derived by sympy from the loss under C = 6ND",
                      r"\begin{align}", " \\\\\n".join(rows), r"\end{align}"])
