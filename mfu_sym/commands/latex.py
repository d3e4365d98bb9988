"""`mfu-sym latex`: a model's formulas, citations and values for papers and READMEs."""

import click

from .options import build_model, context_note, model_options
from .types import SIZE


@click.command()
@model_options(command="latex")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="write to FILE instead of standard output")
@click.option("--standalone", is_flag=True, help="a complete article that compiles with pdflatex (LaTeX only)")
@click.option("--format", "fmt", type=click.Choice(["latex", "markdown", "bibtex"]), default="latex",
              show_default=True, help="LaTeX, Markdown with $...$ math, or BibTeX entries of the keys cited")
@click.option("--seq-len", type=SIZE,
              help="sequence length of the value tables (default: the model file's)")
@click.option("--batch", type=SIZE, help="sequences per step of the value tables")
@click.option("--bibliography/--no-bibliography", default=True, show_default=True,
              help="end a LaTeX fragment with its own thebibliography (off: cite your .bib, see --format bibtex)")
@click.option("--width", "line_width", type=click.IntRange(20, 100_000), default=None,
              help="width for breaking long formulas, in italic letters of the body font "
                   "[76: the standalone page, 11pt, 2.5 cm margins]")
def latex(model_file, output, standalone, fmt, seq_len, batch, bibliography, line_width, **switches):
    """Per-component FLOP formulas of MODEL with their citations, the totals (per token,
    per sequence, collected in s), the symbols, the conventions and exact values, as a
    LaTeX fragment to \\input, a standalone article (--standalone), Markdown or BibTeX.

    \b
    Examples:
        mfu-sym latex examples/llama3_8b.yaml -o llama3_8b.tex
        mfu-sym latex examples/llama3_8b.yaml --standalone -o paper.tex && pdflatex paper.tex
        mfu-sym latex examples/gemma3_27b.yaml --format markdown --seq-len 32768
    """
    from ..render import bibtex, document, latex as publish, markdown
    if standalone and fmt != "latex":
        raise click.UsageError("--standalone applies to --format latex only")
    model = build_model(model_file, **switches)
    context_note(model, seq_len)
    doc = document.build(model, seq_len=seq_len, batch=batch, source=model_file)
    if fmt == "markdown":
        text = markdown.to_markdown(doc)
    elif fmt == "bibtex":
        text = bibtex.to_bibtex(doc)
    else:
        text = publish.to_latex(doc, standalone=standalone, bibliography=bibliography,
                                line_width=line_width or publish.DEFAULT_WIDTH)
    if output is None:
        click.echo(text, nl=False)
        return
    from ..output import write_text
    write_text(output, text)
