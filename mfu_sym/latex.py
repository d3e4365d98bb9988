"""Publishing a model's FLOP formulas: LaTeX for papers, Markdown for READMEs, BibTeX.

    >>> from mfu_sym import latex
    >>> doc = latex.document(model, seq_len=8192)
    >>> latex.to_latex(doc)                     # align blocks and tables to \\input
    >>> latex.to_latex(doc, standalone=True)    # a whole article that pdflatex compiles
    >>> latex.to_markdown(doc)                  # $...$ math

Every formula is sympy's own LaTeX of the engine's expression, printed with the symbol
table's names (`d`, `h_{kv}`, `d_{ff}`, `s`: formulas/symbols.yaml), and cut into lines
only at its own `+` and `-` signs: removing the line-break markup (`unbreak`: BREAK,
INNER_BREAK, the `\\right.`/`\\left.{}` pairs, the `aligned` wrapper) gives back exactly
`sympy.latex(expression, symbol_names=..., **PRINT_SETTINGS)`, which the tests check.
Each formula cites the references of the library formulas (and the mask) it is built
from; the bibliography holds exactly the keys cited. Only standard packages: amsmath,
amssymb, booktabs, geometry, url, hyperref (Debian's texlive-latex-base and
texlive-latex-recommended).
"""

import re
import unicodedata
from dataclasses import dataclass

import sympy

from .model import collect_in
from .expr import to_sympy

