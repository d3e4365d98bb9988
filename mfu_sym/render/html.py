"""A model's report as one self-contained HTML page (`mfu-sym report`): the run, the
convention in force, the formulas as MathML, exact values, the per-component breakdown,
charts as inline SVG and the sources, in a file that fetches nothing.

    >>> from mfu_sym.render import document, html
    >>> doc = document.build(model, seq_len=8192)
    >>> page = html.to_html(doc)                            # str: the whole page
    >>> page = html.to_html(doc, mfu=html.mfu_block(model, "h100", tokens_per_sec=4e5, gpus=8))

What it shows is the document the LaTeX and Markdown exports show (render/document.py),
plus the charts' series (plot.breakdown_series, plot.mfu_series: matplotlib-free). Every
formula is sympy's presentation MathML of the engine's expression with the symbol
table's names (d, h_kv, d_ff, s; browsers render MathML natively); every exact number
goes through render/units.py; every string from a file through escape.html_text. The
page is well-formed XML as well as HTML (void elements closed, named entities written as
numbers), and a Content-Security-Policy forbids every fetch: no script, font, image or
style sheet comes from elsewhere (bibliography links are plain links).
"""

import re
import unicodedata
from dataclasses import dataclass
from html.entities import html5 as _ENTITIES

import sympy
from sympy.printing.mathml import MathMLPresentationPrinter

from ..expr import to_sympy
from ..model import collect_in
from . import svg
from .document import PRINT_SETTINGS, authors, component_citations, dedupe
from .escape import html_text
from .units import decimal, flops as si_flops, significant

# ------------------------------------------------------------------ MathML

# A symbol table LaTeX name: a letter, a Greek letter or \mathrm{word}, with an optional
# subscript (d, h_{kv}, d_h, \kappa, \mathrm{tp}).
_TEX_NAME = re.compile(r"^(\\mathrm\{[A-Za-z0-9 ]+\}|\\[A-Za-z]+|[A-Za-z])(?:_(?:\{([A-Za-z0-9 ]+)\}|([A-Za-z0-9])))?$")
_KEEP = {"amp", "lt", "gt", "quot", "apos"}


def _tex_letter(tex):
    """(text, upright) of the base of a LaTeX name: \\kappa -> ('κ', False)."""
    if tex.startswith(r"\mathrm{"):
        return tex[len(r"\mathrm{"):-1], True
    if tex.startswith("\\"):
        name = tex[1:]
        case = "CAPITAL" if name[0].isupper() else "SMALL"
        try:
            return unicodedata.lookup(f"GREEK {case} LETTER {name.upper()}"), False
        except KeyError:
            return name, True
    return tex, False


class _Printer(MathMLPresentationPrinter):
    """sympy's presentation MathML with the symbol table's names (as its LaTeX printer
    takes `symbol_names`, which the MathML printer ignores) and a Piecewise (printed by
    sympy as a function `piecewise(...)`) as a brace over cases."""

    def __init__(self, names, settings=None):
        super().__init__(settings)
        self._names = names

    def _mi(self, text, upright=False):
        mi = self.dom.createElement("mi")
        if upright and len(text) == 1:
            mi.setAttribute("mathvariant", "normal")
        mi.appendChild(self.dom.createTextNode(text))
        return mi

    def _print_Symbol(self, sym, style="plain"):
        tex = self._names.get(sym)
        match = _TEX_NAME.match(tex) if tex else None
        if match is None:
            return super()._print_Symbol(sym, style)
        base = self._mi(*_tex_letter(match.group(1)))
        sub = match.group(2) or match.group(3)
        if not sub:
            return base
        msub = self.dom.createElement("msub")
        msub.appendChild(base)
        msub.appendChild(self._mi(sub))
        return msub

    def _print_Piecewise(self, expr):
        table = self.dom.createElement("mtable")
        table.setAttribute("columnalign", "left left")
        for piece, condition in expr.args:
            row = self.dom.createElement("mtr")
            cell = self.dom.createElement("mtd")
            cell.appendChild(self._print(piece))
            row.appendChild(cell)
            cell = self.dom.createElement("mtd")
            words = self.dom.createElement("mtext")
            otherwise = condition == sympy.true
            words.appendChild(self.dom.createTextNode("\u00a0otherwise" if otherwise else "\u00a0if\u00a0"))
            cell.appendChild(words)
            if condition != sympy.true:
                cell.appendChild(self._print(condition))
            row.appendChild(cell)
            table.appendChild(row)
        brace = self.dom.createElement("mo")
        brace.setAttribute("stretchy", "true")
        brace.appendChild(self.dom.createTextNode("{"))
        mrow = self.dom.createElement("mrow")
        mrow.appendChild(brace)
        mrow.appendChild(table)
        return mrow


