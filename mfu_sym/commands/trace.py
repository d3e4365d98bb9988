"""`mfu-sym trace`: a PyTorch model's executed FLOPs as closed forms in seq_len and batch."""

import click

from .types import SIZE

FORMATS = ("text", "json", "latex")


@click.command()
@click.argument("model", metavar="MODEL")
@click.option("--seq-len", type=SIZE, help="the length to run at and give values for (default: 17; the "
                                           "context of a decode step with --decode)")
@click.option("--batch", type=SIZE, help="sequences per step to run at and give values for (default: 3)")
@click.option("--decode", is_flag=True, help="one decode step with a cache, at a symbolic context length")
@click.option("--forward-only", is_flag=True, help="trace the forward pass only (no backward)")
@click.option("--attn-implementation", type=click.Choice(["eager", "sdpa"]),
              help="transformers' attention path [eager] (sdpa: torch's fused kernel, backward 2.5 x forward); "
                   "config.json models only")
@click.option("--experts-implementation", type=click.Choice(["batched_mm", "grouped_mm", "eager"]),
              help="transformers' MoE experts path [batched_mm] (eager's sizes depend on the routing: refused); "
                   "config.json models only")
@click.option("--modules/--no-modules", "show_modules", default=True, show_default=True,
              help="list the modules (text output)")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def trace(model, seq_len, batch, decode, forward_only, attn_implementation, experts_implementation, show_modules,
          fmt):
    """Exact FLOPs of a PyTorch model as polynomials in seq_len and batch.

    MODEL is a Hugging Face config.json (any model_type of the installed transformers)
    or a factory `module.path:name` / `file.py:name` returning (module, make_inputs).
    The model is run on fake tensors at symbolic sizes under PyTorch's FlopCounterMode
    (its traps corrected): nothing is allocated or downloaded. Needs the [trace] extra.

    \b
    Example:
        mfu-sym trace examples/hf/qwen3_config.json --seq-len 4096 --format json
        mfu-sym trace examples/custom_model.py:build --seq-len 1024
    """
    if decode and forward_only:
        raise click.UsageError("--forward-only does not apply to --decode (a decode step has no backward)")
    from ..tracing.extra import require_torch
    require_torch()
    _quiet_transformers()
    from ..tracing.api import trace as run_trace
    traced = run_trace(model, seq_len=seq_len, batch=batch, decode=decode, backward=not forward_only,
                       attn_implementation=attn_implementation, experts_implementation=experts_implementation)
    sizes = {("context" if decode else "seq_len"): seq_len, "batch": batch}
    sizes = {k: v for k, v in sizes.items() if v is not None}
    from ..render import trace as render
    if fmt == "json":
        from ..render.json import dumps, exact_tree
        click.echo(dumps(exact_tree(render.jsonable(traced.report(**sizes)))))
    elif fmt == "latex":
        click.echo(render.latex(traced))
    else:
        click.echo(render.text(traced, traced.report(**sizes), show_modules))


def _quiet_transformers():
    """transformers' warnings about the config (token ids outside a small vocabulary) are
    not the trace's: errors only."""
    try:
        from transformers.utils import logging
    except ImportError:
        return
    logging.set_verbosity_error()
