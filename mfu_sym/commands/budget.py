"""`mfu-sym budget`: training FLOPs of a token budget, or the steps a FLOP budget buys,
and the time and device-hours at an assumed MFU."""

import click

from .options import build_model, documents_option, model_options
from .types import EXACT, FRACTION, SIZE


@click.command()
@model_options
@click.option("--tokens", type=EXACT, help="token budget, e.g. 15.6e12 (read exactly)")
@click.option("--flops", "target_flops", type=EXACT, help="FLOP budget, e.g. 3.8e25: how many whole steps it buys")
@click.option("--seq-len", type=SIZE, help="sequence length (default: the model file's)")
@click.option("--batch", type=SIZE, help="global sequences per step (needed with --flops)")
@click.option("--hardware", metavar="NAME", help="accelerator for a time estimate (with --gpus and --mfu)")
@click.option("--dtype", default="bf16", show_default=True, help="dtype of the peak")
@click.option("--sparse", is_flag=True, help="use the 2:4-sparse peak (default: dense)")
@click.option("--gpus", type=SIZE, help="devices for the time estimate")
@click.option("--mfu", "assumed_mfu", type=FRACTION,
              help="assumed MFU for the time estimate, a fraction (0.4 = 40%)")
@documents_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def budget(model_file, tokens, target_flops, seq_len, batch, hardware, dtype, sparse, gpus, assumed_mfu, documents,
           fmt, **switches):
    """Training FLOPs of MODEL for a token budget, or the steps a FLOP budget buys.

    FLOPs = tokens x training FLOPs per token, exact, under the counting switches; 6ND
    (N = total parameters) is printed beside it. With --flops, steps =
    ceil(FLOPs / FLOPs per step). With --hardware, --gpus and --mfu, the wall time is
    FLOPs / (GPUS x dense peak x MFU). With --documents, tokens are the packed documents'
    real tokens and FLOPs are summed per document.

    \b
    Examples:
        mfu-sym budget examples/llama3_405b.yaml --tokens 15.6e12
        mfu-sym budget examples/llama3_8b.yaml --flops 1e23 --batch 512 \\
            --hardware h100 --gpus 1024 --mfu 0.4
    """
    if (tokens is None) == (target_flops is None):
        raise click.UsageError("give exactly one of --tokens and --flops")
    if target_flops is not None and batch is None:
        raise click.UsageError("--flops needs --batch (global sequences per step): a budget is spent in whole steps")
    timed = {"--hardware": hardware, "--gpus": gpus, "--mfu": assumed_mfu}
    if any(v is not None for v in timed.values()) and not all(v is not None for v in timed.values()):
        missing = ", ".join(k for k, v in timed.items() if v is None)
        raise click.UsageError(f"a time estimate needs --hardware, --gpus and --mfu (missing {missing})")

    from .. import planning
    model = build_model(model_file, **switches)
    peak = None
    if hardware is not None:
        from ..hardware import load_hardware
        from ..peaks import choose_peak
        peak = choose_peak(hardware, dtype, sparse, registry=load_hardware(root=model.library.root))
    result = planning.plan(model, tokens=tokens, flops=target_flops, seq_len=seq_len, batch=batch,
                           peak=peak, devices=gpus, mfu=assumed_mfu, documents=documents)
    from ..render import json, training
    if fmt == "json":
        click.echo(json.dumps(result.to_dict()))
        return
    click.echo(training.budget(result, model_file))
    if peak is not None:
        from ..peaks import peak_warnings
        for warning in peak_warnings(peak):
            click.echo(f"warning: {warning}", err=True)
