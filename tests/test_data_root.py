"""One data root: every data file found by name, `--formulas DIR` overriding any of them
(presets and hardware included), and every section read by exactly one reader."""

import json
from pathlib import Path

import pytest
import yaml

from cli_helpers import run
from mfu_sym import data
from mfu_sym.errors import FormulaError

ROOT = Path(__file__).resolve().parent.parent
LLAMA = str(ROOT / "examples" / "llama3_8b.yaml")


def test_bundled_root_holds_every_data_file():
    names = {name for name, _ in data.root().files}
    assert {"hardware.yaml", "presets.yaml", "memory.yaml", "hf_families.yaml", "symbols.yaml"} <= names
    # the library, the bibliography, variants, caches and the HF tables span files (each group's own)
    spread = {"symbols", "references", "masks", "formulas", "variants", "kv_cache", "hf_families", "hf_reasons",
              "hf_known_extra_keys", "hf_base_ignore"}
    for section in set(data.SECTIONS) - spread:
        data.root().section(section)  # held by exactly one bundled file
    for section in spread:
        assert data.root().sections(section)


def test_a_presets_file_in_formulas_dir_changes_the_presets(tmp_path):
    presets = yaml.safe_load((ROOT / "formulas" / "presets.yaml").read_text())
    presets["presets"].append({"name": "mine", "description": "full mask, flash kernel",
                               "reference": {"cite": "dao2023", "where": "§3"},
                               "switches": {"mask": "full", "attention_kernel": "flash"}})
    (tmp_path / "presets.yaml").write_text(yaml.safe_dump(presets))
    unknown = run("derive", LLAMA, "--preset", "mine")  # unknown without the directory
    assert unknown.exit_code == 1 and "unknown preset 'mine'" in unknown.output
    mine = json.loads(run("derive", LLAMA, "--preset", "mine", "--formulas", tmp_path, "--format", "json").stdout)
    full = json.loads(run("derive", LLAMA, "--mask", "full", "--attention-kernel", "flash", "--format", "json").stdout)
    assert mine["flops"] == full["flops"] and mine["conventions"]["preset"] == "mine"


def test_a_hardware_file_in_formulas_dir_replaces_the_bundled_one(tmp_path):
    table = yaml.safe_load((ROOT / "hardware.yaml").read_text())
    table["devices"]["h100-sxm"]["peak_tflops"]["bf16"].update(dense=500, sparse=1000)
    (tmp_path / "hardware.yaml").write_text(yaml.safe_dump(table))
    args = ["mfu", LLAMA, "--hardware", "h100", "--gpus", "8", "--tokens-per-sec", "60000", "--format", "json"]
    bundled = json.loads(run(*args).stdout)
    mine = json.loads(run(*args, "--formulas", tmp_path).stdout)
    assert mine["hardware"]["tflops"] == 500 and bundled["hardware"]["tflops"] == 989
    assert mine["mfu"] == pytest.approx(bundled["mfu"] * 989 / 500)


def test_a_stray_section_is_an_error_naming_the_file(tmp_path):
    (tmp_path / "extra.yaml").write_text("formulae: []\n")
    with pytest.raises(FormulaError, match="extra.yaml: formulae: unknown section .did you mean formulas"):
        data.root([tmp_path]).documents()


def test_a_section_in_two_files_is_an_error(tmp_path):
    (tmp_path / "more_presets.yaml").write_text("presets: []\n")
    with pytest.raises(FormulaError, match="presets: also given in"):
        data.root([tmp_path]).section("presets")


def test_presets_command_lists_the_presets_of_formulas_dir(tmp_path):
    presets = yaml.safe_load((ROOT / "formulas" / "presets.yaml").read_text())
    presets["presets"].append({"name": "mine", "description": "full mask, flash kernel",
                               "reference": {"cite": "dao2023", "where": "§3"},
                               "switches": {"mask": "full", "attention_kernel": "flash"}})
    (tmp_path / "presets.yaml").write_text(yaml.safe_dump(presets))
    bundled = json.loads(run("presets", "--format", "json").stdout)
    mine = json.loads(run("presets", "--formulas", tmp_path, "--format", "json").stdout)
    assert "mine" not in {p["name"] for p in bundled}
    assert mine[-1]["name"] == "mine" and mine[-1]["reference"]["cite"] == "dao2023" and mine[-1]["reference"]["title"]
    text = run("presets", "--formulas", tmp_path).stdout
    assert "mine\n  full mask, flash kernel\n  switches: attention_kernel=flash, mask=full\n" in text  # (safe_dump sorts)


def test_hardware_commands_read_the_hardware_file_of_formulas_dir(tmp_path):
    table = yaml.safe_load((ROOT / "hardware.yaml").read_text())
    table["devices"]["h100-sxm"]["peak_tflops"]["bf16"].update(dense=500, sparse=1000)
    (tmp_path / "hardware.yaml").write_text(yaml.safe_dump(table))
    listed = {d["key"]: d for d in json.loads(run("hardware", "list", "--formulas", tmp_path, "--format", "json").stdout)}
    assert listed["h100-sxm"]["dense_tflops"]["bf16"] == 500
    assert json.loads(run("hardware", "list", "--format", "json").stdout)[0]["dense_tflops"] != {}
    shown = json.loads(run("hardware", "show", "h100", "--formulas", tmp_path, "--format", "json").stdout)
    bundled = json.loads(run("hardware", "show", "h100", "--format", "json").stdout)
    assert json.dumps(shown).count("500") > json.dumps(bundled).count("500")
    assert "500 TFLOP/s" in run("hardware", "show", "h100", "--formulas", tmp_path).stdout
    missing = run("hardware", "list", "--formulas", tmp_path / "nope")
    assert missing.exit_code == 1 and "not a directory of data files" in missing.output


@pytest.mark.parametrize("change, message", [
    ({"reference": {"cite": "nobody2099", "where": "x"}}, "presets[0].reference.cite: unknown reference 'nobody2099'"),
    ({"identities": [{"statement": "s", "training": "2 * n_params", "assumes": {"d_ff": "4 * d_modle"}}]},
     "presets[0].identities[0].assumes.d_ff: unknown name 'd_modle'"),
    ({"identities": [{"statement": "s", "training": "2 * n_params", "assumes": {"mlp": "swiglu"}}]},
     "presets[0].identities[0].assumes.mlp: 'swiglu' (expected one of gated, plain)"),
    ({"identities": [{"statement": "s"}]}, "an identity gives exactly one of training or hardware"),
    ({"switches": {"mask": "diagonal"}}, "presets[0].switches"),
    ({"colour": "red"}, "presets[0].colour: unknown field"),
])
def test_presets_are_checked_at_load(tmp_path, change, message):
    good = {"name": "mine", "description": "d", "reference": {"cite": "vaswani2017", "where": "§3"},
            "switches": {"mask": "full"}}
    (tmp_path / "presets.yaml").write_text(yaml.safe_dump({"presets": [{**good, **change}]}))
    from mfu_sym.conventions import load_presets
    with pytest.raises(FormulaError) as info:
        load_presets(data.root([tmp_path]))
    assert message in str(info.value)
