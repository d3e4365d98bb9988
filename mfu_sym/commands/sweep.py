"""`mfu-sym sweep`: FLOPs and parameters over a grid of configurations, compiled once."""

import json

import click

from ..cli import build_model, context_note, main, model_options

# Architecture sizes a sweep may vary, as --d-model style options.
SIZES = ("d_model", "n_layers", "n_heads", "n_kv_heads", "d_head", "d_ff", "vocab_size", "window",
         "n_experts", "top_k", "d_expert")


def _size_options(function):
    for name in reversed(SIZES):
        function = click.option(f"--{name.replace('_', '-')}", name, help=f"values of {name}")(function)
    return function


@main.command()
@model_options
@click.option("--seq-len", "seq_len", help="values: 4096, 1024,2048 or START:STOP[:STEP] (STOP included)")
@click.option("--batch", "batch", help="values of batch (sequences per step)")
@_size_options
@click.option("--components/--no-components", default=True, show_default=True,
              help="a column per component")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="write here, not to stdout")
def sweep(model_file, seq_len, batch, components, fmt, output, **options):
    """Training and forward FLOPs per step, by component, and parameters, for every
    combination of the given values (any symbol of the model). Exact integers.

    \b
    Example:
        mfu-sym sweep examples/llama3_8b.yaml --seq-len 1024:131072:1024 --batch 1,8
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
    table = sweeping.sweep(model, grid, components=components)
    if fmt == "json":
        chunks = _json_chunks(model, table)
    else:
        chunks = _csv_chunks(table)
    if output:
        from ..output import write_text
        write_text(output, chunks)
    else:
        for chunk in chunks:
            click.echo(chunk, nl=False)


CHUNK = 65536  # rows converted to text at a time


def _rows(table):
    keys = list(table)
    count = len(table[keys[0]])
    for start in range(0, count, CHUNK):
        yield zip(*[table[k][start:start + CHUNK].tolist() for k in keys])


def _csv_chunks(table):
    yield ",".join(table) + "\n"
    for rows in _rows(table):
        yield "".join(",".join(map(str, row)) + "\n" for row in rows)


def _json_chunks(model, table):
    keys = list(table)
    head = json.dumps({"model": model.arch.name, "conventions": model.conventions.describe()}, indent=1)
    yield head[:-2] + ',\n "rows": [\n'
    first = True
    for rows in _rows(table):
        text = ",\n".join("  " + json.dumps(dict(zip(keys, row))) for row in rows)
        yield ("" if first else ",\n") + text
        first = False
    yield "\n ]\n}\n"
