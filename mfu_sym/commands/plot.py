"""`mfu-sym plot`: FLOPs by component against sequence length, MFU against throughput."""

import click

from .options import build_model, model_options
from .types import POSITIVE, SIZE


@click.command()
@model_options(command="plot")
@click.option("--kind", type=click.Choice(["breakdown", "mfu"]), default="breakdown", show_default=True,
              help="breakdown: training FLOPs per token by component against s; mfu: MFU against tokens/s")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="image file: .png, .svg or .pdf")
@click.option("--seq-range", nargs=2, type=SIZE, metavar="MIN MAX",
              help="breakdown: sequence lengths to plot [128 to max(131072, the model's)]")
@click.option("--hardware", help="mfu: accelerator (see `mfu-sym hardware`), e.g. h100")
@click.option("--dtype", default="bf16", show_default=True, help="mfu: dtype of the dense peak")
@click.option("--gpus", type=SIZE, default=1, show_default=True, help="mfu: devices")
@click.option("--seq-len", type=SIZE, help="mfu: sequence length (default: the model file's)")
@click.option("--compare", multiple=True, metavar="PRESET",
              help="mfu: also draw the MFU another preset would report (repeatable)")
@click.option("--tokens-per-sec", "marks", multiple=True, type=POSITIVE,
              help="mfu: mark a measured global throughput (repeatable)")
def plot(model_file, kind, output, seq_range, hardware, dtype, gpus, seq_len, compare, marks, **switches):
    """Draw MODEL's training FLOPs per token by component against sequence length
    (stacked, log-scaled s, the attention = MLP crossover marked), or its MFU against
    throughput on an accelerator's dense peak. Needs matplotlib: pip install 'mfu-sym[plot]'.

    \b
    Examples:
        mfu-sym plot examples/llama3_8b.yaml --kind breakdown -o breakdown.png
        mfu-sym plot examples/llama3_8b.yaml --kind mfu --hardware h100 --gpus 8 -o mfu.svg
    """
    from .. import plot as plots
    suffix = output[output.rfind("."):].lower() if "." in output else ""
    if suffix not in plots.FORMATS:
        raise click.BadParameter(f"{output!r} (expected a file ending in {', '.join(plots.FORMATS)})",
                                 param_hint="'-o' / '--output'")
    if kind == "mfu" and not hardware:
        raise click.UsageError("--kind mfu needs --hardware (e.g. --hardware h100)")
    if seq_range and seq_range[0] >= seq_range[1]:
        raise click.BadParameter(f"{seq_range[0]} {seq_range[1]} (expected MIN < MAX)", param_hint="'--seq-range'")
    plots._matplotlib()  # a missing extra is reported before any work
    model = build_model(model_file, **switches)
    if kind == "breakdown":
        plots.breakdown(model, output, seq_range=seq_range)
    else:
        plots.mfu(model, hardware, output, dtype=dtype, gpus=gpus, seq_len=seq_len, compare=compare, marks=marks)
    click.echo(f"wrote {output}")