# Line-break markup. A row of an `align` continues on the next line at the `=` column,
# indented, unnumbered (the row's number goes on its last line).
BREAK = "\\nonumber\\\\\n  &\\qquad"
# Inside a `cases` cell, a long piece is set in an `aligned` block.
INNER_BREAK = "\\\\\n  &\\qquad"
ALIGNED_OPEN, ALIGNED_CLOSE = "\\begin{aligned}[t]&", "\\end{aligned}"
# A cut inside \left( ... \right) closes the group with \right. and opens the next line
# with \left.{} (the {} keeps the leading + a binary operator).
LEFT_AGAIN = "\\left.{}"
# Widths are in "math characters" (an italic letter at the body size; 11pt article with
# 2.5 cm margins, 472pt, holds about 76 at 6.2pt each).
DEFAULT_WIDTH = 76
_NUMBER_WIDTH = 6  # the equation number "(12)" and the space before it
_INDENT_WIDTH = 4  # \qquad

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[margin=2.5cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{booktabs}
\usepackage{url}
\usepackage[hidelinks]{hyperref}
\setlength{\emergencystretch}{3em}
\allowdisplaybreaks
"""
FRAGMENT_NEEDS = r"\usepackage{amsmath,booktabs,url}"


# ------------------------------------------------------------------ expressions

# sympy's printer settings for every formula: a fraction whose numerator is long is
# printed as a short fraction times the rest (\frac{s}{2} \left(...\right), not one
# \frac over a whole sum), so that it can break across lines.
PRINT_SETTINGS = {"long_frac_ratio": 8}


def expression(model, expr):
    """sympy's LaTeX of `expr` with the symbol table's names (and PRINT_SETTINGS): the
    reference text that every formula in the documents reproduces."""
    return sympy.latex(to_sympy(expr), symbol_names=model.library.latex_names(), **PRINT_SETTINGS)


class Math:
    """An expression that Jupyter renders with the papers' symbol names (sympy's own
    `_repr_latex_` would print `d_{model}`)."""

    def __init__(self, text):
        self.text = text

    def _repr_latex_(self):
        return f"${self.text}$"

    def __str__(self):
        return self.text

    __repr__ = __str__


def show(model, expr):
    """`expr` for display in a notebook: `latex.show(model, model.training())`."""
    return Math(expression(model, expr))


# ------------------------------------------------------------------ line breaking

_COMMAND = re.compile(r"\\([A-Za-z]+|.)")


def _skip_argument(tex, i):
    """Index after a `{...}` group starting at i (or i when there is none)."""
    if i < len(tex) and tex[i] == "{":
        depth = 0
        for j in range(i, len(tex)):
            depth += {"{": 1, "}": -1}.get(tex[j], 0)
            if depth == 0:
                return j + 1
    return i


def _skip_delimiter(tex, i):
    if i < len(tex) and tex[i] == "\\":
        return _COMMAND.match(tex, i).end()
    return i + 1


def _scan(tex):
    """(index, stack) for every character outside commands: the stack says which groups
    enclose it ('{', 'left' for \\left...\\right, 'env' for \\begin...\\end)."""
    stack, i = [], 0
    while i < len(tex):
        c = tex[i]
        if c == "\\":
            m = _COMMAND.match(tex, i)
            name, i = m.group(1), m.end()
            if name == "left":
                stack.append("left")
                i = _skip_delimiter(tex, i)
            elif name == "right":
                if stack:
                    stack.pop()
                i = _skip_delimiter(tex, i)
            elif name == "begin":
                stack.append("env")
                i = _skip_argument(tex, i)
            elif name == "end":
                if stack:
                    stack.pop()
                i = _skip_argument(tex, i)
            continue
        yield i, tuple(stack)
        if c == "{":
            stack.append("{")
        elif c == "}" and stack:
            stack.pop()
        i += 1


def _break_points(tex):
    """Where `tex` may be cut: before a ` + ` or ` - ` at the top level, or inside a
    top-level \\left( ... \\right) group (then the flag is True)."""
    return [(i, bool(stack)) for i, stack in _scan(tex)
            if tex[i] == " " and tex[i + 1:i + 3] in ("+ ", "- ") and stack in ((), ("left",))]


def _split_top(tex, separator):
    """`tex` split at `separator` where it stands outside every group."""
    parts, start = [], 0
    for i, stack in _scan(tex):
        if not stack and tex.startswith(separator, i) and i >= start:
            parts.append(tex[start:i])
            start = i + len(separator)
    parts.append(tex[start:])
    return parts


_TEXT_COMMANDS = {"text", "mathrm", "mathit", "operatorname", "textrm"}
_SPACING = {":": 0.4, ",": 0.3, ";": 0.5, "quad": 2, "qquad": 4, " ": 0.4}
_ZERO = {"left", "right", "begin", "end", "frac", "dfrac", "tfrac", "nonumber", "displaystyle"}


def width(tex):
    """Rough rendered width of math `tex`, in italic-letter widths: letters and digits 1,
    sub- and superscripts 0.7, binary operators and relations 2.5 (their spacing),
    spaces 0. Generous rather than exact: it only decides where lines break."""
    total, scales, pending, i = 0.0, [1.0], None, 0
    while i < len(tex):
        c = tex[i]
        scale = pending if pending is not None else scales[-1]
        if c == "\\":
            m = _COMMAND.match(tex, i)
            name, i = m.group(1), m.end()
            pending = None
            if name in ("begin", "end"):
                i = _skip_argument(tex, i)
            elif name in _TEXT_COMMANDS:
                end = _skip_argument(tex, i)
                total += scale * len(tex[i + 1:end - 1])
                i = end
            elif name in _SPACING:
                total += _SPACING[name]
            elif name in ("leq", "geq", "neq", "approx", "times", "cdot"):
                total += 2.5 * scale
            elif name not in _ZERO and name != "\\":
                total += scale
            continue
        if c in "_^":
            pending = scales[-1] * 0.7
            i += 1
            continue
        if c == "{":
            scales.append(pending if pending is not None else scales[-1])
            pending = None
        elif c == "}":
            if len(scales) > 1:
                scales.pop()
        elif c == " ":
            pass
        elif c in "+-=<>" and tex[i - 1:i] == " ":
            total += 2.5 * scale
            pending = None
        elif c not in "&":
            total += scale
            pending = None
        i += 1
    return total


def _lines(tex, limit):
    """`tex` cut into lines of at most `limit` (the first) and `limit - indent` (the
    rest), each cut flagged when it falls inside a \\left( ... \\right) group."""
    points = _break_points(tex)
    lines, start, start_flag = [], 0, None
    while True:
        room = limit - (_INDENT_WIDTH if lines else 0)
        rest = tex[start:]
        later = [(i, inside) for i, inside in points if i > start]
        if width(rest) <= room or not later:
            lines.append((rest, start_flag))
            return lines
        fitting = [(i, inside) for i, inside in later if width(tex[start:i]) <= room]
        if not fitting:
            cut = later[0]  # one term wider than the line: it stands alone
        else:
            cut = fitting[-1]
            top = [i for i, inside in fitting if not inside]
            if top and cut[1]:
                # Cut between terms rather than inside a parenthesis, when the term that
                # follows then fits on its own line.
                after = [i for i, inside in points if i > top[-1] and not inside] + [len(tex)]
                if width(tex[top[-1]:after[0]]) <= limit - _INDENT_WIDTH:
                    cut = (top[-1], False)
        lines.append((tex[start:cut[0]], start_flag))
        start, start_flag = cut


def _join(lines, separator):
    out = lines[0][0]
    for text, inside in lines[1:]:
        out += ("\\right." + separator + LEFT_AGAIN if inside else separator) + text
    return out


def broken(tex, limit, separator=BREAK):
    """sympy LaTeX `tex` with line breaks so that no line is wider than `limit` (where its
    own `+` and `-` allow). A top-level `cases` block keeps its rows; a long piece is
    broken inside an `aligned` block in its cell."""
    begin, end = "\\begin{cases} ", " \\end{cases}"
    if tex.startswith(begin) and tex.endswith(end) and _is_single_environment(tex):
        rows = [_split_top(row, " & ") for row in _split_top(tex[len(begin):-len(end)], " \\\\")]
        if any(len(cells) != 2 for cells in rows):
            return tex
        room = limit - max(width(condition) for _, condition in rows) - 3  # brace and \quad
        out = []
        for piece, condition in rows:
            lines = _lines(piece, room)
            if len(lines) > 1:
                piece = ALIGNED_OPEN + _join(lines, INNER_BREAK) + ALIGNED_CLOSE
            out.append(piece + " & " + condition)
        return begin + " \\\\".join(out) + end
    return _join(_lines(tex, limit), separator)


def _is_single_environment(tex):
    """True when `tex` is one \\begin{...} ... \\end{...} block and nothing else."""
    depth_zero = [i for i, stack in _scan(tex) if not stack]
    return not depth_zero


def unbreak(tex):
    """The inverse of `broken`: sympy's own text back (what the tests compare)."""
    for markup in ("\\right." + BREAK + LEFT_AGAIN, "\\right." + INNER_BREAK + LEFT_AGAIN, BREAK, INNER_BREAK,
                   ALIGNED_OPEN, ALIGNED_CLOSE):
        tex = tex.replace(markup, "")
    return tex


