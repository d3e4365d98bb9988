"""What the tests share: invoking a command, reading its JSON, checking an error line, and
writing a model file (a config.json or the YAML format) to load."""

import json

import yaml
from click.testing import CliRunner

import mfu_sym

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


def write_model(tmp_path, data, name="model.yaml"):
    """`data` as a model file: JSON for a name ending in .json, else the YAML format."""
    path = tmp_path / name
    path.write_text(json.dumps(data) if name.endswith(".json") else yaml.safe_dump(data))
    return path


def load_model(tmp_path, data, name="model.yaml", **conventions):
    return mfu_sym.load(write_model(tmp_path, data, name), **conventions)


def counts_in_both_formats(tmp_path, config, model_yaml, seq_len=11, batch=2):
    """(params, forward, training) of a config.json and of its YAML description, each under
    the exact and a dense convention: the two halves must be equal."""
    reports = []
    for path in (write_model(tmp_path, config, "config.json"), write_model(tmp_path, model_yaml)):
        for conventions in ({}, {"mask": "full", "attention_kernel": "flash"}):
            report = mfu_sym.load(path, **conventions).report(seq_len=seq_len, batch=batch)
            reports.append((report["params"], report["flops"]["forward"], report["flops"]["training"]))
    return reports[:2], reports[2:]
