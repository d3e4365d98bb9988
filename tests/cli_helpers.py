"""What the CLI tests share: invoking a command, reading its JSON, checking an error line."""

import json

from click.testing import CliRunner

from mfu_sym.cli import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def run_json(*args):
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_one_error_line(result, field, message):
    """Exit 1 and a single `Error: ... FIELD: ... message` line (no traceback)."""
    assert result.exit_code == 1, result.output
    line = result.output.strip()
    assert len(line.splitlines()) == 1 and line.startswith("Error: ") and f"{field}: " in line
    assert message in line