# ------------------------------------------------------------------ the document

@dataclass(frozen=True)
class Equation:
    key: str          # component name, or total_forward, ...: the label's last part
    lhs: str          # LaTeX of the left-hand side
    expr: object      # the sympy expression (the engine's own)
    tex: str          # sympy.latex(expr) with the library's names
    meaning: str      # one line of prose
    cites: tuple = ()  # of library.Citation


@dataclass(frozen=True)
class Document:
    model: object
    source: str
    run: dict               # seq_len, batch, tokens (exact)
    components: tuple       # of Equation: forward FLOPs of one sequence per component
    totals: tuple           # of Equation: per sequence and per token, and N
    sources: tuple          # of (component, formula name, Citation): every library formula used
    symbols: tuple          # of (SymbolInfo, value or None): those appearing in the equations
    conventions: dict       # Conventions.explain()
    preset_citation: object  # library.Citation of the preset, or None
    report: dict            # Model.report at the run
    references: tuple       # of library.Reference, in order of first citation

    @property
    def slug(self):
        name = re.sub(r"[^a-z0-9]+", "-", self.model.arch.name.lower()).strip("-") or "model"
        preset = self.model.conventions.preset
        return name if preset == "exact" else f"{name}-{preset}"


def _dedupe(items):
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return tuple(out)


