"""`mfu-sym reconcile`: the symbolic difference between two counting conventions."""

import click

from .options import build_model, context_note, model_options
from .types import SIZE


@click.command()
@model_options(command="reconcile")
@click.option("--against", "against", multiple=True,
              help="preset to compare with (repeatable) [6n and palm]; `trace`: the implementation, traced "
                   "(a config.json; the library under the torch preset, unless --preset is given)")
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
    if "trace" in against:
        if len(against) > 1:
            raise click.UsageError("--against trace compares with the implementation alone: give it without presets")
        ctx = click.get_current_context()
        if ctx.get_parameter_source("preset") == click.core.ParameterSource.DEFAULT:
            switches["preset"] = "torch"
        _against_trace(build_model(model_file, **switches), model_file, seq_len, batch, fmt)
        return
    base = build_model(model_file, **switches)
    context_note(base, seq_len)
    results = [analysis.reconcile(base, analysis.with_preset(base, name), seq_len, batch)
               for name in (against or ("6n", "palm"))]
    if fmt == "json":
        click.echo(json.analysis(results if len(results) > 1 else results[0]))
        return
    for result in results:
        click.echo(text.reconcile(result))


def _against_trace(model, model_file, seq_len, batch, fmt):
    """The library's per-step polynomials minus the traced ones, per component: an identity
    in seq_len and batch when every difference is 0."""
    from ..render import json, trace as render
    from ..tracing.extra import require_torch
    require_torch("reconcile --against trace")
    from .trace import _quiet_transformers
    _quiet_transformers()
    from ..tracing.api import trace
    from ..tracing.proof import prove
    kernel = "sdpa" if model.conventions.attention_kernel == "flash" else "eager"
    traced = trace(model_file, seq_len=seq_len, batch=batch, attn_implementation=kernel)
    proof = prove(model, traced)
    if fmt == "json":
        click.echo(json.dumps(render.jsonable(render.proof_report(model, traced, proof))))
    else:
        click.echo(render.proof_text(model, traced, proof))
