"""`mfu-sym chinchilla`: compute-optimal parameters and tokens for a FLOP budget, derived
symbolically from the Chinchilla loss, with the published fits."""

import click

from ..cli import main
from .types import EXACT


@main.command()
@click.option("--compute", type=EXACT, help="training FLOP budget C, e.g. 5.76e23")
@click.option("--fit", "fit_keys", multiple=True, metavar="NAME",
              help="a fit from formulas/scaling_laws.yaml (repeatable; default: all)")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "latex"]), default="text", show_default=True)
def chinchilla(compute, fit_keys, fmt):
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
    fits = planning.load_fits()
    for key in fit_keys:
        if key not in fits:
            raise UsageError(None, "fit", f"unknown fit {key!r} (expected one of: {', '.join(fits)})")
    chosen = [fits[k] for k in dict.fromkeys(fit_keys)] or list(fits.values())
    frontier = planning.derive_allocation()
    results = {fit.key: planning.allocate(compute, fit) for fit in chosen} if compute is not None else {}
    if fmt == "json":
        import json
        click.echo(json.dumps(_json(planning, frontier, chosen, results, compute), indent=2))
    elif fmt == "latex":
        click.echo(_latex(planning, frontier))
    else:
        click.echo(_text(planning, frontier, chosen, results))


def _forms(planning, frontier):
    return {
        "loss": frontier.loss,
        "constraint": frontier.constraint,
        "first_order": frontier.stationarity,
        "n_opt": frontier.n_opt_form(),
        "d_opt": frontier.d_opt_form(),
        "g": frontier.g,
        "a": frontier.a,
        "b": frontier.b,
    }


def _json(planning, frontier, chosen, results, compute):
    from ..export import exact
    forms = _forms(planning, frontier)
    return {
        "formulas": {k: planning.display(v) for k, v in forms.items()},
        "latex": {k: planning.latex(v) for k, v in forms.items()},
        "derived_n_opt": planning.display(frontier.n_opt),
        "compute": exact(results[next(iter(results))]["compute"]) if results else None,
        "fits": {fit.key: {**fit.to_dict(), **({k: v for k, v in results[fit.key].items() if k != "compute"}
                                               if fit.key in results else {})}
                 for fit in chosen},
    }


def _latex(planning, frontier):
    forms = _forms(planning, frontier)
    rows = [r"L(N, D) &= %s" % planning.latex(forms["loss"]),
            r"C &= 6ND",
            r"N_{\mathrm{opt}}(C) &= %s" % planning.latex(forms["n_opt"]),
            r"D_{\mathrm{opt}}(C) &= %s" % planning.latex(forms["d_opt"])]
    return "\n".join([r"% Chinchilla compute-optimal frontier (Hoffmann et al. 2022, arXiv:2203.15556, Eq. 4),",
                      r"% derived by sympy from the loss under C = 6ND",
                      r"\begin{align}", " \\\\\n".join(rows), r"\end{align}"])


def _text(planning, frontier, chosen, results):
    d = planning.display
    lines = ["Chinchilla compute-optimal allocation, derived by sympy (Hoffmann et al. 2022, §3.3)",
             f"  {'loss':<15}L(N, D) = {d(frontier.loss)}",
             f"  {'constraint':<15}C = 6*N*D",
             f"  {'first order':<15}{d(frontier.stationarity.lhs)} = {d(frontier.stationarity.rhs)}",
             f"  {'N_opt(C)':<15}{d(frontier.n_opt_form())}",
             f"  {'D_opt(C)':<15}{d(frontier.d_opt_form())}",
             f"  {'':<15}(sympy's solution {d(frontier.n_opt)} is checked equal to this form)",
             f"  {'minimum':<15}d2L/dN2 at N_opt = {d(frontier.curvature)} > 0"]
    if results:
        compute = next(iter(results.values()))["compute"]
        lines += ["", f"compute C = {float(compute):.4g} FLOPs",
                  f"  {'fit':<15}{'E':>7}{'A':>9}{'B':>9}{'alpha':>8}{'beta':>8}{'a':>8}{'b':>8}"
                  f"{'N_opt':>12}{'D_opt':>12}{'D/N':>8}{'loss':>8}"]
        for fit in chosen:
            r = results[fit.key]
            lines.append(f"  {fit.key:<15}{fit.E:>7g}{fit.A:>9g}{fit.B:>9g}{fit.alpha:>8g}{fit.beta:>8g}"
                         f"{r['a']:>8.4f}{r['b']:>8.4f}{r['n_opt']:>12.4g}{r['d_opt']:>12.4g}"
                         f"{r['tokens_per_param']:>8.1f}{r['loss']:>8.4f}")
    lines += ["", "fits (formulas/scaling_laws.yaml)"]
    for fit in chosen:
        lines.append(f"  {fit.key:<15}{fit.name}: {fit.cite()}")
    return "\n".join(lines)