def _preset_citation(model):
    from .conventions import load_presets
    from .library import Citation
    ref = load_presets(model.library.root)[model.conventions.preset].reference
    if ref.get("cite") in model.library.references:
        return Citation(str(ref["cite"]), str(ref.get("where", "")))
    return None


def component_citations(model, component, preset_citation=None):
    """The citations behind one component's FLOPs: each counted term's formula, the mask
    of a position-dependent term, and the preset when FLOPs come from parameters."""
    cites = []
    for term in model.terms:
        if term.kind != component or not term.flops:
            continue
        cites.append(term.formula.reference)
        if term.mask is not None:
            cites.append(term.mask.reference)
    if model.conventions.flops_from == "params" and preset_citation is not None:
        cites.append(preset_citation)
    return _dedupe(cites)


def document(model, seq_len=None, batch=None, source=None):
    """Everything the LaTeX and Markdown documents show, computed once."""
    report = model.report(seq_len=seq_len, batch=batch, context_ok=True)
    s = model.seq_len
    preset_citation = _preset_citation(model)
    components = []
    for name in model.components:
        formula = model.formula(name)
        if formula == 0:
            continue
        components.append(Equation(
            name, r"F_{\mathrm{%s}}" % name.replace("_", r"\_"), formula, expression(model, formula),
            f"forward FLOPs of {name.replace('_', ' ')} for one sequence of s tokens",
            component_citations(model, name, preset_citation)))
    forward, training = model.forward(), model.training()
    counted = "forward + backward" + (" + recomputation" if model.conventions.count_recompute
                                      and model.conventions.recompute != "none" else "")
    totals = [
        ("forward", r"F_{\mathrm{fwd}}(s)", collect_in(forward, s), "forward FLOPs of one sequence"),
        ("training", r"F_{\mathrm{train}}(s)", collect_in(training, s),
         f"training FLOPs of one sequence ({counted})"),
        ("forward_per_token", r"\frac{F_{\mathrm{fwd}}(s)}{s}", collect_in(forward / s, s),
         "forward FLOPs per token, averaged over the s positions"),
        ("training_per_token", r"\frac{F_{\mathrm{train}}(s)}{s}", collect_in(training / s, s),
         "training FLOPs per token, averaged over the s positions"),
        ("params", r"N", model.params(), "parameters (tied matrices once)"),
    ]
    if model.active_params() != model.params():
        totals.append(("active_params", r"N_{\mathrm{active}}", model.active_params(),
                       "parameters one token touches (top_k of the routed experts)"))
    totals = tuple(Equation(key, lhs, e, expression(model, e), meaning) for key, lhs, e, meaning in totals)
    sources = []
    for name in model.components:
        if model.formula(name) == 0:
            continue
        for term in model.terms:
            if term.kind == name and term.flops:
                sources.append((name, term.formula.name, term.formula.reference))
                if term.mask is not None:
                    sources.append((name, f"mask {term.mask.name}", term.mask.reference))
    sources = _dedupe(sources)
    appearing = set().union(*(e.expr.free_symbols for e in components + list(totals)))
    run_values = {model.seq_len: report["run"]["seq_len"], model.batch: report["run"]["batch"]}
    symbols = tuple((info, model.values.get(info.symbol, run_values.get(info.symbol)))
                    for info in model.library.symbols.values() if info.symbol in appearing)
    keys = [c.cite for e in components for c in e.cites] + [c.cite for _, _, c in sources]
    if preset_citation is not None:
        keys.insert(0, preset_citation.cite)
    references = tuple(model.library.references[k] for k in _dedupe(keys))
    return Document(model, source or "", report["run"], tuple(components), totals, sources, symbols,
                    model.conventions.explain(), preset_citation, report, references)


