"""A model's document as Markdown with $...$ math (GitHub, Jupyter, pandoc).

The same document as the LaTeX export: formulas with upright multi-letter subscripts, the
formula library's text with its math as math and "2x" as 2×
(`escape.md_library_text`), text from model files escaped as it is (`md_text`)."""

from .document import authors, dedupe, model_conventions, short_citation, total_rows
from .escape import md_library_text, md_text, upright_subscripts
from .units import decimal


def _cites(doc, citations):
    """'[Vaswani et al. 2017](link), §3.2.2 (...), §3.2.3; [Ainslie ...](...), §2.2'."""
    by_key = {}
    for c in citations:
        by_key.setdefault(c.cite, []).append(c.where)
    out = []
    for key, wheres in by_key.items():
        ref = doc.model.library.references[key]
        out.append(f"[{short_citation(ref)}]({ref.link}), " + ", ".join(md_library_text(w) for w in dedupe(wheres)))
    return "; ".join(out)


def to_markdown(doc):
    """The document as Markdown with $...$ math (GitHub, Jupyter, pandoc)."""
    model, run = doc.model, doc.run
    s, b = decimal(run["seq_len"]), decimal(run["batch"])
    out = [f"## FLOPs of {md_text(model.arch.name)}", "",
           f"Counted as {md_library_text(doc.conventions['counted'])}, under the `{model.conventions.preset}` preset "
           f"({model_conventions(doc)}). Every formula is the engine's exact expression.", "",
           "### Forward FLOPs of one sequence, by component", "",
           "| component | forward FLOPs of one sequence of $s$ tokens | sources |", "|---|---|---|"]
    for e in doc.components:
        cites = _cites(doc, e.cites)
        math = e.tex.replace("|", "\\vert ")
        out.append(f"| {md_text(e.key)} | ${math}$ | {cites} |")
    out += ["", "### Totals (collected in $s$)", ""]
    for e in doc.totals:
        out += [f"{md_library_text(e.meaning[0].upper() + e.meaning[1:])}:", "", f"$${e.lhs} = {e.tex}$$", ""]
    out += ["### Symbols", "", "| symbol | name | meaning | value |", "|---|---|---|---:|"]
    for info, value in doc.symbols:
        out.append(f"| ${upright_subscripts(info.latex)}$ | `{info.name}` | {md_library_text(info.description)} | "
                   f"{decimal(value) if value is not None else '—'} |")
    out += ["", "### Conventions", "", "| switch | in force |", "|---|---|"]
    for key, text in doc.conventions.items():
        extra = f" ({_cites(doc, [doc.preset_citation])})" if key == "preset" and doc.preset_citation else ""
        out.append(f"| {key.replace('_', ' ')} | {md_library_text(text)}{extra} |")
    flops = doc.report["flops"]
    out += ["", f"### Values at s = {s}, b = {b} (exact)", "",
            "| component | forward | backward | parameters |", "|---|---:|---:|---:|"]
    for name, c in flops["components"].items():
        out.append(f"| {name} | {decimal(c['forward'])} | {decimal(c['backward'])} | {decimal(c['params'])} |")
    out.append(f"| **total** | {decimal(flops['forward'])} | {decimal(flops['backward'])} | "
               f"{decimal(doc.report['params']['total'])} |")
    out += ["", "| FLOPs | forward | training |", "|---|---:|---:|"]
    out += [f"| {label} | {fwd} | {train} |" for label, fwd, train in total_rows(doc)]
    out += ["", "### References", ""]
    for ref in doc.references:
        where = f"arXiv:[{ref.arxiv}]({ref.link})" if ref.arxiv else f"<{ref.link}>"
        out.append(f"- **{ref.key}**: {md_text(authors(ref.authors).rstrip('.'))}. *{md_text(ref.title)}*. "
                   f"{ref.year_text}. {where}.")
    return "\n".join(out) + "\n"

