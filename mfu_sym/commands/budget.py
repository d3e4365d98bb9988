"""`mfu-sym budget`: training FLOPs of a token budget, or the steps a FLOP budget buys,
and the time and device-hours at an assumed MFU."""

import click

from ..cli import build_model, main, model_options
from ..render import printable
from .types import EXACT, FRACTION, SIZE




@main.command()
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
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def budget(model_file, tokens, target_flops, seq_len, batch, hardware, dtype, sparse, gpus, assumed_mfu, fmt,
           **switches):
    """Training FLOPs of MODEL for a token budget, or the steps a FLOP budget buys.

    FLOPs = tokens x training FLOPs per token, exact, under the counting switches; 6ND
    (N = total parameters) is printed beside it. With --flops, steps =
    ceil(FLOPs / FLOPs per step). With --hardware, --gpus and --mfu, the wall time is
    FLOPs / (GPUS x dense peak x MFU).

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
        from ..mfu import choose_peak
        peak = choose_peak(hardware, dtype, sparse, registry=load_hardware(root=model.library.root))
    result = planning.plan(model, tokens=tokens, flops=target_flops, seq_len=seq_len, batch=batch,
                           peak=peak, devices=gpus, mfu=assumed_mfu)
    if fmt == "json":
        import json
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    click.echo(_text(result, model_file))
    if peak is not None:
        from ..mfu import peak_warnings
        for warning in peak_warnings(peak):
            click.echo(f"warning: {warning}", err=True)


def _big(value):
    from ..export import grouped
    return f"{grouped(value)}  ({float(value):.4g})"


def _text(p, source):
    from ..export import grouped
    lines = [f"Training budget of {p.model_name}  ({printable(source)})",
             f"  {'run':<17}seq_len {p.seq_len:,}" + (f", batch {p.batch:,} sequences per step" if p.batch else ""),
             f"  {'FLOPs per token':<17}{grouped(p.flops_per_token)} "
             f"(model FLOPs: training, as the convention counts it)"]
    # the conventions in words ("explained"), as `derive` prints them
    for i, (key, value) in enumerate(p.conventions.get("explained", p.conventions).items()):
        lines.append(f"  {'counted under' if i == 0 else '':<17}{key}: {value}")
    if p.target_flops is not None:
        lines += [f"  {'FLOP budget':<17}{_big(p.target_flops)}",
                  f"  {'FLOPs per step':<17}{_big(p.flops_per_step)}",
                  f"  {'steps':<17}{int(p.steps):,}  (ceil(budget / FLOPs per step))"]
    lines.append(f"  {'tokens':<17}{_big(p.tokens)}")
    if p.target_flops is None and p.steps is not None:
        lines.append(f"  {'steps':<17}{int(p.steps):,}  (ceil(tokens / (batch x seq_len)))")
    lines.append(f"  {'training FLOPs':<17}{_big(p.flops)}"
                 + ("  (whole steps)" if p.target_flops is not None else ""))
    ratio = float(p.flops / p.six_nd)
    lines.append(f"  {'6ND':<17}{_big(p.six_nd)}  with N = {grouped(p.params_total)} total parameters; "
                 f"the count above is {ratio:.4f} x 6ND")
    if p.peak is not None:
        seconds = p.seconds
        lines += [f"  {'time':<17}at MFU {p.mfu:.1%} on {p.devices:,} x {p.peak.device.name} "
                  f"({p.peak.dtype} {p.peak.kind}, {p.peak.tflops:,g} {p.peak.unit} each, "
                  f"source: {', '.join(s.key for s in p.peak.sources)})",
                  f"  {'':<17}{seconds:,.4g} s = {seconds / 3600:,.4g} hours = {seconds / 86400:,.4g} days",
                  f"  {'device-hours':<17}{p.device_hours:,.4g}"]
    return "\n".join(lines)
