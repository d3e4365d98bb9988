"""`mfu-sym reconcile`: the symbolic difference between two counting conventions."""

import json

import click

from ..cli import build_model, context_note, main, model_options
from .types import SIZE


@main.command()
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
    from .. import analysis, export
    base = build_model(model_file, **switches)
    context_note(base, seq_len)
    results = [analysis.reconcile(base, analysis.with_preset(base, name), seq_len, batch)
               for name in (against or ("6n", "palm"))]
    if fmt == "json":
        click.echo(json.dumps(export.jsonable(results if len(results) > 1 else results[0]), indent=2))
        return
    for result in results:
        click.echo(_text(result))


def _text(result):
    from ..export import grouped
    base, other = result["base"], result["against"]
    lines = [f"{result['model']}: {base['preset']} minus {other['preset']} "
             f"(training FLOPs, batch {result['run']['batch']} x seq_len {result['run']['seq_len']})",
             f"  {base['preset']:<16}{grouped(base['training']):>32}",
             f"  {other['preset']:<16}{grouped(other['training']):>32}",
             f"  ratio {base['preset']} / {other['preset']}: {result['ratio']:.6f}",
             f"  residual per sequence = {result['residual']}",
             "  by component (residual per sequence; value per step; share of the base total):"]
    for name, row in result["components"].items():
        lines.append(f"    {name:<22}{grouped(row['value']):>30}  {row['relative_to_base']:+.3%}")
        lines.append(f"      = {row['residual']}")
    for identity in result["identities"]:
        status = identity["status"] + (f" ({identity['reason']})" if identity.get("reason") else "")
        lines.append(f"  identity [{identity['preset']}] {identity['statement']}: {status}")
    return "\n".join(lines) + "\n"
