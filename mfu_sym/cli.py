"""The `mfu-sym` command line: a thin click layer over the library.

Library errors (MfuSymError) become `Error: FILE: FIELD: message` and exit 1, with no
traceback; bad usage is click's own exit 2. Heavy imports happen inside the commands.
"""

import sys

import click

FORMATS = ("text", "json", "markdown", "latex")


class _Group(click.Group):
    """Turns every MfuSymError raised by a command into a one-line error."""

    def invoke(self, ctx):
        from .errors import MfuSymError
        try:
            return super().invoke(ctx)
        except MfuSymError as exc:
            raise click.ClickException(str(exc)) from None
        except RecursionError:
            raise click.ClickException("input nested too deeply") from None


@click.group(cls=_Group)
@click.version_option(package_name="mfu-sym")
def main():
    """Exact, symbolic FLOP and parameter counts for transformer language models."""


def model_options(function):
    """MODEL, --preset and the counting switches, shared by every command that builds a
    model. A command takes them as `**switches` and passes them on to `build_model`.
    Switches default to None: the preset decides, and a switch given overrides it."""
    options = [
        click.argument("model_file", metavar="MODEL", type=click.Path(dir_okay=False)),
        click.option("--preset", default="exact", show_default=True,
                     help="counting convention (see `mfu-sym presets`)"),
        click.option("--mask", type=click.Choice(["causal", "full", "half"]),
                     help="keys per query: causal t (window-aware), full S, half S/2 [preset's]"),
        click.option("--attention-kernel", type=click.Choice(["eager", "flash"]),
                     help="attention backward: eager 2x forward, or flash (QK^T recomputed) [preset's]"),
        click.option("--recompute", type=click.Choice(["none", "selective", "full"]),
                     help="activation recomputation: adds hardware FLOPs (HFU) [preset's]"),
        click.option("--nonmatmul/--matmul-only", "nonmatmul", default=None,
                     help="also count softmax, norms, activations, residual adds, rotary"),
        click.option("--mla", type=click.Choice(["naive", "absorbed"]),
                     help="MLA as trained (keys and values up-projected) or absorbed (scores in the latent)"),
        click.option("--mtp/--no-mtp", default=None, help="count multi-token-prediction modules in the totals"),
        click.option("--formulas", "formula_dirs", multiple=True, type=click.Path(file_okay=False),
                     help="extra formula directory (same-named files replace the bundled ones)"),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def build_model(model_file, formula_dirs=(), preset="exact", nonmatmul=None, **switches):
    from .loader import load
    if nonmatmul is not None:
        switches["nonmatmul"] = ("all",) if nonmatmul else ()
    model = load(model_file, preset=preset, formulas=formula_dirs, **switches)
    echo_notes(model.arch.notes)
    return model


def echo_notes(notes):
    """What the reader should know beyond the numbers, on standard error (so JSON on
    standard output stays clean)."""
    from .render import printable
    for note in notes:
        click.echo(f"note: {printable(note)}", err=True)


def context_note(model, seq_len):
    """Say so when the run length falls back to the model's longest context."""
    if model.run_length(seq_len, context_ok=True)[1] == "context":
        echo_notes(model.notes("context")[:1])


# Each command lives in its own module under commands/; importing it registers it.
from .commands import (  # noqa: E402,F401
    analyze, budget, chinchilla, derive, hardware, infer, latex, memory, mfu, plot, presets, reconcile, sweep,
)


if __name__ == "__main__":  # pragma: no cover
    from mfu_sym.cli import main as registered  # the module the commands registered on
    sys.exit(registered())
