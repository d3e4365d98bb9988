"""`mfu-sym hardware list` and `show`: every device, the figures with their sources, names
resolved as users type them, and clear errors. Expected figures are from
shared/reference/hardware.md (B200 HGX datasheet: BF16 2.25 PF dense, FP8 4.5 PF dense,
sparse twice that), not from hardware.yaml."""

import json

import pytest
from click.testing import CliRunner

from mfu_sym.cli import main
from mfu_sym.hardware import load_hardware

REG = load_hardware()


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_list_text_has_every_device():
    result = run("hardware", "list")
    assert result.exit_code == 0, result.output
    for device in REG:
        assert device.key in result.stdout
    assert "dense (without sparsity)" in result.stdout
    b200 = next(line for line in result.stdout.splitlines() if line.startswith("b200 "))
    assert "2,250" in b200 and "4,500" in b200 and "9,000" in b200


def test_list_json():
    data = json.loads(run("hardware", "list", "--format", "json").stdout)
    assert [d["key"] for d in data] == list(REG.keys())
    b200 = next(d for d in data if d["key"] == "b200")
    assert b200["dense_tflops"]["bf16"] == 2250 and b200["sparse_tflops"]["bf16"] == 4500
    assert b200["dense_tflops"]["fp8"] == 4500 and b200["sparse_tflops"]["fp8"] == 9000


def test_show_b200_text():
    result = run("hardware", "show", "B200")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("    ") and line.split()}
    assert "2,250 TFLOP/s (2.25 PFLOP/s)" in rows["bf16"] and "4,500 TFLOP/s (4.5 PFLOP/s)" in rows["bf16"]
    assert "4,500 TFLOP/s (4.5 PFLOP/s)" in rows["fp8"] and "9,000 TFLOP/s (9 PFLOP/s)" in rows["fp8"]
    assert "[nv-gb200, tt]" in rows["bf16"]
    assert "nvidia.com/en-us/data-center/gb200-nvl72" in result.stdout       # sources with addresses
    assert "dense (the MFU denominator)" in result.stdout
    assert "torchtitan PR 1201" in result.stdout                             # the notes on disagreements


def test_show_b200_json():
    data = json.loads(run("hardware", "show", "b200", "--format", "json").stdout)
    bf16, fp8 = data["peak_tflops"]["bf16"], data["peak_tflops"]["fp8"]
    assert (bf16["dense_flops"], bf16["sparse_flops"]) == (2.25e15, 4.5e15)
    assert (fp8["dense_flops"], fp8["sparse_flops"]) == (4.5e15, 9e15)
    assert bf16["sources"] == ["nv-gb200", "tt"]
    assert data["sources"]["nv-gb200"]["url"].startswith("https://")


@pytest.mark.parametrize("name, key", [("h100", "h100-sxm"), ("H100_SXM5", "h100-sxm"), ("tpu-v5p", "tpu-v5p"),
                                       ("v4", "tpu-v4"), ("Trillium", "tpu-v6e"), ("a100", "a100-sxm-80gb")])
def test_names_users_type_resolve(name, key):
    data = json.loads(run("hardware", "show", name, "--format", "json").stdout)
    assert data["key"] == key


@pytest.mark.parametrize("key", REG.keys())
def test_show_every_device(key):
    text = run("hardware", "show", key)
    assert text.exit_code == 0, text.output
    data = json.loads(run("hardware", "show", key, "--format", "json").stdout)
    assert data["peak_tflops"] and all(p["sources"] for p in data["peak_tflops"].values())
    for dtype, peak in data["peak_tflops"].items():
        assert dtype in text.stdout
        if peak["sparse_tflops"] is not None:
            assert peak["dense_tflops"] < peak["sparse_tflops"]


@pytest.mark.parametrize("name, message", [
    ("z100", "unknown accelerator 'z100'"),
    ("h10", "ambiguous accelerator 'h10': it could be h100-nvl, h100-pcie, h100-sxm"),
    ("", "no accelerator name given"),
])
def test_bad_names(name, message):
    result = run("hardware", "show", name)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    if name == "z100":
        assert "b200" in result.output and "tpu7x" in result.output           # the choices


def test_help_and_usage():
    result = run("hardware", "--help")
    assert result.exit_code == 0 and "list" in result.output and "show" in result.output
    assert run("hardware", "show").exit_code == 2                               # NAME missing
    assert run("hardware", "list", "--format", "yaml").exit_code == 2
