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