# ------------------------------------------------------------------ text and numbers

_UNICODE = {"§": r"\S{}", "×": r"$\times$", "≤": r"$\le$", "≥": r"$\ge$", "–": "--", "—": "---",
            "’": "'", "‘": "`", "“": "``", "”": "''", "…": r"\dots{}", "≈": r"$\approx$",
            "κ": r"$\kappa$", "−": "-", "\u00a0": "~"}
_ACCENTS = {"\u0301": "'", "\u0300": "`", "\u0302": "^", "\u0308": '"', "\u0303": "~", "\u0327": "c",
            "\u030c": "v", "\u030a": "r"}
_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "<": r"$<$", ">": r"$>$", "|": r"$|$"}


def tex_text(text):
    """Plain text safe for LaTeX (pdflatex, no font packages): specials escaped, the few
    non-ASCII characters of the data mapped to commands, accented letters composed."""
    out = []
    for ch in str(text):
        if ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif ord(ch) < 32 or ord(ch) == 127:  # control characters: shown, never typeset as such
            out.append(r"\textit{[U+%04X]}" % ord(ch))
        elif ord(ch) < 128:
            out.append(ch)
        elif ch in _UNICODE:
            out.append(_UNICODE[ch])
        else:
            base, *marks = unicodedata.normalize("NFD", ch)
            if ord(base) < 128 and marks and all(m in _ACCENTS for m in marks):
                for mark in marks:
                    base = "{\\%s{%s}}" % (_ACCENTS[mark], base)
                out.append(base)
            else:
                out.append(r"\textit{[U+%04X]}" % ord(ch))
    return "".join(out)


def tex_text_links(text):
    """Like tex_text, with web addresses (words with a '/') set in \\url so they break."""
    out, last = [], 0
    for m in re.finditer(r"[^\s;,()]+/[^\s;,()]*", str(text)):
        out += [tex_text(text[last:m.start()]), r"\url{%s}" % tex_url(m.group().rstrip("."))]
        last = m.start() + len(m.group().rstrip("."))
    return "".join(out) + tex_text(text[last:])


def tex_url(url):
    return str(url).replace("\\", "/").replace("%", r"\%").replace("#", r"\#").replace("{", "").replace("}", "")


def number(value):
    """An exact number as text: 1,234,567; a fraction with a terminating decimal
    (a power-of-two sequence length) as its exact decimal; any other as p/q."""
    value = sympy.Rational(value)
    if value.q == 1:
        return f"{int(value):,}"
    q, twos, fives = value.q, 0, 0
    while q % 2 == 0:
        q, twos = q // 2, twos + 1
    while q % 5 == 0:
        q, fives = q // 5, fives + 1
    if q == 1:
        digits = max(twos, fives)
        scaled = abs(value.p) * 10**digits // value.q
        whole, frac = divmod(scaled, 10**digits)
        return f"{'-' if value < 0 else ''}{whole:,}.{frac:0{digits}d}"
    return f"{value.p:,}/{value.q:,}"


def _authors(authors):
    names = []
    for person in str(authors).split(" and "):
        person = person.strip()
        if person == "others":
            names.append("et al.")
            continue
        last, _, first = person.partition(",")
        names.append(f"{first.strip()} {last.strip()}".strip())
    if names and names[-1] == "et al.":
        return ", ".join(names[:-1]) + " et al."
    return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1] if names else ""


def short_citation(reference):
    """'Vaswani et al. 2017' for Markdown."""
    people = str(reference.authors).split(" and ")
    first = people[0].partition(",")[0].strip()
    if len(people) == 2 and people[1].strip() != "others":
        return f"{first} and {people[1].partition(',')[0].strip()} {reference.year}"
    return f"{first}{' et al.' if len(people) > 1 else ''} {reference.year}"


# ------------------------------------------------------------------ LaTeX

def _cite(citations):
    keys = _dedupe(c.cite for c in citations)
    return r"\cite{%s}" % ",".join(keys) if keys else ""


