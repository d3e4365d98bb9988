"""Text, JSON and LaTeX of `mfu-sym trace`."""

import sympy

from .escape import printable
from .units import flops as si_flops
from .units import grouped


def jsonable(report):
    """Exact numbers stay ints; sympy numbers become ints."""
    if isinstance(report, dict):
        return {k: jsonable(v) for k, v in report.items()}
    if isinstance(report, (list, tuple)):
        return [jsonable(v) for v in report]
    if isinstance(report, sympy.Basic):
        return int(report) if report.is_Integer else str(report)
    return report


def _region(traced):
    if traced.guards:
        return " and ".join(map(str, traced.guards))
    return "every size at least 2 (torch fixes sizes of 1; a point with one is counted apart)"


def text(traced, report, show_modules=True):
    length = "context" if traced.phase == "decode" else "seq_len"
    run = report["run"]
    conv = report["convention"]
    impl = ", ".join(f"{k} {v}" for k, v in conv.items() if k in ("attn_implementation", "experts_implementation")
                     and v)
    lines = [f"{printable(traced.name)}  ({printable(traced.origin)})",
             f"Traced: {traced.classes.get('', '?')}" + (f", {impl}" if impl else "")
             + f"; torch {conv['torch']}, transformers {conv['transformers']}",
             ("Decode step: batch {batch:,} new tokens, each attending to context {context:,} keys"
              if traced.phase == "decode" else "Run: batch {batch:,} x seq_len {seq_len:,}").format(**run),
             f"Polynomials hold for: {_region(traced)}"]
    if traced.guard_modules and traced.guards:
        lines.append(f"  (guards made in: {', '.join(map(printable, traced.guard_modules))})")
    if report["values_from"] != "the polynomials":
        lines.append(f"NOTE: values from {report['values_from']}")
    lines += ["", "Convention",
              "  preset   torch: what torch executes (FlopCounterMode, its traps corrected): every matmul at",
              "           2 FLOPs per multiply-add, the full S x S attention square whatever the mask",
              "", "Parameters (exact)", f"  total {grouped(traced.params):>24}", ""]
    phases = [p for p in ("forward", "backward") if p in report["values"]]
    lines.append(f"FLOPs by component, one step: closed forms in {length} and batch")
    comps = {p: traced.components(p) for p in phases}
    names = _order(comps)
    values = traced.run_values(**run)
    exact_ok = report["values_from"] == "the polynomials"
    for name in names:
        lines.append(f"  {name}")
        lines.append(f"    = {_collect(comps['forward'].get(name, 0), traced)}")
        if exact_ok:
            cells = "   ".join(f"{p} {grouped(comps[p].get(name, sympy.Integer(0)).xreplace(values)):>26}"
                               for p in phases)
            lines.append(f"    {cells}")
    lines += ["", "Totals (one step)"]
    for phase in report["flops"]:
        poly = getattr(traced, phase)()
        value = report["values"][phase]
        lines.append(f"  {phase:<9}= {_collect(poly, traced)}")
        lines.append(f"  {'':<9}  {grouped(value)}   ({si_flops(value)})")
    if show_modules:
        lines += ["", "Modules (forward; x n: n alike, FLOPs of each)"]
        for row in traced.breakdown("forward"):
            each = row["each"]
            label = f"{printable(row['module'])}" + (f"  x{row['count']}" if row["count"] > 1 else "")
            value = each if each is not None else row["total"]
            lines.append(f"  {label}")
            lines.append(f"    {'each ' if each is not None and row['count'] > 1 else ''}= {_collect(value, traced)}")
    return "\n".join(lines)


def _order(comps):
    from ..tracing.components import ORDER
    present = set().union(*[set(c) for c in comps.values()])
    return [n for n in ORDER if n in present]


def _collect(expression, traced):
    from ..model import collect_in
    return collect_in(sympy.Integer(expression) if isinstance(expression, int) else expression,
                      traced.length_symbol)


def latex(traced):
    """An align* block: every component's forward, the totals (seq_len as s, batch as b)."""
    from ..library import load_library
    names = load_library().latex_names()
    rows = []
    for name, value in traced.components("forward").items():
        rows.append(r"F_{\mathrm{%s}} &= %s" % (name.replace("_", r"\_"),
                                                 sympy.latex(_collect(value, traced), symbol_names=names)))
    rows.append(r"F_{\mathrm{forward}} &= %s" % sympy.latex(_collect(traced.forward(), traced), symbol_names=names))
    if traced.has_backward:
        rows.append(r"F_{\mathrm{backward}} &= %s" % sympy.latex(_collect(traced.backward(), traced),
                                                                  symbol_names=names))
        rows.append(r"F_{\mathrm{training}} &= %s" % sympy.latex(_collect(traced.training(), traced),
                                                                  symbol_names=names))
    header = (f"{traced.name} traced ({traced.phase}): what torch executes, FlopCounterMode "
              f"with its traps corrected; one step")
    from .escape import tex_comment
    return tex_comment(header) + "\n\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"


def proof_report(model, traced, proof):
    preset = model.conventions.describe()["preset"]
    return {
        "model": traced.name, "source": traced.origin, "preset": preset,
        "identical": proof.identical, "identical_totals": proof.identical_totals,
        "holds_for": [str(g) for g in traced.guards] or ["every size at least 2"],
        "phases": {phase: {"library": str(lib), "traced": str(tr), "difference": str(diff),
                           "vanishes": proof.vanishes(diff),
                           "components": {name: {"library": str(a), "traced": str(b), "difference": str(d),
                                                 "vanishes": proof.vanishes(d)}
                                          for name, (a, b, d) in proof.components[phase].items()}}
                   for phase, (lib, tr, diff) in proof.total.items()},
        "implementation": traced.implementation,
    }


def proof_text(model, traced, proof):
    preset = model.conventions.describe()["preset"]
    verdict = ("identical: the library equals the implementation as polynomials in seq_len and batch"
               if proof.identical else
               "identical in total, not per component" if proof.identical_totals else "NOT identical")
    lines = [f"{printable(traced.name)}: library (preset {preset}) minus the traced implementation "
             f"({traced.classes.get('', '?')}, attn_implementation {traced.implementation['attn_implementation']}), "
             "per step",
             f"  holds for: {_region(traced)}",
             f"  verdict: {verdict}"]
    for phase, (library, theirs, difference) in proof.total.items():
        shown = difference if difference == 0 or not proof.vanishes(difference) else \
            f"{difference}  (0 wherever the trace holds)"
        lines.append(f"  {phase}: library - traced = {shown}")
        for name, (a, b, d) in proof.components[phase].items():
            mark = "0" if d == 0 else "0 wherever the trace holds" if proof.vanishes(d) else str(d)
            lines.append(f"    {name:<24}{mark}")
            if not proof.vanishes(d):
                lines.append(f"      library = {a}")
                lines.append(f"      traced  = {b}")
    return "\n".join(lines)
