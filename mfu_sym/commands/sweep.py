"""`mfu-sym sweep`: FLOPs and parameters over a grid of configurations, compiled once."""

import sys

import click

from .options import build_model, context_note, documents_option, model_options

# Architecture sizes a sweep may vary, as --d-model style options.
SIZES = ("d_model", "n_layers", "n_heads", "n_kv_heads", "d_head", "d_ff", "vocab_size", "window",
         "n_experts", "top_k", "d_expert")


def _size_options(function):
    for name in reversed(SIZES):
        function = click.option(f"--{name.replace('_', '-')}", name, help=f"values of {name}")(function)
    return function


@click.command()
@model_options
@click.option("--seq-len", "seq_len", help="values: 4096, 1024,2048 or START:STOP[:STEP] (STOP included)")
@click.option("--batch", "batch", help="values of batch (sequences per step)")
@_size_options
@click.option("--components/--no-components", default=True, show_default=True,
              help="a column per component")
@documents_option
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "json", "parquet", "arrow"]), default="csv",
              show_default=True, help="csv; jsonl (a JSON object a line); json (one document); parquet or arrow "
                                      "(an Arrow IPC file; both need pyarrow and -o)")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="write here, not to stdout")
def sweep(model_file, seq_len, batch, components, documents, fmt, output, **options):
    """Training and forward FLOPs per step, by component, and parameters, for every
    combination of the given values (any symbol of the model). Exact integers.

    With --documents (the documents of a pack, e.g. 1024,3072) every sequence is a pack of
    those documents: counts are summed over them and per-token figures are per real token.

    Rows are evaluated and written in chunks: memory does not grow with the grid.

    \b
    Examples:
        mfu-sym sweep examples/llama3_8b.yaml --seq-len 1024:131072:1024 --batch 1,8
        mfu-sym sweep examples/llama3_8b.yaml --seq-len 8192 --documents 1024,3072,4096 --d-model 2048,4096
    """
    from .. import sweep as sweeping
    sizes = {name: options.pop(name) for name in SIZES}
    model = build_model(model_file, **options)
    grid = {}
    for name, text in [("seq_len", seq_len), ("batch", batch)] + list(sizes.items()):
        if text is not None:
            grid[name] = sweeping.parse_values(text, name)
    if "seq_len" not in grid:
        context_note(model, None)
    if not grid:
        grid["seq_len"] = [model.run_length(None, context_ok=True)[0]]
    from ..render import sweep as render
    if fmt in render.BINARY and not output:
        raise click.UsageError(f"--format {fmt} is binary: give -o FILE")
    plan = sweeping.Sweep(model, grid, components=components, documents=documents)
    if fmt in render.BINARY:
        render.write_columnar(plan, output, fmt)
        return
    chunks = {"csv": render.csv_chunks, "jsonl": render.jsonl_chunks, "json": render.json_chunks}[fmt](plan)
    if output:
        from ..output import write_bytes
        write_bytes(output, chunks)
    else:
        stdout = sys.stdout.buffer
        for chunk in chunks:
            stdout.write(chunk)
        stdout.flush()