def _align(doc, equations, line_width, with_cites):
    """One `align` block: a row per equation, broken to fit, each labelled."""
    lhs_width = max(width(e.lhs) for e in equations)
    rows = []
    for e in equations:
        cite = _cite(e.cites) if with_cites else ""
        cite_width = 3 + 2.5 * len(_dedupe(c.cite for c in e.cites)) if cite else 0  # \quad[1, 2]
        limit = line_width - lhs_width - 2.5 - _NUMBER_WIDTH - cite_width
        body = broken(e.tex, limit, BREAK)
        tail = (r"\quad\text{%s}" % cite) if cite else ""
        rows.append(f"  % {e.key}: {e.meaning}\n  {e.lhs} &= {body}{tail} \\label{{eq:{doc.slug}:{e.key}}}")
    return "\\begin{align}\n" + " \\\\\n".join(rows) + "\n\\end{align}"


TABLE_ROWS = 30  # a float taller than a page cannot break: longer tables are continued


def _table(spec, header, rows, caption=None, label=None, size=r"\small"):
    chunks = [rows[i:i + TABLE_ROWS] for i in range(0, len(rows), TABLE_ROWS)] or [[]]
    out = []
    for n, chunk in enumerate(chunks):
        lines = [r"\begin{table}[htbp]", r"\centering", size]
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
        rows.append([f"${info.latex}$", r"\texttt{%s}" % tex_text(info.name),
                     r"\raggedright " + tex_text(info.description), number(value) if value is not None else "---"])
    return rows


def _convention_rows(doc):
    rows = []
    for key, text in doc.conventions.items():
        text = tex_text(text)
        if key == "preset" and doc.preset_citation is not None:
            text += r" \cite[%s]{%s}" % (tex_text(doc.preset_citation.where), doc.preset_citation.cite)
        rows.append([tex_text(key.replace("_", " ")), r"\raggedright " + text])
    return rows


def _value_rows(doc):
    flops = doc.report["flops"]
    rows = []
    for name, c in flops["components"].items():
        rows.append([tex_text(name), number(c["forward"]), number(c["backward"]), number(c["params"])])
    rows.append([r"\midrule total", number(flops["forward"]), number(flops["backward"]),  # a rule above
                 number(doc.report["params"]["total"])])
    return rows


def _total_rows(doc):
    flops, run = doc.report["flops"], doc.run
    return [
        ["per token (average)", number(flops["per_token"]["forward"]), number(flops["per_token"]["training"])],
        ["per sequence", number(flops["per_sequence"]["forward"]), number(flops["per_sequence"]["training"])],
        [f"per step ({number(run['batch'])} sequence{'s' if run['batch'] != 1 else ''})",
         number(flops["forward"]), number(flops["training"])],
    ]


def _bibliography(doc):
    lines = [r"\begin{thebibliography}{%d}" % max(9, len(doc.references))]
    for ref in doc.references:
        where = (r"arXiv:%s, \url{%s}" % (tex_text(ref.arxiv), tex_url(ref.link)) if ref.arxiv
                 else r"\url{%s}" % tex_url(ref.link))
        authors = tex_text(_authors(ref.authors)).rstrip(".")
        lines.append(r"\bibitem{%s} %s. \newblock \emph{%s}. \newblock %d. %s."
                     % (ref.key, authors, tex_text(ref.title), ref.year, where))
    lines.append(r"\end{thebibliography}")
    return "\n".join(lines)


def _math_number(text):
    return text.replace(",", "{,}")


