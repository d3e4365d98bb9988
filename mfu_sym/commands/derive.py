"""`mfu-sym derive`: per-component formulas and values of a model."""

import click

from .options import FORMATS, build_model, context_note, documents_option, model_options
from .types import EXACT, SIZE


@click.command()
@model_options
@click.option("--seq-len", type=SIZE, help="sequence length (default: the model file's)")
@click.option("--batch", type=SIZE, help="sequences per step (default: the model file's, or 1)")
@click.option("--capacity-factor", type=EXACT,
              help="MoE: expert FLOPs executed with C * tokens * top_k / n_experts slots per expert")
@documents_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def derive(model_file, seq_len, batch, capacity_factor, documents, fmt, **switches):
    """Per-component FLOP and parameter formulas of MODEL, and their values.

    MODEL is a model YAML (see the README) or a Hugging Face config (any .json file).

    With --documents each sequence is a pack of documents under a document mask: every
    count is summed per document, per-token figures are per real token.

    \b
    Examples:
        mfu-sym derive examples/llama3_8b.yaml --seq-len 8192 --format json
        mfu-sym derive examples/llama3_8b.yaml --seq-len 8192 --documents 1024,3072,4096
        mfu-sym derive examples/llama3_8b.yaml --seq-len 8192 --documents exponential:mean=1024
    """
    model = build_model(model_file, **switches)
    if fmt in ("markdown", "latex"):  # the same document `mfu-sym latex` writes, as a fragment
        if documents is not None:
            raise click.UsageError("--documents applies to the text and JSON output (the document shows the "
                                   "formulas of one sequence)")
        from ..render import document, latex, markdown
        context_note(model, seq_len)
        doc = document.build(model, seq_len=seq_len, batch=batch, source=model_file)
        click.echo(markdown.to_markdown(doc) if fmt == "markdown" else latex.to_latex(doc))
        return
    from ..render import json, text
    report = model.report(seq_len=seq_len, batch=batch, capacity_factor=capacity_factor, context_ok=True,
                          documents=documents)
    context_note(model, seq_len)
    click.echo(text.derive(model, report, model_file) if fmt == "text" else json.derive(report))
