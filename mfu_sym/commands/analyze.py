"""`mfu-sym analyze`: how training cost moves with sequence length."""

import json

import click

from ..cli import build_model, context_note, main, model_options
from .types import SIZE


@main.command()
@model_options
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
    from .. import analysis, export
    model = build_model(model_file, **switches)
    lengths = shares_at or (1024, 4096, 8192, 32768, 131072)
    context_note(model, seq_len)
    result = analysis.analyze(model, seq_len, batch, lengths)
    if fmt == "json":
        click.echo(json.dumps(export.jsonable(result), indent=2))
        return
    click.echo(_text(result))


def _text(r):
    from ..export import grouped
    s = r["run"]["seq_len"]
    lines = [f"{r['model']}  (preset {r['conventions']['preset']}, mask {r['conventions']['mask']})",
             f"training FLOPs of one sequence, F(s) = {r['training_per_sequence']['symbolic']}",
             f"  F({s}) = {grouped(r['training_per_sequence']['value'])}",
             f"per token, F(s)/s = {r['per_token']['symbolic']}",
             f"  at s = {s}: {grouped(r['per_token']['value'])}",
             f"dF/ds = {r['derivative_by_seq_len']['symbolic']}",
             f"  at s = {s}: {grouped(r['derivative_by_seq_len']['value'])};"
             f" exact marginal token F(s+1) - F(s): {grouped(r['marginal_token']['value'])}",
             "crossover seq_len, attention core = MLP (training FLOPs):"]
    for mask, root in r["crossover_seq_len"]["attention_core_vs_mlp"].items():
        lines.append(f"  {mask:<7}" + (f"s = {root['exact']}  (~{root['approx']:,.1f})" if root else "never"))
    names = sorted({name for shares in r["shares"].values() for name in shares})
    lines.append("share of training FLOPs by component:")
    lines.append("  " + f"{'seq_len':>9}" + "".join(f"{n[:14]:>16}" for n in names))
    for length, shares in r["shares"].items():
        lines.append("  " + f"{length:>9}" + "".join(f"{shares.get(n, 0):>16.1%}" for n in names))
    a = r["asymptotic"]
    lines.append(f"large s: F(s) ~ {a['leading_term']}  ({a['meaning']})")
    return "\n".join(lines)
