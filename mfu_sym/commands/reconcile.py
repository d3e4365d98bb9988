"""`mfu-sym reconcile`: the symbolic difference between two counting conventions."""

import click

from .options import build_model, context_note, model_options
from .types import SIZE


@click.command()
@model_options
@click.option("--against", "against", multiple=True, help="preset to compare with (repeatable) [6n and palm]")
@click.option("--seq-len", type=SIZE, help="sequence length (default: the model file's)")
@click.option("--batch", type=SIZE, help="sequences per step")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def reconcile(model_file, against, seq_len, batch, fmt, **switches):
    """Training FLOPs under --preset (default exact) minus another convention, split by
    component and simplified, with each difference's size; and the identities each
    preset claims, proved by exact symbolic equality.

    \b
    Example:
        mfu-sym reconcile examples/llama3_8b.yaml --against 6n --against palm --seq-len 8192
    """
    from .. import analysis
    from ..render import json, text
    base = build_model(model_file, **switches)
    context_note(base, seq_len)
    results = [analysis.reconcile(base, analysis.with_preset(base, name), seq_len, batch)
               for name in (against or ("6n", "palm"))]
    if fmt == "json":
        click.echo(json.analysis(results if len(results) > 1 else results[0]))
        return
    for result in results:
        click.echo(text.reconcile(result))
