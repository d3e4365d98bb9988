"""Data files are read as plain data under the YAML 1.2 core schema (never PyYAML's
YAML 1.1 surprises), with duplicate keys, alias floods and unreadable numbers refused."""

import json

import pytest

from mfu_sym.errors import ConfigError
from mfu_sym.files import MAX_NODES, parse_json, parse_yaml


@pytest.mark.parametrize("text, expected", [
    ("a: 100", 100),
    ("a: -0", 0),
    ("a: +5", 5),
    ("a: 0o17", 15),        # octal only when it says so
    ("a: 0x1f", 31),
    ("a: 1:04", "1:04"),    # YAML 1.1: sexagesimal 64
    ("a: 1_000", "1_000"),  # YAML 1.1: 1000; a string here, so a size field refuses it
    ("a: yes", "yes"),      # YAML 1.1: true
    ("a: off", "off"),      # YAML 1.1: false
    ("a: true", True),
    ("a: FALSE", False),
    ("a: 1e9", 1e9),        # YAML 1.1: the string '1e9'; a float, so a size field names it
    ("a: .5", 0.5),
    ("a: 2002-12-14", "2002-12-14"),  # YAML 1.1: a date
    ("a: ~", None),
    ("a:", None),
])
def test_yaml_core_schema(text, expected):
    value = parse_yaml(text, "f.yaml", ConfigError)["a"]
    assert value == expected and type(value) is type(expected)


def test_merge_keys_still_work_and_explicit_keys_win():
    data = parse_yaml("k: &k {x: 1, y: 2}\nm:\n  <<: *k\n  x: 3\n", "f.yaml", ConfigError)
    assert data["m"] == {"x": 3, "y": 2}


@pytest.mark.parametrize("text, message", [
    ("a: 0100", "0100 has a leading zero"),          # YAML 1.1: 64
    ("a: -007", "has a leading zero"),
    ("a: 1\nb: 2\na: 3\n", "line 3: key 'a' is given twice (first at line 1"),
    ("a: " + "9" * 101, "an integer with 101 digits"),
    ("a: &a [*a]", "recursive structure"),
    ("a: !!python/object/apply:os.system ['true']", "invalid YAML"),
    ("[" * 5000 + "]" * 5000, "invalid YAML"),
])
def test_yaml_refusals(text, message):
    with pytest.raises(ConfigError, match="invalid YAML") as info:
        parse_yaml(text, "f.yaml", ConfigError)
    assert message in str(info.value)


def test_billion_laughs_is_refused_before_it_is_built():
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    lines.append("name: *l8")
    with pytest.raises(ConfigError, match=f"more than {MAX_NODES:,} nodes"):
        parse_yaml("\n".join(lines), "bomb.yaml", ConfigError)


@pytest.mark.parametrize("text, message", [
    ('{"a": 1, "a": 2}', "key 'a' is given twice"),
    ('{"a": NaN}', "NaN is not a JSON number"),
    ('{"a": -Infinity}', "-Infinity is not a JSON number"),
    ('{"a": 1e400}', "out of range"),
    ('{"a": ' + "9" * 5000 + "}", "an integer with 5000 digits"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ('{"a": }', "invalid JSON at line 1"),
])
def test_json_refusals(text, message):
    with pytest.raises(ConfigError, match="invalid JSON") as info:
        parse_json(text, "config.json", ConfigError)
    assert message in str(info.value)


def test_a_model_config_may_hold_the_constants_transformers_4_wrote(tmp_path):
    """transformers 4 saved Mamba-2's time_step_limit as [0.0, Infinity], and reads it back:
    a config.json may hold NaN and Infinity where they are floats; a size may not."""
    from cli_helpers import run
    config = {"model_type": "mamba2", "hidden_size": 64, "num_hidden_layers": 2, "num_heads": 4, "head_dim": 32,
              "n_groups": 1, "state_size": 16, "vocab_size": 100, "expand": 2}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config)[:-1] + ', "time_step_limit": [0.0, Infinity], "time_step_floor": NaN}')
    assert run("derive", path, "--seq-len", "16").exit_code == 0
    path.write_text(json.dumps(config).replace('"hidden_size": 64', '"hidden_size": Infinity'))
    refused = run("derive", path, "--seq-len", "16")
    assert refused.exit_code == 1 and refused.output.startswith(f"Error: {path}: hidden_size: ")
    assert "Traceback" not in refused.output


def test_model_files_in_yaml_and_logs_still_refuse_the_constants():
    from mfu_sym.files import decode_json
    with pytest.raises(Exception, match="NaN is not a JSON number"):
        decode_json('{"tps": NaN}')