def _blocks(doc, line_width):
    """The pieces both forms share: two align blocks and the tables."""
    name, slug = tex_text(doc.model.arch.name), doc.slug
    s, b = number(doc.run["seq_len"]), number(doc.run["batch"])
    sources = [[tex_text(component), r"\texttt{%s}" % tex_text(formula),
                r"\raggedright\cite[%s]{%s}" % (tex_text(citation.where), citation.cite)]
               for component, formula, citation in doc.sources]
    return {
        "components": _align(doc, list(doc.components), line_width, True),
        "totals": _align(doc, list(doc.totals), line_width, False),
        "sources": _table(r"l l p{0.36\linewidth}", ["component", "formula", "source"], sources,
                          f"{name}: the formula library's entries behind each component", f"tab:{slug}:sources"),
        "symbols": _table(r"l l p{0.5\linewidth} r", ["symbol", "name", "meaning", "value"], _symbol_rows(doc),
                          f"{name}: symbols and their values ($s$ and $b$: the run)", f"tab:{slug}:symbols"),
        "conventions": _table(r"l p{0.75\linewidth}", ["switch", "in force"], _convention_rows(doc),
                              f"{name}: counting conventions", f"tab:{slug}:conventions"),
        "values": _table("l r r r", ["component", "forward", "backward", "parameters"], _value_rows(doc),
                         f"{name}: exact FLOPs of one step of {b} $\\times$ {s} tokens, and parameters",
                         f"tab:{slug}:values"),
        "totals_values": _table("l r r", ["FLOPs", "forward", "training"], _total_rows(doc),
                                f"{name}: exact totals at $s = {_math_number(s)}$, $b = {_math_number(b)}$",
                                f"tab:{slug}:totals"),
    }


