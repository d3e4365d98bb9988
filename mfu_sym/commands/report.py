"""`mfu-sym report`: one self-contained HTML page of a model's counts, to share."""

import click

from .options import _auto_hardware, build_model, context_note, model_options
from .types import POSITIVE, SIZE


@click.command()
@model_options(command="report")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="write the page to FILE (written whole or not at all) instead of standard output")
@click.option("--seq-len", type=SIZE, help="sequence length of the run (default: the model file's)")
@click.option("--batch", type=SIZE, help="sequences per step (default: the model file's, or 1)")
@click.option("--seq-range", nargs=2, type=SIZE, metavar="MIN MAX",
              help="sequence lengths of the charts [128 to max(131072, the model's), widened to the run's]")
@click.option("--hardware", metavar="NAME", callback=_auto_hardware,
              help="add MFU against throughput on this accelerator (see `mfu-sym hardware list`), or auto")
@click.option("--dtype", help="dtype of the peak (with --hardware) [bf16]")
@click.option("--sparse", is_flag=True, help="divide by the 2:4-sparse peak (with --hardware; default: dense)")
@click.option("--gpus", type=SIZE, help="devices in the run (with --hardware) [1]")
@click.option("--tokens-per-sec", type=POSITIVE,
              help="measured global throughput, tokens/s: its MFU and HFU, marked on the chart (with --hardware)")
def report(model_file, output, seq_len, batch, seq_range, hardware, dtype, sparse, gpus, tokens_per_sec,
           **switches):
    """One self-contained HTML page of MODEL: the run, the convention in force, every
    formula as MathML (per component and the totals), exact values, the breakdown by
    component, charts against sequence length (inline SVG) and the sources. With
    --hardware, MFU against throughput too (and the MFU of --tokens-per-sec). The page
    loads nothing from anywhere: send it, open it offline.

    \b
    Examples:
        mfu-sym report examples/llama3_8b.yaml -o llama3_8b.html
        mfu-sym report examples/llama3_8b.yaml --seq-len 8192 --preset megatron -o report.html
        mfu-sym report examples/llama3_8b.yaml --hardware h100 --gpus 8 --tokens-per-sec 100000 -o report.html
    """
    if hardware is None:
        given = [name for name, value in (("--dtype", dtype), ("--sparse", sparse or None), ("--gpus", gpus),
                                          ("--tokens-per-sec", tokens_per_sec)) if value is not None]
        if given:
            raise click.UsageError(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} only with "
                                   "--hardware (the accelerator the MFU divides by)")
    if seq_range and seq_range[0] >= seq_range[1]:
        raise click.BadParameter(f"{seq_range[0]} {seq_range[1]} (expected MIN < MAX)", param_hint="'--seq-range'")
    from ..render import document, html
    model = build_model(model_file, **switches)
    context_note(model, seq_len)
    doc = document.build(model, seq_len=seq_len, batch=batch, source=model_file)
    mfu = None
    if hardware is not None:
        mfu = html.mfu_block(model, hardware, dtype=dtype or "bf16", sparse=sparse, gpus=gpus or 1,
                             seq_len=int(doc.run["seq_len"]), tokens_per_sec=tokens_per_sec)
    page = html.to_html(doc, mfu=mfu, seq_range=seq_range)
    if output is None:
        click.echo(page, nl=False)
        return
    from ..output import write_text
    write_text(output, page)
    from ..render import printable
    click.echo(f"wrote {printable(output)}")
