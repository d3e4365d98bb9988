"""Data files are read as plain data under the YAML 1.2 core schema (never PyYAML's
YAML 1.1 surprises), with duplicate keys, alias floods and unreadable numbers refused."""

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