def to_latex(doc, standalone=False, bibliography=True, line_width=DEFAULT_WIDTH):
    """The document as LaTeX: a fragment to \\input (align blocks and tables; needs
    amsmath, booktabs and url), or with `standalone` a complete article."""
    model, slug = doc.model, doc.slug
    blocks = _blocks(doc, line_width)
    header = [_comment(f"mfu-sym latex: {model.arch.name}" + (f" ({doc.source})" if doc.source else "")),
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
    components = (r"The forward FLOPs of one sequence of $s$ tokens, per component, with the sources of the "
                  r"formulas they are built from (Table~\ref{tab:%s:sources}); the backward pass: %s."
                  % (slug, tex_text(doc.conventions["backward"])))
    s, b = _math_number(number(doc.run["seq_len"])), _math_number(number(doc.run["batch"]))
    parts = header + [
        PREAMBLE.rstrip(),
        r"\title{FLOPs of %s}" % tex_text(model.arch.name), r"\author{mfu-sym}", r"\date{}",
        r"\begin{document}", r"\maketitle", "", intro, "",
        r"\section{Forward FLOPs of one sequence, by component}", components, blocks["components"], "",
        r"\section{Totals}",
        r"Per sequence and per token, collected in the sequence length $s$; $N$ counts the parameters.",
        blocks["totals"], blocks["sources"], "",
        r"\section{Symbols and conventions}", blocks["symbols"], blocks["conventions"], "",
        r"\section{Values at $s = %s$, $b = %s$}" % (s, b),
        r"Exact integers (per-token figures are averages over the $s$ positions, exact decimals or fractions).",
        blocks["values"], blocks["totals_values"], r"\clearpage", "",
        _bibliography(doc), r"\end{document}",
    ]
    return "\n".join(parts) + "\n"


def _comment(text):
    """A LaTeX comment line: one line, whatever the text holds (a newline would end the
    comment and let the rest be typeset or executed)."""
    from .render import printable
    return "% " + printable(text).replace("\n", " ")


def model_conventions(doc):
    c = doc.model.conventions
    return f"preset {c.preset}, mask {c.mask}, attention kernel {c.attention_kernel}, recompute {c.recompute}"


# ------------------------------------------------------------------ Markdown and BibTeX

def _md_text(text):
    """Text safe in Markdown: no control characters (a newline would end a table row),
    and the characters that make links, HTML, emphasis, tables or math escaped."""
    from .render import printable
    return re.sub(r"([|*_`\\<>\[\]$#!~])", r"\\\1", printable(text))


def _md_cite(doc, citation):
    return _md_cites(doc, [citation])


def _md_cites(doc, citations):
    """'[Vaswani et al. 2017](link), §3.2.2 (...), §3.2.3; [Ainslie ...](...), §2.2'."""
    grouped = {}
    for c in citations:
        grouped.setdefault(c.cite, []).append(c.where)
    out = []
    for key, wheres in grouped.items():
        ref = doc.model.library.references[key]
        out.append(f"[{short_citation(ref)}]({ref.link}), " + ", ".join(_md_text(w) for w in _dedupe(wheres)))
    return "; ".join(out)


def to_markdown(doc):
    """The document as Markdown with $...$ math (GitHub, Jupyter, pandoc)."""
    model, run = doc.model, doc.run
    s, b = number(run["seq_len"]), number(run["batch"])
    out = [f"## FLOPs of {_md_text(model.arch.name)}", "",
           f"Counted as {_md_text(doc.conventions['counted'])}, under the `{model.conventions.preset}` preset "
           f"({model_conventions(doc)}). Every formula is the engine's exact expression.", "",
           "### Forward FLOPs of one sequence, by component", "",
           "| component | forward FLOPs of one sequence of $s$ tokens | sources |", "|---|---|---|"]
    for e in doc.components:
        cites = _md_cites(doc, e.cites)
        math = e.tex.replace("|", "\\vert ")
        out.append(f"| {_md_text(e.key)} | ${math}$ | {cites} |")
    out += ["", "### Totals (collected in $s$)", ""]
    for e in doc.totals:
        out += [f"{_md_text(e.meaning[0].upper() + e.meaning[1:])}:", "", f"$${e.lhs} = {e.tex}$$", ""]
    out += ["### Symbols", "", "| symbol | name | meaning | value |", "|---|---|---|---:|"]
    for info, value in doc.symbols:
        out.append(f"| ${info.latex}$ | `{info.name}` | {_md_text(info.description)} | "
                   f"{number(value) if value is not None else '—'} |")
    out += ["", "### Conventions", "", "| switch | in force |", "|---|---|"]
    for key, text in doc.conventions.items():
        extra = f" ({_md_cite(doc, doc.preset_citation)})" if key == "preset" and doc.preset_citation else ""
        out.append(f"| {key.replace('_', ' ')} | {_md_text(text)}{extra} |")
    flops = doc.report["flops"]
    out += ["", f"### Values at s = {s}, b = {b} (exact)", "",
            "| component | forward | backward | parameters |", "|---|---:|---:|---:|"]
    for name, c in flops["components"].items():
        out.append(f"| {name} | {number(c['forward'])} | {number(c['backward'])} | {number(c['params'])} |")
    out.append(f"| **total** | {number(flops['forward'])} | {number(flops['backward'])} | "
               f"{number(doc.report['params']['total'])} |")
    out += ["", "| FLOPs | forward | training |", "|---|---:|---:|"]
    out += [f"| {label} | {fwd} | {train} |" for label, fwd, train in _total_rows(doc)]
    out += ["", "### References", ""]
    for ref in doc.references:
        where = f"arXiv:[{ref.arxiv}]({ref.link})" if ref.arxiv else f"<{ref.link}>"
        out.append(f"- **{ref.key}**: {_md_text(_authors(ref.authors).rstrip('.'))}. *{_md_text(ref.title)}*. "
                   f"{ref.year}. {where}.")
    return "\n".join(out) + "\n"


def to_bibtex(doc):
    """BibTeX entries for the keys the documents cite (authors are already BibTeX names)."""
    entries = []
    for ref in doc.references:
        fields = [f"  author = {{{tex_text(ref.authors)}}}", f"  title = {{{{{tex_text(ref.title)}}}}}",
                  f"  year = {{{ref.year}}}"]
        if ref.arxiv:
            fields += [f"  eprint = {{{ref.arxiv}}}", "  archivePrefix = {arXiv}"]
        fields.append(f"  url = {{{ref.link}}}")
        entries.append(f"@misc{{{ref.key},\n" + ",\n".join(fields) + "\n}")
    return "\n\n".join(entries) + "\n"
