"""`mfu-sym chinchilla`: compute-optimal parameters and tokens for a FLOP budget, derived
symbolically from the Chinchilla loss, with the published fits."""

import click

from .options import data_root, formulas_option
from .types import EXACT


@click.command()
@click.option("--compute", type=EXACT, help="training FLOP budget C, e.g. 5.76e23")
@click.option("--fit", "fit_keys", multiple=True, metavar="NAME",
              help="a fit from formulas/scaling_laws.yaml (repeatable; default: all)")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "latex"]), default="text", show_default=True)
@formulas_option
def chinchilla(compute, fit_keys, fmt, formula_dirs):
    """Compute-optimal N and D for a FLOP budget C under L = E + A/N^alpha + B/D^beta.

    sympy minimizes the loss along C = 6ND at run time and prints N_opt(C) and
    D_opt(C) in closed form (Hoffmann et al. 2022, arXiv:2203.15556, Eq. 4); with
    --compute, each published fit's numbers.

    \b
    Examples:
        mfu-sym chinchilla
        mfu-sym chinchilla --compute 5.76e23 --fit hoffmann2022 --fit besiroglu2024
    """
    from .. import planning
    from ..errors import UsageError
    fits = planning.load_fits(data_root(formula_dirs))
    for key in fit_keys:
        if key not in fits:
            raise UsageError(None, "fit", f"unknown fit {key!r} (expected one of: {', '.join(fits)})")
    chosen = [fits[k] for k in dict.fromkeys(fit_keys)] or list(fits.values())
    frontier = planning.derive_allocation()
    results = {fit.key: planning.allocate(compute, fit) for fit in chosen} if compute is not None else {}
    from ..render import json, latex, text
    if fmt == "json":
        click.echo(json.chinchilla(frontier, chosen, results))
    elif fmt == "latex":
        click.echo(latex.chinchilla(frontier))
    else:
        click.echo(text.chinchilla(frontier, chosen, results))