def _numeric_entities(text):
    """sympy writes &InvisibleTimes; and the like: as numeric references the page stays
    well-formed XML (which knows only the five predefined entities). A hyphen operator
    becomes the minus sign."""
    def replace(match):
        name = match.group(1)
        if name in _KEEP:
            return match.group(0)
        chars = _ENTITIES.get(name + ";")
        return "".join(f"&#x{ord(c):X};" for c in chars) if chars else match.group(0)
    text = re.sub(r"&([A-Za-z][A-Za-z0-9]*);", replace, text)
    return text.replace("<mo>-</mo>", "<mo>&#x2212;</mo>")  # a minus sign, not a hyphen


class MathML:
    """MathML of a model's expressions, with its symbol table's names."""

    def __init__(self, model):
        self.printer = _Printer(model.library.latex_names(), {"long_frac_ratio": PRINT_SETTINGS["long_frac_ratio"]})

    def body(self, expr):
        return _numeric_entities(self.printer.doprint(to_sympy(expr)))

    def inline(self, expr):
        return f"<math>{self.body(expr)}</math>"

    def equation(self, lhs, expr):
        """`<math display="block">` of lhs = expr (lhs: MathML of the left-hand side)."""
        return f'<math display="block"><mrow>{lhs}<mo>=</mo>{self.body(expr)}</mrow></math>'


def _sub(base, sub, argument=False):
    """F_{sub} (and (s) after it): the left-hand sides, with the subscript as upright text."""
    out = f"<msub><mi>{base}</mi><mtext>{html_text(sub)}</mtext></msub>"
    return f"<mrow>{out}<mo>(</mo><mi>s</mi><mo>)</mo></mrow>" if argument else out


_TOTAL_LHS = {
    "forward": _sub("F", "fwd", True),
    "training": _sub("F", "train", True),
    "forward_per_token": f"<mfrac>{_sub('F', 'fwd', True)}<mi>s</mi></mfrac>",
    "training_per_token": f"<mfrac>{_sub('F', 'train', True)}<mi>s</mi></mfrac>",
    "params": "<mi>N</mi>",
    "active_params": _sub("N", "active"),
}


# ------------------------------------------------------------------ MFU block

@dataclass(frozen=True)
class MfuBlock:
    """What the MFU section shows: the series (plot.mfu_series) and, for a measured
    throughput, the measurement (mfu.measure)."""

    series: object
    measurement: object = None


def mfu_block(model, hardware, *, dtype="bf16", sparse=False, gpus=1, seq_len=None, tokens_per_sec=None):
    """The MFU section's figures: MFU (and HFU) against throughput on `gpus` x `hardware`,
    and the measured point when `tokens_per_sec` (global) is given."""
    from ..mfu import measure
    from ..plot import mfu_series
    marks = (tokens_per_sec,) if tokens_per_sec is not None else ()
    series = mfu_series(model, hardware, dtype=dtype, gpus=gpus, seq_len=seq_len, marks=marks, sparse=sparse)
    measured = None
    if tokens_per_sec is not None:
        measured = measure(model, series.peak, gpus, tokens_per_sec=tokens_per_sec, seq_len=seq_len)
    return MfuBlock(series, measured)


# ------------------------------------------------------------------ the page

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1a1a1a; background: #ffffff;
       max-width: 70rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #cccccc; padding-bottom: 0.2rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin-bottom: 0.3rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #d0d0d0; padding: 0.25rem 0.6rem; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; }
