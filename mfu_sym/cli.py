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
    """Options shared by every command that builds a model."""
    options = [
        click.argument("model_file", metavar="MODEL", type=click.Path(dir_okay=False)),
        click.option("--mask", type=click.Choice(["causal", "full", "half"]), default="causal", show_default=True,
                     help="keys per query: causal t (window-aware), full S, half S/2"),
        click.option("--attention-kernel", type=click.Choice(["eager", "flash"]), default="eager",
                     show_default=True, help="attention backward: eager 2x forward, or flash (QK^T recomputed)"),
        click.option("--formulas", "formula_dirs", multiple=True, type=click.Path(file_okay=False),
                     help="extra formula directory (same-named files replace the bundled ones)"),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def build_model(model_file, mask, attention_kernel, formula_dirs):
    from .loader import load
    return load(model_file, mask=mask, attention_kernel=attention_kernel, formulas=formula_dirs)


@main.command()
@model_options
@click.option("--seq-len", type=click.IntRange(min=1), help="sequence length (default: the model file's)")
@click.option("--batch", type=click.IntRange(min=1), help="sequences per step (default: the model file's, or 1)")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def derive(model_file, mask, attention_kernel, formula_dirs, seq_len, batch, fmt):
    """Per-component FLOP and parameter formulas of MODEL, and their values.

    MODEL is a model YAML (see the README) or a Hugging Face config (any .json file).

    \b
    Example:
        mfu-sym derive examples/llama3_8b.yaml --seq-len 8192 --format json
    """
    from . import export
    model = build_model(model_file, mask, attention_kernel, formula_dirs)
    report = model.report(seq_len=seq_len, batch=batch)
    render = {"text": lambda: export.to_text(model, report, model_file), "json": lambda: export.to_json(model, report),
              "markdown": lambda: export.to_markdown(model, report), "latex": lambda: export.to_latex(model, report)}
    click.echo(render[fmt]())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
