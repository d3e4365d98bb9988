"""`mfu-sym presets`: the counting conventions, with their switches and sources."""

import click

from .options import data_root, formulas_option


@click.command()
@formulas_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def presets(formula_dirs, fmt):
    """List the counting conventions (presets) with their switches and sources.

    \b
    Example:
        mfu-sym presets --format json
    """
    from ..conventions import load_presets
    from ..library import load_library
    from ..render import json, text
    presets, references = load_presets(data_root(formula_dirs)), load_library(formula_dirs).references
    if fmt == "json":
        click.echo(json.presets(presets, references))
    else:
        click.echo(text.presets(presets, references), nl=False)


@click.command()
@formulas_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def variants(formula_dirs, fmt):
    """List the disputed terms: each way the field counts them, with its source.

    Choose one with --variant TERM=CHOICE on any model command, or through a preset.

    \b
    Example:
        mfu-sym variants
        mfu-sym derive qwen3_next.json --seq-len 4096 --variant linear_core=recurrent_8
    """
    from ..conventions import load_variants
    from ..library import load_library
    from ..render import json, text
    table, references = load_variants(data_root(formula_dirs)), load_library(formula_dirs).references
    if fmt == "json":
        click.echo(json.variants(table, references))
    else:
        click.echo(text.variants(table, references), nl=False)