caption { caption-side: bottom; text-align: left; font-size: 0.85rem; color: #555555; padding-top: 0.3rem; }
.formula { overflow-x: auto; overflow-y: hidden; padding: 0.2rem 0; }
.scroll { overflow-x: auto; }
.formula mtd { text-align: left; }
td .si { display: block; }
math[display="block"] { font-size: 1.1rem; }
.si { color: #666666; font-size: 0.85rem; }
.convention { font-size: 0.9rem; color: #444444; }
.cites { font-size: 0.85rem; color: #444444; margin-top: 0; }
.swatch { display: inline-block; width: 0.8rem; height: 0.8rem; margin-right: 0.4rem; vertical-align: middle; }
figure { margin: 1rem 0; overflow-x: auto; }
figcaption { font-size: 0.85rem; color: #555555; }
nav ol { columns: 2; font-size: 0.95rem; }
.notes li { color: #7a4a00; }
code { font-size: 0.9em; }
footer { margin-top: 3rem; font-size: 0.8rem; color: #666666; }
"""

# Nothing may be fetched: no script, image, font, style sheet or frame from anywhere.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def _num(value, si=False):
    """An exact number in a table cell (SI shorthand beside it for FLOPs)."""
    cell = decimal(value)
    if si and abs(float(value)) >= 1000:
        cell += f' <span class="si">({html_text(si_flops(float(value)))})</span>'
    return f'<td class="num">{cell}</td>'


def _percent(part, whole):
    return f"{100 * float(sympy.Rational(part) / sympy.Rational(whole)):.2f}%" if whole else "—"


def _table(head, rows, caption=None, cls=None):
    out = ['<div class="scroll">', f'<table class="{cls}">' if cls else "<table>"]
    if caption:
        out.append(f"<caption>{caption}</caption>")
    if head:
        out.append("<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>")
    out.append("<tbody>")
    out += rows
    out.append("</tbody></table></div>")
    return "\n".join(out)


def _convention_line(doc):
    """The convention every number of the page is counted under, in one line."""
    c = doc.model.conventions
    parts = [f"preset <code>{html_text(c.preset)}</code>", html_text(doc.conventions["counted"]),
             f"mask {html_text(c.mask)}", f"{html_text(c.attention_kernel)} attention backward",
             f"recompute {html_text(c.recompute)}"]
    if c.overridden:
        parts.append("set on the command line: " + ", ".join(html_text(o) for o in c.overridden))
    return "; ".join(parts)


def _cites(doc, citations):
    by_key = {}
    for c in citations:
        by_key.setdefault(c.cite, []).append(c.where)
    return "; ".join(f'<a href="#ref-{html_text(key)}">{html_text(key)}</a>, '
                     + ", ".join(html_text(w) for w in dedupe(wheres)) for key, wheres in by_key.items())


class _Page:
    """The page, section by section (each method returns HTML text)."""

    def __init__(self, doc, series, mfu, version):
        self.doc, self.series, self.mfu, self.version = doc, series, mfu, version
        self.model = doc.model
        self.math = MathML(doc.model)
        self.convention = _convention_line(doc)
        flops = doc.report["flops"]["components"]
        self.colours = {name: svg.colour(i) for i, name in enumerate(flops)}

    # ---- numbers -------------------------------------------------------------------
    def component_rows(self):
        """(name, params, forward, backward, training) at the run, exact; training adds
        the component's recomputation where the convention counts it."""
        model, report = self.model, self.doc.report
        count = model.conventions.count_recompute and model.conventions.recompute != "none"
        values = {**model.values, model.seq_len: report["run"]["seq_len"], model.batch: report["run"]["batch"]}
        out = []
        for name, c in report["flops"]["components"].items():
            training = c["forward"] + c["backward"]
            if count:
                training += model.per_step(model.recompute(name), values)
            out.append((name, c["params"], c["forward"], c["backward"], training))
        return out

    # ---- sections ------------------------------------------------------------------
    def header(self):
        doc, run = self.doc, self.doc.run
        name = html_text(self.model.arch.name)
        source = f" from <code>{html_text(doc.source)}</code>" if doc.source else ""
        return "\n".join([
            f"<header><h1>FLOPs of {name}</h1>",
            f"<p>Exact symbolic FLOP and parameter counts{source}, at sequence length "
            f"s = {decimal(run['seq_len'])} and batch b = {decimal(run['batch'])}.</p>",
            f'<p class="convention">Every number on this page is counted under: {self.convention}.</p>',
            "</header>"])

    def contents(self):
        items = [("run", "Run"), ("conventions", "Conventions"), ("totals", "Totals"),
                 ("breakdown", "Breakdown by component"), ("scaling", "Against sequence length")]
        if self.mfu is not None:
            items.append(("mfu", "MFU against throughput"))
        items += [("formulas", "Formulas"), ("symbols", "Symbols"), ("sources", "Sources")]
        return ("<nav><h2>Contents</h2><ol>" + "".join(f'<li><a href="#{k}">{t}</a></li>' for k, t in items)
                + "</ol></nav>")

    def run_section(self):
        run, report = self.doc.run, self.doc.report
        rows = [f"<tr><td>model</td><td>{html_text(self.model.arch.name)}</td></tr>",
                f"<tr><td>model file</td><td><code>{html_text(self.doc.source or '—')}</code></td></tr>",
                f'<tr><td>sequence length s</td><td class="num">{decimal(run["seq_len"])}</td></tr>',
                f"<tr><td>s comes from</td><td>{html_text(run['seq_len_from'])}</td></tr>",
                f'<tr><td>batch b (sequences per step)</td><td class="num">{decimal(run["batch"])}</td></tr>',
                f'<tr><td>tokens per step</td><td class="num">{decimal(run["tokens"])}</td></tr>']
        out = ['<section id="run"><h2>Run</h2>', _table(None, rows)]
        if report.get("notes"):
            out.append('<ul class="notes">' + "".join(f"<li>{html_text(n)}</li>" for n in report["notes"]) + "</ul>")
        out.append("</section>")
        return "\n".join(out)

    def conventions_section(self):
        doc = self.doc
        rows = []
        for key, text in doc.conventions.items():
            extra = (f" ({_cites(doc, [doc.preset_citation])})"
                     if key == "preset" and doc.preset_citation is not None else "")
            rows.append(f"<tr><td>{html_text(key.replace('_', ' '))}</td><td>{html_text(text)}{extra}</td></tr>")
        return "\n".join(['<section id="conventions"><h2>Conventions</h2>',
                          "<p>The switches in force (mfu-sym presets and the counting switches; "
                          "<code>mfu-sym presets</code> lists them).</p>",
                          _table(["switch", "in force"], rows), "</section>"])

    def totals_section(self):
        report = self.doc.report
        flops, params = report["flops"], report["params"]
        rows = [f"<tr><td>{html_text(label)}</td>{_num(f, True)}{_num(t, True)}</tr>"
                for label, f, t in self._total_rows()]
        out = ['<section id="totals"><h2>Totals</h2>',
               _table(["FLOPs", "forward", "training"], rows, caption=f"Model FLOPs (exact), counted under: "
                      f"{self.convention}. Training = forward + backward"
                      + (" + the recomputation this convention counts" if self.model.conventions.count_recompute
                         and self.model.conventions.recompute != "none" else "") + ".", cls="totals")]
        if flops["hardware_training"] != flops["training"]:
            mode = html_text(self.model.conventions.recompute)
            out.append(_table(["hardware FLOPs (with recomputation: HFU)", "per step"],
                              [f"<tr><td>forward + backward + recomputation ({mode})</td>"
                               f"{_num(flops['hardware_training'], True)}</tr>",
                               f"<tr><td>of which recomputation</td>{_num(flops['recompute'], True)}</tr>"],
                              caption="Hardware FLOPs: what the devices execute, for HFU; MFU counts model FLOPs."))
        labels = {"total": "total (tied matrices once)", "embedding": "embedding", "lm_head": "LM head",
                  "non_embedding": "non-embedding", "active": "active per token"}
        rows = [f"<tr><td>{html_text(labels.get(k, k.replace('_', ' ')))}</td>{_num(v)}</tr>"
                for k, v in params.items()]
        out.append(_table(["parameters", "count"], rows, caption="Parameters (exact).", cls="params"))
        if "mtp" in report:
            m = report["mtp"]
            out.append(_table(["multi-token prediction", "value"], [
                f"<tr><td>counted</td><td>{html_text(m['counted'])}</td></tr>",
                f"<tr><td>parameters</td>{_num(m['params'])}</tr>",
                f"<tr><td>forward FLOPs per step</td>{_num(m['forward'], True)}</tr>",
                f"<tr><td>training FLOPs per step</td>{_num(m['training'], True)}</tr>"],
                caption="Multi-token-prediction modules, reported apart unless counted (--mtp)."))
        out.append("</section>")
        return "\n".join(out)

    def _total_rows(self):
        """(label, forward, training) as exact numbers: the rows of document.total_rows."""
        flops, run = self.doc.report["flops"], self.doc.run
        return [("per token (average)", flops["per_token"]["forward"], flops["per_token"]["training"]),
                ("per sequence", flops["per_sequence"]["forward"], flops["per_sequence"]["training"]),
                (f"per step ({decimal(run['batch'])} sequence{'s' if run['batch'] != 1 else ''})",
                 flops["forward"], flops["training"])]

    def breakdown_section(self):
        rows_data = self.component_rows()
        total_training = sum((r[4] for r in rows_data), sympy.Integer(0))
        rows = []
        for name, params, forward, backward, training in rows_data:
            rows.append(f'<tr data-component="{html_text(name)}"><td><span class="swatch" style="background:'
                        f'{self.colours[name]}"></span>{html_text(name)}</td>{_num(params)}{_num(forward, True)}'
                        f'{_num(backward, True)}{_num(training, True)}'
                        f'<td class="num">{_percent(training, total_training)}</td></tr>')
        report = self.doc.report
        rows.append(f'<tr class="total"><td>total</td>{_num(report["params"]["total"])}'
                    f'{_num(report["flops"]["forward"], True)}{_num(report["flops"]["backward"], True)}'
                    f'{_num(report["flops"]["training"], True)}<td class="num">100.00%</td></tr>')
        run = self.doc.run
        caption = (f"FLOPs of one step (b = {decimal(run['batch'])} sequences of s = {decimal(run['seq_len'])} "
                   f"tokens), exact, counted under: {self.convention}. Parameters per component; the total counts "
                   "tied matrices once. Shares are of training FLOPs.")
        items = [(name, float(training), self.colours[name], f"{si_flops(float(training))}, "
                  f"{_percent(training, total_training)}") for name, _, _, _, training in rows_data if training != 0]
        chart = svg.bars(items, "Training FLOPs per step by component",
                         f"training FLOPs per step (s = {int(run['seq_len']):,}, b = {int(run['batch']):,})")
        return "\n".join([
            '<section id="breakdown"><h2>Breakdown by component</h2>',
            _table(["component", "parameters", "forward", "backward", "training", "share"], rows, caption,
                   cls="breakdown"),
            f'<figure id="breakdown-chart">{chart}<figcaption>One bar per component with training FLOPs, '
            f"counted under: {self.convention}.</figcaption></figure>",
            "</section>"])

    def scaling_section(self):
        series = self.series
        names = list(series.per_token)
        total = series.total
        scale, unit = svg.flops_scale(max(float(t) for t in total))
        xs = series.seq_lens
        per_token = [(name, self.colours[name], xs, [float(v) / scale for v in series.per_token[name]], False)
                     for name in names]
        per_token.append(("total", "#000000", xs, [float(t) / scale for t in total], True))
        run_s = int(self.doc.run["seq_len"])
        markers = [(run_s, f"run s = {svg.length_label(run_s)}")]
        cross = series.crossover
        if cross is not None:
            markers.append((float(cross["approx"]), f"attention core = MLP, s ≈ {cross['approx']:,.0f}"))
        chart = svg.lines(per_token, "Training FLOPs per token against sequence length",
                          "sequence length s (tokens, log scale)", f"training FLOPs per token ({unit})",
                          markers=markers)
        shares = [(name, self.colours[name], xs, [100 * v for v in series.share(name)], False) for name in names]
        share_chart = svg.lines(shares, "Share of training FLOPs by component",
                                "sequence length s (tokens, log scale)", "share of training FLOPs (%)",
                                y_max=100, markers=markers)
        where = ("never: the attention core's FLOPs stay below the MLP's" if cross is None
                 else f"at s ≈ {cross['approx']:,.0f} ({html_text(series.mask)} mask)")
        return "\n".join([
            '<section id="scaling"><h2>Against sequence length</h2>',
            f"<p>Training FLOPs per token (averaged over the s positions of a sequence) from s = "
            f"{xs[0]:,} to {xs[-1]:,}, each component's exact count at {len(xs)} lengths. The attention "
            f"core's FLOPs equal the MLP's {where}.</p>",
            f'<figure id="per-token-chart">{chart}<figcaption>Counted under: {self.convention}.</figcaption></figure>',
            f'<figure id="share-chart">{share_chart}<figcaption>Counted under: {self.convention}.</figcaption>'
            "</figure>",
            "</section>"])

    def mfu_section(self):
        series, measured = self.mfu.series, self.mfu.measurement
        peak = series.peak
        top = series.full_throughput
        if series.marks:
            top = max(top, 1.1 * max(t for t, _ in series.marks))
        from .units import prefix
        scale, unit = prefix(top, largest="G", smallest="k", above=10)
        xs = [top * i / 50 for i in range(51)]
        lines = []
        for i, line in enumerate(series.lines):
            ys = [100 * series.utilization(line, x) if x > 0 else 0.0 for x in xs]
            label = "MFU" if i == 0 else line.label  # the first line's convention is the caption's
            lines.append((label, svg.colour(i), [x / scale for x in xs], ys, line.hardware))
        points = [(t / scale, 100 * v, f"{100 * v:.1f}%") for t, v in series.marks]
        y_max = max(100.0, max(y for _, _, _, ys, _ in lines for y in ys))
        chart = svg.lines(lines, f"MFU against throughput: {series.gpus} x {peak.device.name}",
                          f"global throughput ({unit} tokens/s)".replace("( ", "("), "utilization (% of peak FLOP/s)",
                          log_x=False, y_max=y_max, points=points)
        rows = [f"<tr><td>accelerator</td><td>{html_text(peak.device.name)} x {series.gpus}</td></tr>",
                f"<tr><td>peak per device</td><td>{html_text(f'{peak.tflops:,g} {peak.unit}')} "
                f"({html_text(peak.describe())})</td></tr>",
                f'<tr><td>sequence length</td><td class="num">{series.seq_len:,}</td></tr>',
                f"<tr><td>training FLOPs per token (model)</td>{_num(series.lines[0].flops_per_token, True)}</tr>",
                f'<tr><td>tokens/s for 100% MFU</td><td class="num">{significant(series.full_throughput)}</td></tr>']
        if measured is not None:
            rows += [f'<tr><td>measured throughput (global)</td><td class="num">{significant(measured.tokens_per_sec)} '
                     "tokens/s</td></tr>",
                     f'<tr class="total"><td>MFU</td><td class="num">{100 * measured.mfu:.2f}%</td></tr>',
                     f'<tr><td>HFU</td><td class="num">{100 * measured.hfu:.2f}%</td></tr>']
            if measured.hfu_note:
                rows.append(f"<tr><td></td><td>{html_text(measured.hfu_note)}</td></tr>")
        warnings = list(measured.warnings) if measured is not None else []
        if measured is None:
            from ..peaks import peak_warnings
            warnings = peak_warnings(peak)
        out = ['<section id="mfu"><h2>MFU against throughput</h2>',
               "<p>MFU = tokens/s × training FLOPs per token / (devices × dense peak) (PaLM, "
               "arXiv:2204.02311 App. B).</p>",
               _table(None, rows, caption=f"Counted under: {self.convention}.", cls="mfu"),
               f'<figure id="mfu-chart">{chart}<figcaption>Solid: MFU (model FLOPs); dashed: HFU (hardware FLOPs, '
               f"with recomputation), where they differ.</figcaption></figure>"]
        if warnings:
            out.append('<ul class="notes">' + "".join(f"<li>{html_text(w)}</li>" for w in warnings) + "</ul>")
        out.append("</section>")
        return "\n".join(out)

    def formulas_section(self):
        doc, model, math = self.doc, self.model, self.math
        s = model.seq_len
        out = ['<section id="formulas"><h2>Formulas</h2>',
               "<p>Each formula is the engine's exact expression (sympy), per sequence of s tokens, collected in s, "
               "with the papers' symbol names (see Symbols). Forward and training FLOPs of each component, counted "
               f"under: {self.convention}; its parameters.</p>"]
        for name in model.components:
            forward, params = model.formula(name), model.params(name)
            if forward == 0 and params == 0:
                continue
            label = html_text(name)
            out.append(f'<div class="component" id="component-{label}"><h3>{label}</h3>')
            if forward != 0:
                out.append(f'<div class="formula">{math.equation(_sub("F", f"{name}, fwd", True), forward)}</div>')
                training = collect_in(model.training(name), s)
                out.append(f'<div class="formula">{math.equation(_sub("F", f"{name}, train", True), training)}</div>')
            if params != 0:
                out.append(f'<div class="formula">{math.equation(_sub("N", name), params)}</div>')
            cites = component_citations(model, name, doc.preset_citation)
            if cites:
                out.append(f'<p class="cites">Sources: {_cites(doc, cites)}</p>')
            out.append("</div>")
        out.append('<div class="totals" id="component-totals"><h3>Totals</h3>')
        for e in doc.totals:
            meaning = html_text(e.meaning[0].upper() + e.meaning[1:])
            out.append(f"<p>{meaning}:</p>")
            out.append(f'<div class="formula">{math.equation(_TOTAL_LHS.get(e.key, _sub("F", e.key)), e.expr)}</div>')
        out.append("</div></section>")
        return "\n".join(out)

    def symbols_section(self):
        rows = []
        for info, value in self.doc.symbols:
            rows.append(f"<tr><td>{self.math.inline(info.symbol)}</td><td><code>{html_text(info.name)}</code></td>"
                        f"<td>{html_text(info.description)}</td>"
                        + (_num(value) if value is not None else '<td class="num">—</td>') + "</tr>")
        return "\n".join(['<section id="symbols"><h2>Symbols</h2>',
                          _table(["symbol", "name", "meaning", "value"], rows,
                                 caption="The symbols appearing in the formulas, with this model's values."),
                          "</section>"])

    def sources_section(self):
        doc = self.doc
        rows = [f"<tr><td>{html_text(component)}</td><td><code>{html_text(formula)}</code></td>"
                f"<td>{_cites(doc, [citation])}</td></tr>" for component, formula, citation in doc.sources]
        references = list(doc.references)
        if self.mfu is not None:
            references += [r for r in self.mfu.series.peak.sources if r not in references]
        items = []
        for ref in references:
            link = ref.link
            where = ""
            if link and re.match(r"^https?://", link):
                shown = f"arXiv:{ref.arxiv}" if ref.arxiv else link
                where = f' <a href="{html_text(link)}">{html_text(shown)}</a>.'
            note = f" {html_text(ref.note)}" if ref.note else ""
            items.append(f'<li id="ref-{html_text(ref.key)}"><b>{html_text(ref.key)}</b>: '
                         f"{html_text(authors(ref.authors).rstrip('.'))}. <i>{html_text(ref.title)}</i>. "
                         f"{html_text(ref.year_text)}.{where}{note}</li>")
        return "\n".join(['<section id="sources"><h2>Sources</h2>',
                          _table(["component", "formula", "source"], rows,
                                 caption="The library formula behind each counted term, and where it comes from."),
                          "<h3>References</h3>", '<ol class="references">', *items, "</ol>", "</section>"])

    def page(self):
        title = f"FLOPs of {self.model.arch.name} (mfu-sym report)"
        sections = [self.header(), self.contents(), self.run_section(), self.conventions_section(),
                    self.totals_section(), self.breakdown_section(), self.scaling_section()]
        if self.mfu is not None:
            sections.append(self.mfu_section())
        sections += [self.formulas_section(), self.symbols_section(), self.sources_section()]
        return "\n".join([
            "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8"/>',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}"/>',
            '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
            f'<meta name="generator" content="mfu-sym {html_text(self.version)}"/>',
            f"<title>{html_text(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
            *sections,
            f"<footer>Generated by mfu-sym {html_text(self.version)}: exact symbolic FLOP counts. This page "
            "is self-contained: it loads nothing from anywhere.</footer>",
            "</body>", "</html>", ""])


def to_html(doc, series=None, mfu=None, seq_range=None):
    """The whole page of `doc` (document.build). `series`: the sequence-length charts'
    numbers (plot.breakdown_series; default: from s = 128, or less, to 128k, or the run's
    s when longer, or `seq_range`); `mfu`: an MfuBlock for the MFU section (none without)."""
    from .. import __version__
    from ..plot import breakdown_series, default_range
    if series is None:
        run_s = int(doc.run["seq_len"])
        low, high = seq_range or default_range(doc.model)
        if seq_range is None:
            low, high = min(low, max(run_s // 2, 1)), max(high, run_s * 2)
        series = breakdown_series(doc.model, (low, high))
    return _Page(doc, series, mfu, __version__).page()
