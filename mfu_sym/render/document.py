"""What the LaTeX and Markdown documents of a model show, computed once (`document`),
and the LaTeX of one expression with the papers' symbol names (`expression`, `show`).

    >>> from mfu_sym.render import document, latex, markdown
    >>> doc = document.build(model, seq_len=8192)
    >>> latex.to_latex(doc)                     # align blocks and tables to \\input
    >>> latex.to_latex(doc, standalone=True)    # a whole article that pdflatex compiles
    >>> markdown.to_markdown(doc)               # $...$ math
    >>> document.show(model, model.training())  # in a notebook

Every formula is sympy's own LaTeX of the engine's expression, printed with the symbol
table's names (`d`, `h_{kv}`, `d_{ff}`, `s`: formulas/symbols.yaml), multi-letter
subscripts upright as labels are set (`h_{\\mathrm{kv}}`, `d_{\\mathrm{ff}}`). Each formula
cites the references of the library formulas (and the mask) it is built from under the
conventions in force (a kernel's own backward source only under that kernel); the
bibliography holds exactly the keys cited.
"""

import re
from dataclasses import dataclass

import sympy

from ..expr import to_sympy
from ..model import collect_in
from .escape import upright_subscripts
from .units import decimal


# sympy's printer settings for every formula: a fraction whose numerator is long is
# printed as a short fraction times the rest (\frac{s}{2} \left(...\right), not one
# \frac over a whole sum), so that it can break across lines.
PRINT_SETTINGS = {"long_frac_ratio": 8}


def latex_names(model):
    """The symbol table's LaTeX names (`symbol_names` for sympy), multi-letter subscripts
    upright: `h_{kv}` is printed `h_{\\mathrm{kv}}`."""
    return {symbol: upright_subscripts(tex) for symbol, tex in model.library.latex_names().items()}


def expression(model, expr):
    """sympy's LaTeX of `expr` with the symbol table's names (`latex_names`, and
    PRINT_SETTINGS): the reference text that every formula in the documents reproduces.
    A symbol outside the table (sympy prints `d_model` as `d_{model}`) gets an upright
    subscript too."""
    return upright_subscripts(sympy.latex(to_sympy(expr), symbol_names=latex_names(model), **PRINT_SETTINGS))


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
    """`expr` for display in a notebook: `document.show(model, model.training())`."""
    return Math(expression(model, expr))


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


def dedupe(items):
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return tuple(out)


def _preset_citation(model):
    from ..conventions import load_presets
    return load_presets(model.library.root)[model.conventions.preset].reference


def kernel_citation(model, formula):
    """The source of `formula`'s backward under the attention kernel in force, where it
    is not the formula's own reference (FlashAttention's recomputing backward), or None."""
    return dict(formula.backward_references).get(model.conventions.attention_kernel)


def component_citations(model, component, preset_citation=None):
    """The citations behind one component's FLOPs under the conventions in force: each
    counted term's formula, the backward's source under the kernel in force (flash:
    FlashAttention; eager cites none, its backward is 2 x forward), the mask of a
    position-dependent term, and the preset when FLOPs come from parameters."""
    cites = []
    for term in model.terms:
        if term.kind != component or not term.flops:
            continue
        cites.append(term.formula.reference)
        kernel = kernel_citation(model, term.formula)
        if kernel is not None:
            cites.append(kernel)
        if term.mask is not None:
            cites.append(term.mask.reference)
    if model.conventions.flops_from == "params" and preset_citation is not None:
        cites.append(preset_citation)
    return dedupe(cites)


def build(model, seq_len=None, batch=None, source=None):
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
    # the per-token forms from the collected ones: expanding those again is cheap
    forward, training = collect_in(model.forward(), s), collect_in(model.training(), s)
    counted = "forward + backward" + (" + recomputation" if model.conventions.count_recompute
                                      and model.conventions.recompute != "none" else "")
    totals = [
        ("forward", r"F_{\mathrm{fwd}}(s)", forward, "forward FLOPs of one sequence"),
        ("training", r"F_{\mathrm{train}}(s)", training, f"training FLOPs of one sequence ({counted})"),
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
                kernel = kernel_citation(model, term.formula)
                if kernel is not None:
                    sources.append((name, f"{term.formula.name}, {model.conventions.attention_kernel} backward",
                                    kernel))
                if term.mask is not None:
                    sources.append((name, f"mask {term.mask.name}", term.mask.reference))
    sources = dedupe(sources)
    appearing = set().union(*(e.expr.free_symbols for e in components + list(totals)))
    run_values = {model.seq_len: report["run"]["seq_len"], model.batch: report["run"]["batch"]}
    symbols = tuple((info, model.values.get(info.symbol, run_values.get(info.symbol)))
                    for info in model.library.symbols.values() if info.symbol in appearing)
    keys = [c.cite for e in components for c in e.cites] + [c.cite for _, _, c in sources]
    if preset_citation is not None:
        keys.insert(0, preset_citation.cite)
    references = tuple(model.library.references[k] for k in dedupe(keys))
    return Document(model, source or "", report["run"], tuple(components), totals, sources, symbols,
                    model.conventions.explain(), preset_citation, report, references)


# ------------------------------------------------------------------ citations in words

def authors(bibtex_names):
    """'Ashish Vaswani, Noam Shazeer et al.' from BibTeX names ('Vaswani, Ashish and ... and others')."""
    names = []
    for person in str(bibtex_names).split(" and "):
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
        return f"{first} and {people[1].partition(',')[0].strip()} {reference.year_text}"
    return f"{first}{' et al.' if len(people) > 1 else ''} {reference.year_text}"


def model_conventions(doc):
    """The switches in force, in one line."""
    c = doc.model.conventions
    return f"preset {c.preset}, mask {c.mask}, attention kernel {c.attention_kernel}, recompute {c.recompute}"


def total_rows(doc):
    """(label, forward, training) of the totals table, as exact text."""
    flops, run = doc.report["flops"], doc.run
    return [
        ["per token (average)", decimal(flops["per_token"]["forward"]), decimal(flops["per_token"]["training"])],
        ["per sequence", decimal(flops["per_sequence"]["forward"]), decimal(flops["per_sequence"]["training"])],
        [f"per step ({decimal(run['batch'])} sequence{'s' if run['batch'] != 1 else ''})",
         decimal(flops["forward"]), decimal(flops["training"])],
    ]
