"""The `mfu-sym` command line: a thin click layer over the library.

Library errors (MfuSymError) become `Error: FILE: FIELD: message` and exit 1, with no
traceback; bad usage is click's own exit 2. Each command lives in its own module under
commands/ (options in, library call, renderer out); what they share is
commands/options.py. This module imports the commands; no command imports it. Heavy
imports happen inside the commands.
"""

import sys

import click

from .commands import (
    analyze, budget, chinchilla, derive, hardware, infer, latex, memory, mfu, plot, presets, reconcile, report, sweep,
    trace,
)


class _Group(click.Group):
    """Turns every MfuSymError raised by a command into a one-line error."""

    def invoke(self, ctx):
        from .errors import MfuSymError
        try:
            return super().invoke(ctx)
        except MfuSymError as exc:
            raise click.ClickException(_one_line(str(exc))) from None
        except RecursionError:
            raise click.ClickException("input nested too deeply") from None


def _one_line(message, limit=2000):
    """An error message as one printable line (file contents can carry control characters)."""
    from .render import printable
    message = printable(message)
    return message if len(message) <= limit else message[:limit - 3] + "..."


@click.group(cls=_Group)
@click.version_option(package_name="mfu-sym")
def main():
    """Exact, symbolic FLOP and parameter counts for transformer language models."""


for _command in (analyze.analyze, budget.budget, chinchilla.chinchilla, derive.derive, hardware.hardware,
                 infer.infer, latex.latex, memory.memory_command, mfu.mfu, plot.plot, presets.presets,
                 presets.variants, reconcile.reconcile, report.report, sweep.sweep, trace.trace):
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
