"""`mfu-sym analyze`: how training cost moves with sequence length."""

import click

from .options import build_model, context_note, model_options
from .types import SIZE


@click.command()
@model_options(command="analyze")
@click.option("--seq-len", type=SIZE, help="sequence length (default: the model file's)")
@click.option("--batch", type=SIZE, help="sequences per step")
@click.option("--shares-at", multiple=True, type=SIZE,
              help="sequence lengths for the component shares (repeatable) [1k ... 128k]")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def analyze(model_file, seq_len, batch, shares_at, fmt, **switches):
    """Derivative of training FLOPs by sequence length, per-token cost as a function of
    it, the crossover where attention equals the MLP (per mask, exact), each component's
    share across sequence lengths, and the large-sequence asymptotics.

    \b
    Example:
        mfu-sym analyze examples/llama3_8b.yaml --format json
    """
    from .. import analysis
    from ..render import json, text
    model = build_model(model_file, **switches)
    lengths = shares_at or (1024, 4096, 8192, 32768, 131072)
    context_note(model, seq_len)
    result = analysis.analyze(model, seq_len, batch, lengths)
    click.echo(json.analysis(result) if fmt == "json" else text.analyze(result))
