"""hardware.yaml and its loader: the figures match the project's reference (hardware.md),
every figure is cited, names resolve, and every malformed file is refused by name.

The expected values below are written from shared/reference/hardware.md, not copied from
hardware.yaml, so a typo in either shows up as a failure."""

import json
import math
import subprocess
import sys

import pytest
import yaml

from mfu_sym import paths
from mfu_sym.errors import HardwareError
from mfu_sym.dtypes import load_dtypes
from mfu_sym.hardware import load_hardware

NEVER_SPARSE = tuple(d.name for d in load_dtypes() if d.rate != "storage" and not d.sparse)

REG = load_hardware()

# (device key, dtype, dense TFLOP/s, sparse TFLOP/s or None), from hardware.md B1-B3.
# None means hardware.md gives no with-sparsity figure for that cell.
PEAKS = [
    # A100 SXM 80GB [NV]
    ("a100-sxm-80gb", "fp64", 9.7, None), ("a100-sxm-80gb", "fp64_tensor", 19.5, None),
    ("a100-sxm-80gb", "fp32", 19.5, None), ("a100-sxm-80gb", "tf32", 156, 312),
    ("a100-sxm-80gb", "bf16", 312, 624), ("a100-sxm-80gb", "fp16", 312, 624),
    ("a100-sxm-80gb", "int8", 624, 1248),
    # A100 PCIe 80GB [NV]
    ("a100-pcie-80gb", "fp64", 9.7, None), ("a100-pcie-80gb", "fp64_tensor", 19.5, None),
    ("a100-pcie-80gb", "fp32", 19.5, None), ("a100-pcie-80gb", "tf32", 156, 312),
    ("a100-pcie-80gb", "bf16", 312, 624), ("a100-pcie-80gb", "int8", 624, 1248),
    # A100 40GB (secondary only)
    ("a100-40gb", "bf16", 312, 624),
    # H100 SXM [NV]
    ("h100-sxm", "fp64", 34, None), ("h100-sxm", "fp64_tensor", 67, None), ("h100-sxm", "fp32", 67, None),
    ("h100-sxm", "tf32", 494.5, 989), ("h100-sxm", "bf16", 989, 1979), ("h100-sxm", "fp16", 989, 1979),
    ("h100-sxm", "fp8", 1979, 3958), ("h100-sxm", "int8", 1979, 3958),
    # H100 PCIe [stas], [tt]
    ("h100-pcie", "fp64", 26, None), ("h100-pcie", "fp64_tensor", 51, None), ("h100-pcie", "fp32", 51, None),
    ("h100-pcie", "tf32", 378, 756), ("h100-pcie", "bf16", 756, 1513), ("h100-pcie", "fp8", 1513, 3026),
    ("h100-pcie", "int8", 1513, 3026),
    # H100 NVL [NV]
    ("h100-nvl", "fp64", 30, None), ("h100-nvl", "fp64_tensor", 60, None), ("h100-nvl", "fp32", 60, None),
    ("h100-nvl", "tf32", 417.5, 835), ("h100-nvl", "bf16", 835.5, 1671), ("h100-nvl", "fp8", 1671, 3341),
    ("h100-nvl", "int8", 1671, 3341),
    # H800 (FlashMLA #75, DeepSeek-V3): dense only
    ("h800", "bf16", 989, None),
    # H200 SXM / NVL [NV]
    ("h200-sxm", "fp64", 34, None), ("h200-sxm", "fp64_tensor", 67, None), ("h200-sxm", "fp32", 67, None),
    ("h200-sxm", "tf32", 494.5, 989), ("h200-sxm", "bf16", 989, 1979), ("h200-sxm", "fp8", 1979, 3958),
    ("h200-sxm", "int8", 1979, 3958),
    ("h200-nvl", "fp64", 30, None), ("h200-nvl", "fp64_tensor", 60, None), ("h200-nvl", "fp32", 60, None),
    ("h200-nvl", "tf32", 417.5, 835), ("h200-nvl", "bf16", 835.5, 1671), ("h200-nvl", "fp8", 1671, 3341),
    ("h200-nvl", "int8", 1671, 3341),
    # HGX B200, current datasheet [NV]
    ("b200", "fp64", 37, None), ("b200", "fp64_tensor", 37, None), ("b200", "fp32", 75, None),
    ("b200", "tf32", 1100, 2200), ("b200", "bf16", 2250, 4500), ("b200", "fp16", 2250, 4500),
    ("b200", "fp8", 4500, 9000), ("b200", "fp6", 4500, 9000), ("b200", "fp4", 9000, 18000),
    ("b200", "int8", 4500, 9000),
    # GB200 per GPU [NV]
    ("gb200", "fp64", 40, None), ("gb200", "fp64_tensor", 40, None), ("gb200", "fp32", 80, None),
    ("gb200", "tf32", 1250, 2500), ("gb200", "bf16", 2500, 5000), ("gb200", "fp8", 5000, 10000),
    ("gb200", "fp6", 5000, 10000), ("gb200", "fp4", 10000, 20000), ("gb200", "int8", 5000, 10000),
    # HGX B300 [NV] Blackwell Ultra table; FP4 14 PF dense per the per-GPU row (13.5 from the
    # system row; hardware.yaml keeps the higher per-GPU figure and says why)
    ("b300", "fp64", 1.2, None), ("b300", "fp32", 75, None), ("b300", "tf32", 1100, 2200),
    ("b300", "bf16", 2250, 4500), ("b300", "fp8", 4500, 9000), ("b300", "fp6", 4500, 9000),
    ("b300", "fp4", 14000, 18000), ("b300", "int8", 153.5, 307),
    # GB300 per GPU [NV]
    ("gb300", "fp64", 1.3, None), ("gb300", "fp32", 80, None), ("gb300", "tf32", 1250, 2500),
    ("gb300", "bf16", 2500, 5000), ("gb300", "fp8", 5000, 10000), ("gb300", "fp6", 5000, 10000),
    ("gb300", "fp4", 15000, 20000), ("gb300", "int8", 165, 330),
    # L40S [stas], [tt]
    ("l40s", "fp32", 91.6, None), ("l40s", "tf32", 183, 366), ("l40s", "bf16", 362, 733),
    ("l40s", "fp8", 733, 1466), ("l40s", "int8", 733, 1466),
    # AMD, per OAM package [stas]
    ("mi250x", "fp64", 47.9, None), ("mi250x", "fp64_tensor", 95.7, None), ("mi250x", "fp32", 47.9, None),
    ("mi250x", "bf16", 383, None), ("mi250x", "int8", 383, None),
    ("mi300x", "fp64", 81.7, None), ("mi300x", "fp64_tensor", 163.4, None), ("mi300x", "fp32", 163.4, None),
    ("mi300x", "tf32", 653.7, None), ("mi300x", "bf16", 1307.4, 2614.9), ("mi300x", "fp8", 2614.9, 5229.8),
    ("mi300x", "int8", 2614.9, None),
    ("mi325x", "fp32", 163.4, None), ("mi325x", "tf32", 653.7, None), ("mi325x", "bf16", 1307.4, None),
    ("mi325x", "fp8", 2614.9, None), ("mi325x", "int8", 2614.9, None),
    ("mi355x", "fp64", 78.6, None), ("mi355x", "fp32", 157.3, None), ("mi355x", "bf16", 2500, 5000),
    ("mi355x", "fp8", 5000, 10100), ("mi355x", "fp6", 10100, None), ("mi355x", "fp4", 10100, None),
    ("mi355x", "int8", 5000, None),
    # Google TPU per chip [GCP]
    ("tpu-v4", "bf16", 275, None), ("tpu-v4", "int8", 275, None),
    ("tpu-v5e", "bf16", 197, None), ("tpu-v5e", "int8", 393, None),
    ("tpu-v5p", "bf16", 459, None), ("tpu-v5p", "fp8", 459, None), ("tpu-v5p", "int8", 918, None),
    ("tpu-v6e", "bf16", 918, None), ("tpu-v6e", "fp8", 918, None), ("tpu-v6e", "int8", 1836, None),
    ("tpu7x", "bf16", 2307, None), ("tpu7x", "fp8", 4614, None),
]

# (key, memory bytes, memory bandwidth GB/s, power W or None) from hardware.md
MEMORY = [
    ("a100-sxm-80gb", 80 * 10**9, 2039, 400), ("a100-pcie-80gb", 80 * 10**9, 1935, 300),
    ("a100-40gb", 40 * 10**9, 1555, 400), ("h100-sxm", 80 * 10**9, 3350, 700),
    ("h100-pcie", 80 * 10**9, 2000, 350), ("h100-nvl", 94 * 10**9, 3900, 400),
    ("h800", 80 * 10**9, 3350, 700), ("h200-sxm", 141 * 10**9, 4800, 700),
    ("h200-nvl", 141 * 10**9, 4800, 600), ("b200", 180 * 10**9, 7700, 1000),
    ("gb200", 186 * 10**9, 8000, 1200), ("b300", 270 * 10**9, 7700, 1100),
    ("gb300", 279 * 10**9, 8000, 1400), ("l40s", 48 * 10**9, 864, 350),
    ("mi250x", 128 * 10**9, 3280, 560), ("mi300x", 192 * 10**9, 5300, 750),
    ("mi325x", 256 * 10**9, 6000, 1000), ("mi355x", 288 * 10**9, 8000, 1400),
    ("tpu-v4", 32 * 2**30, 1200, 192), ("tpu-v5e", 16 * 10**9, 819, None),
    ("tpu-v5p", 95 * 2**30, 2765, None), ("tpu-v6e", 32 * 10**9, 1638, None),
    ("tpu7x", 192 * 2**30, 7380, None),
]

# Every accelerator hardware.md lists, by the key hardware.yaml must give it.
ALL_KEYS = sorted({row[0] for row in MEMORY})

# The primary URLs hardware.md gives for its [NV], [stas], [GCP] and [tt] sources.
PRIMARY_URLS = {
    "https://www.nvidia.com/en-us/data-center/a100/", "https://www.nvidia.com/en-us/data-center/h100/",
    "https://www.nvidia.com/en-us/data-center/h200/", "https://www.nvidia.com/en-us/data-center/gb200-nvl72/",
    "https://www.nvidia.com/en-us/data-center/gb300-nvl72/",
    "https://resources.nvidia.com/en-us-blackwell-architecture/blackwell-ultra-datasheet",
    "https://docs.cloud.google.com/tpu/docs/v4", "https://docs.cloud.google.com/tpu/docs/v5e",
    "https://docs.cloud.google.com/tpu/docs/v5p", "https://docs.cloud.google.com/tpu/docs/v6e",
    "https://docs.cloud.google.com/tpu/docs/tpu7x",
}


# ------------------------------------------------------------------ the facts

# Parts added from hardware.md's "parts still to add" and frontier-architectures.md section 9
# (their figures are checked in test_hardware_names.py).
ADDED_KEYS = ["gaudi3", "gh200", "h20", "l4", "mi350x", "trainium2", "trainium3", "v100-sxm2-16gb",
              "v100-sxm2-32gb"]


def test_every_accelerator_in_the_reference_is_listed():
    assert sorted(REG.keys()) == sorted(ALL_KEYS + ADDED_KEYS)


def test_headline_peaks():
    assert REG.resolve("b200").peak_flops("bf16") == 2.25e15
    assert REG.resolve("b200").peak_flops("fp8") == 4.5e15
    assert REG.resolve("tpu-v4").peak_flops("bf16") == 275e12
    assert REG.resolve("a100").peak_flops("bf16") == 312e12
    # NVIDIA's printed dense figure and torchtitan's 989e12, not the derived 989.4
    assert REG.resolve("h100").peak_flops("bf16") == 989e12


@pytest.mark.parametrize("key, dtype, dense, sparse", PEAKS, ids=[f"{k}-{d}" for k, d, _, _ in PEAKS])
def test_peak_matches_reference(key, dtype, dense, sparse):
    device = REG.resolve(key)
    assert device.peak_flops(dtype) == pytest.approx(dense * 1e12, rel=1e-12)
    if sparse is None:
        assert dtype not in device.sparse_dtypes
    else:
        assert device.peak_flops(dtype, sparse=True) == pytest.approx(sparse * 1e12, rel=1e-12)


def test_peak_is_the_decimal_value_exactly():
    # 1307.4e12 as a Python literal is the float nearest the decimal; no multiply error
    assert REG.resolve("mi300x").peak_flops("bf16") == 1307.4e12
    assert REG.resolve("b300").peak_flops("int8") == 153.5e12
    assert isinstance(REG.resolve("h100").peak_flops("bf16"), float)


@pytest.mark.parametrize("key, nbytes, bandwidth, power", MEMORY, ids=[m[0] for m in MEMORY])
def test_memory_bandwidth_power_match_reference(key, nbytes, bandwidth, power):
    device = REG.resolve(key)
    assert device.memory_bytes == nbytes
    assert device.bandwidth.value == bandwidth
    assert device.bandwidth_bytes_per_s == bandwidth * 1e9
    if power is None:
        assert device.power is None
    else:
        assert device.power.value == power


def test_disputed_figures_take_the_documented_choice():
    b200, b300, h100, v5e = (REG.resolve(n) for n in ("b200", "b300", "h100-sxm", "tpu-v5e"))
    assert (b200.memory.value, b200.memory.unit, b200.bandwidth.value) == (180, "GB", 7700)
    assert any("192 GB" in n for n in b200.notes) and any("8 TB/s" in n for n in b200.notes)
    assert h100.bandwidth.value == 3350 and any("3 TB/s" in n for n in h100.notes)
    assert any("989.4" in n for n in h100.notes)
    assert b300.peak_flops("fp4") == 14e15 and any("13.5" in n for n in b300.notes)
    assert v5e.bandwidth.value == 819 and any("800 GiBps" in n for n in v5e.notes)


def test_fp16_equals_bf16_wherever_both_exist():
    for device in REG:
        if "bf16" in device.dtypes and "fp16" in device.dtypes:
            p16, pb = device.peak("fp16"), device.peak("bf16")
            assert (p16.dense_tflops, p16.sparse_tflops) == (pb.dense_tflops, pb.sparse_tflops), device.key


def test_dtypes_a_device_lacks_are_absent():
    assert not {"fp8", "fp6", "fp4"} & set(REG.resolve("a100").dtypes)
    assert not {"fp6", "fp4"} & set(REG.resolve("h100").dtypes)
    assert "fp64" not in REG.resolve("l40s").dtypes          # not published
    assert "fp64" not in REG.resolve("h800").dtypes          # cut on H800, no figure
    for key in ("tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e", "tpu7x"):
        assert not {"fp16", "fp32", "fp64"} & set(REG.resolve(key).dtypes), key


# ------------------------------------------------------------------ dense vs sparse

# hardware.md prints a with-sparsity figure that is not 2x dense only for Blackwell Ultra FP4
NOT_TWICE = {("b300", "fp4"), ("gb300", "fp4")}


@pytest.mark.parametrize("key, dtype, dense, sparse", [p for p in PEAKS if p[3] is not None],
                         ids=[f"{k}-{d}" for k, d, _, s in PEAKS if s is not None])
def test_dense_is_half_of_sparse_where_both_are_published(key, dtype, dense, sparse):
    peak = REG.resolve(key).peak(dtype)
    if (key, dtype) in NOT_TWICE:
        assert peak.sparse_tflops < 1.5 * peak.dense_tflops
    else:
        # equal up to the vendor's rounding: H100 989 | 1,979; L40S 362 | 733 is the widest
        assert peak.sparse_tflops == pytest.approx(2 * peak.dense_tflops, rel=0.015)


def test_every_sparse_figure_in_the_file_is_about_twice_dense():
    for device in REG:
        for peak in device.peaks:
            if peak.has_sparse and (device.key, peak.dtype) not in NOT_TWICE:
                assert peak.sparse_tflops == pytest.approx(2 * peak.dense_tflops, rel=0.015), device.key


def test_fp64_and_fp32_are_never_sparse():
    for device in REG:
        assert not set(device.sparse_dtypes) & set(NEVER_SPARSE), device.key


# ------------------------------------------------------------------ sources

def test_every_figure_has_a_source():
    for device in REG:
        figures = list(device.peaks) + [device.memory, device.bandwidth, device.interconnect]
        figures += [device.power] if device.power else []
        for figure in figures:
            assert figure.sources, device.key
            assert all(s.title for s in figure.sources)
        for dtype in device.dtypes:
            assert device.source_for(dtype) == device.peak(dtype).sources


def test_primary_sources_carry_the_reference_urls():
    urls = {s.url for s in REG.sources}
    assert PRIMARY_URLS <= urls
    by_key = {s.key: s for s in REG.sources}
    assert by_key["stas"].url.startswith("https://github.com/stas00/ml-engineering/")
    assert "744d01e" in by_key["stas"].url
    assert by_key["tt"].url.startswith("https://github.com/pytorch/torchtitan/")
    assert "b5bcd76" in by_key["tt"].url and "get_peak_flops" in by_key["tt"].title


def test_torchtitan_is_cited_for_the_bf16_peaks_it_uses():
    # [tt]: A100, H100 SXM/PCIe/NVL, H200, B200, B300, GB200, GB300, L40S, MI250X, MI300X, MI325X, MI355X
    for key in ("a100", "h100-sxm", "h100-pcie", "h100-nvl", "h200", "b200", "b300", "gb200", "gb300",
                "l40s", "mi250x", "mi300x", "mi325x", "mi355x"):
        assert "tt" in [s.key for s in REG.resolve(key).source_for("bf16")], key


def test_source_for_names_the_cited_sources():
    keys = [s.key for s in REG.resolve("b200").source_for("bf16")]
    assert "nv-gb200" in keys and "tt" in keys
    assert [s.key for s in REG.resolve("tpu-v4").source_for("bf16")] == ["gcp-v4"]
    assert REG.resolve("b200").source_for("memory")
    assert REG.resolve("b200").source_for("bfloat16") == REG.resolve("b200").source_for("bf16")


def test_source_for_a_missing_figure_is_an_error():
    with pytest.raises(HardwareError, match="no power figure"):
        REG.resolve("tpu-v5e").source_for("power")
    with pytest.raises(HardwareError, match="no fp8 peak"):
        REG.resolve("a100").source_for("fp8")


def test_unconfirmed_figures_are_flagged():
    assert REG.resolve("a100-40gb").peak("bf16").unconfirmed
    assert REG.resolve("a100-40gb").memory.unconfirmed
    assert REG.resolve("h100-pcie").peak("fp64").unconfirmed
    assert not REG.resolve("h100-pcie").peak("bf16").unconfirmed
    assert REG.resolve("h800").interconnect.unconfirmed and REG.resolve("h800").power.unconfirmed
    assert not REG.resolve("h800").peak("bf16").unconfirmed
    assert REG.resolve("mi300x").peak("fp64").unconfirmed and REG.resolve("mi300x").interconnect.unconfirmed
    assert REG.resolve("mi250x").interconnect.unconfirmed
    assert not REG.resolve("h100-sxm").peak("bf16").unconfirmed
    # a figure citing only the secondary catch-all is always flagged
    for device in REG:
        for figure in list(device.peaks) + [device.memory, device.bandwidth, device.interconnect, device.power]:
            if figure is not None and [s.key for s in figure.sources] == ["secondary"]:
                assert figure.unconfirmed, device.key


# ------------------------------------------------------------------ names

@pytest.mark.parametrize("name, key", [
    ("b200", "b200"), ("h100", "h100-sxm"), ("tpu-v5p", "tpu-v5p"), ("v5p", "tpu-v5p"), ("v4", "tpu-v4"),
    ("mi300x", "mi300x"), ("a100", "a100-sxm-80gb"), ("h200", "h200-sxm"), ("tpu7x", "tpu7x"),
    ("ironwood", "tpu7x"), ("trillium", "tpu-v6e"), ("gb200-nvl72", "gb200"),
    ("H100", "h100-sxm"), ("  TPU-V5P ", "tpu-v5p"), ("h100_sxm", "h100-sxm"), ("GB200 NVL72", "gb200"),
    ("MI300X", "mi300x"), ("h100-sxm", "h100-sxm"),
])
def test_resolve_keys_and_aliases(name, key):
    assert REG.resolve(name).key == key
    assert name in REG


def test_every_name_belongs_to_one_device():
    from mfu_sym.devices import _normalize
    names = [n for d in REG for n in (d.key,) + d.aliases + tuple(_normalize(r) for r in d.reports)]
    assert len(names) == len(set(names)) == len(REG.names())


def test_unknown_name_lists_the_choices_and_a_suggestion():
    with pytest.raises(HardwareError) as err:
        REG.resolve("h1000")
    text = str(err.value)
    assert text.startswith(f"{REG.path}: accelerator: unknown accelerator 'h1000'")
    assert "did you mean 'h100' (h100-sxm)" in text
    for key in ALL_KEYS:
        assert key in text


def test_unknown_name_without_a_close_match_still_lists_choices():
    with pytest.raises(HardwareError, match=r"unknown accelerator 'quantum-9000' \(expected one of: .*b200"):
        REG.resolve("quantum-9000")


@pytest.mark.parametrize("name, candidates", [
    ("h100-", ["h100-nvl", "h100-pcie", "h100-sxm"]),
    ("mi3", ["mi300x", "mi325x", "mi355x"]),
    ("tpu-v", ["tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e", "tpu7x"]),  # "TPU v5" is what JAX calls a v5p
])
def test_ambiguous_name_lists_the_candidates(name, candidates):
    with pytest.raises(HardwareError, match="ambiguous accelerator") as err:
        REG.resolve(name)
    for key in candidates:
        assert key in str(err.value)


@pytest.mark.parametrize("name", ["", "   ", None])
def test_empty_name_is_an_error(name):
    with pytest.raises(HardwareError, match="no accelerator name given"):
        REG.resolve(name)


# ------------------------------------------------------------------ dtype lookups

@pytest.mark.parametrize("key, dtype", [("a100", "fp8"), ("h100", "fp4"), ("tpu-v4", "fp16"), ("l40s", "fp64")])
def test_dtype_the_device_lacks_is_an_error(key, dtype):
    device = REG.resolve(key)
    with pytest.raises(HardwareError) as err:
        device.peak_flops(dtype)
    text = str(err.value)
    assert f"has no {dtype} peak" in text
    assert f"devices.{device.key}.peak_tflops" in text
    assert "bf16" in text                    # lists what it does have


def test_unknown_dtype_is_an_error():
    with pytest.raises(HardwareError, match=r"unknown dtype 'fp12' \(expected one of: fp64, .*int8"):
        REG.resolve("h100").peak_flops("fp12")


@pytest.mark.parametrize("spelling", ["bfloat16", "BF16", " bf16 "])
def test_dtype_spellings(spelling):
    assert REG.resolve("h100").peak_flops(spelling) == 989e12


@pytest.mark.parametrize("key, dtype", [("a100", "fp32"), ("h100", "fp64"), ("tpu-v4", "bf16"),
                                        ("h800", "bf16"), ("mi355x", "fp4"), ("mi325x", "bf16")])
def test_sparse_where_not_published_is_an_error(key, dtype):
    with pytest.raises(HardwareError, match=f"no sparse {dtype} figure"):
        REG.resolve(key).peak_flops(dtype, sparse=True)


def test_sparse_error_lists_what_exists():
    with pytest.raises(HardwareError, match=r"sparse figures exist for: tf32, bf16, fp16, int8"):
        REG.resolve("a100").peak_flops("fp32", sparse=True)
    with pytest.raises(HardwareError, match=r"has no published sparse figures"):
        REG.resolve("tpu-v4").peak_flops("bf16", sparse=True)


# ------------------------------------------------------------------ dicts, paths, imports

def test_to_dict_is_json():
    data = json.loads(json.dumps(REG.resolve("b200").to_dict()))
    assert data["key"] == "b200"
    assert data["peak_tflops"]["bf16"]["dense_flops"] == 2.25e15
    assert data["peak_tflops"]["bf16"]["sparse_flops"] == 4.5e15
    assert "tt" in data["sources"] and data["sources"]["tt"]["url"]
    assert data["memory"]["bytes"] == 180 * 10**9
    json.dumps(REG.to_dict())


def test_records_are_frozen():
    device = REG.resolve("h100")
    with pytest.raises(AttributeError):
        device.name = "other"
    with pytest.raises(AttributeError):
        device.peak("bf16").dense_tflops = 1


def test_default_path_is_the_checkout_file():
    path = paths.data_path("hardware.yaml")
    assert path.is_file()
    assert REG.path == str(path)


def test_data_path_prefers_the_installed_copy(tmp_path, monkeypatch):
    package = tmp_path / "site" / "mfu_sym"
    (package / "bundled").mkdir(parents=True)
    (package / "bundled" / "hardware.yaml").write_text("x")
    (tmp_path / "site" / "formulas").mkdir()
    monkeypatch.setattr(paths, "_PACKAGE", package)
    assert paths.data_path("hardware.yaml") == package / "bundled" / "hardware.yaml"
    assert paths.data_path("formulas") == tmp_path / "site" / "formulas"


def test_loading_hardware_does_not_import_sympy():
    code = "import sys, mfu_sym.hardware as h; h.load_hardware(); print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------ loader errors

def minimal():
    """A small valid document; each error test breaks one thing in it."""
    def device(name, alias):
        return {
            "name": name, "vendor": "nvidia", "aliases": [alias],
            "peak_tflops": {"fp32": {"dense": 10, "source": ["nv"]},
                            "bf16": {"dense": 100, "sparse": 200, "source": ["nv"]}},
            "memory": {"gb": 80, "type": "HBM3", "source": ["nv"]},
            "bandwidth": {"gb_s": 3000, "source": ["nv"]},
            "interconnect": {"name": "NVLink", "gb_s": 900, "source": ["nv"]},
            "power": {"w": 700, "source": ["nv"]},
            "notes": ["a note"],
        }
    return {
        "version": 2,
        "references": [{"key": "nv", "authors": "Vendor", "title": "Vendor page", "url": "https://example.com/gpu"},
                       {"key": "other", "authors": "Someone", "title": "Other page", "note": "printed"}],
        "devices": {"gpu-a": device("GPU A", "a"), "gpu-b": device("GPU B", "b")},
    }


def write(tmp_path, doc):
    path = tmp_path / "hw.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def load_error(tmp_path, doc):
    path = write(tmp_path, doc)
    with pytest.raises(HardwareError) as err:
        load_hardware(path)
    return path, str(err.value)


def test_minimal_document_loads(tmp_path):
    reg = load_hardware(write(tmp_path, minimal()))
    assert reg.keys() == ("gpu-a", "gpu-b")
    assert reg.resolve("A").peak_flops("bf16", sparse=True) == 200e12


def _set(path, value):
    def edit(doc):
        *parents, last = path
        target = doc
        for p in parents:
            target = target[p]
        target[last] = value
    return edit


def _del(path):
    def edit(doc):
        *parents, last = path
        target = doc
        for p in parents:
            target = target[p]
        del target[last]
    return edit


A = ("devices", "gpu-a")
BF16 = A + ("peak_tflops", "bf16")
CASES = {
    # name: (edit, field in the message, text in the message)
    "missing-version": (_del(("version",)), "version", "missing"),
    "bad-version": (_set(("version",), 1), "version", "unsupported version 1 (expected 2)"),
    "bool-version": (_set(("version",), True), "version", "unsupported version True"),
    "unknown-top-field": (_set(("extra",), 1), "extra", "unknown field"),
    "missing-devices": (_del(("devices",)), "devices", "missing"),
    "references-is-mapping": (_set(("references",), {"nv": {}}), "references", "expected a list, got a mapping"),
    "reference-without-title": (_del(("references", 0, "title")), "references[0].title", "missing"),
    "reference-bad-url": (_set(("references", 0, "url"), "ftp://x"), "references[0].url", "not a web address"),
    "reference-bad-key": (_set(("references", 0, "key"), "NV!"), "references[0].key", "is not a citation key"),
    "reference-nowhere": (_del(("references", 1, "note")), "references[1].arxiv", "needs an arxiv id, a url"),
    "reference-twice": (_set(("references", 1, "key"), "nv"), "references[1].key", "duplicate reference 'nv'"),
    "reference-shadows-bibliography": (_set(("references", 1, "key"), "vaswani2017"), "references[1].key",
                                       "duplicate reference 'vaswani2017'"),
    "devices-is-list": (_set(("devices",), ["gpu-a"]), "devices", "expected a mapping of device key"),
    "no-devices": (_set(("devices",), {}), "devices", "no devices"),
    "device-is-list": (_set(A, ["x"]), "devices.gpu-a", "expected a mapping, got a list"),
    "bad-device-key": (_set(("devices", "GPU C"), {}), "devices.GPU C", "bad device key"),
    "unknown-device-field": (_set(A + ("colour",), "red"), "devices.gpu-a.colour", "unknown field"),
    "missing-name": (_del(A + ("name",)), "devices.gpu-a.name", "missing"),
    "missing-vendor": (_del(A + ("vendor",)), "devices.gpu-a.vendor", "missing"),
    "missing-peaks": (_del(A + ("peak_tflops",)), "devices.gpu-a.peak_tflops", "missing"),
    "missing-memory": (_del(A + ("memory",)), "devices.gpu-a.memory", "missing"),
    "missing-bandwidth": (_del(A + ("bandwidth",)), "devices.gpu-a.bandwidth", "missing"),
    "missing-interconnect": (_del(A + ("interconnect",)), "devices.gpu-a.interconnect", "missing"),
    "empty-name": (_set(A + ("name",), " "), "devices.gpu-a.name", "empty (expected text)"),
    "bad-vendor": (_set(A + ("vendor",), "NVIDIA"), "devices.gpu-a.vendor", "bad vendor"),
    "peaks-is-list": (_set(A + ("peak_tflops",), [1]), "devices.gpu-a.peak_tflops", "expected a mapping"),
    "no-peaks": (_set(A + ("peak_tflops",), {}), "devices.gpu-a.peak_tflops", "no peaks"),
    "unknown-dtype": (_set(A + ("peak_tflops", "bf32"), {"dense": 1, "source": ["nv"]}),
                      "devices.gpu-a.peak_tflops.bf32", "unknown dtype 'bf32'"),
    "storage-only-dtype": (_set(A + ("peak_tflops", "int4"), {"dense": 1, "source": ["nv"]}),
                           "devices.gpu-a.peak_tflops.int4", "unknown dtype 'int4'"),
    "negative-peak": (_set(BF16 + ("dense",), -100), "devices.gpu-a.peak_tflops.bf16.dense", "out of range"),
    "zero-peak": (_set(BF16 + ("dense",), 0), "devices.gpu-a.peak_tflops.bf16.dense", "out of range"),
    "string-peak": (_set(BF16 + ("dense",), "100"), "devices.gpu-a.peak_tflops.bf16.dense",
                    "'100' is not a finite number"),
    "bool-peak": (_set(BF16 + ("dense",), True), "devices.gpu-a.peak_tflops.bf16.dense",
                  "True is not a finite number"),
    "inf-peak": (_set(BF16 + ("dense",), math.inf), "devices.gpu-a.peak_tflops.bf16.dense", "not a finite number"),
    "nan-peak": (_set(BF16 + ("dense",), math.nan), "devices.gpu-a.peak_tflops.bf16.dense", "not a finite number"),
    "missing-dense": (_del(BF16 + ("dense",)), "devices.gpu-a.peak_tflops.bf16.dense", "missing"),
    "unknown-peak-field": (_set(BF16 + ("boost",), 1), "devices.gpu-a.peak_tflops.bf16.boost", "unknown field"),
    "negative-sparse": (_set(BF16 + ("sparse",), -1), "devices.gpu-a.peak_tflops.bf16.sparse", "out of range"),
    "sparse-on-fp32": (_set(A + ("peak_tflops", "fp32", "sparse"), 20), "devices.gpu-a.peak_tflops.fp32.sparse",
                       "fp32 has no sparse figure"),
    "sparse-not-above-dense": (_set(BF16 + ("sparse",), 100), "devices.gpu-a.peak_tflops.bf16.sparse",
                               "expected dense < sparse <= 2 x dense"),
    "sparse-above-twice-dense": (_set(BF16 + ("sparse",), 250), "devices.gpu-a.peak_tflops.bf16.sparse",
                                 "expected dense < sparse <= 2 x dense"),
    "missing-source": (_del(BF16 + ("source",)), "devices.gpu-a.peak_tflops.bf16.source", "missing"),
    "empty-source": (_set(BF16 + ("source",), []), "devices.gpu-a.peak_tflops.bf16.source",
                     "every figure needs a source"),
    "unknown-source": (_set(BF16 + ("source",), ["nx"]), "devices.gpu-a.peak_tflops.bf16.source",
                       "unknown source 'nx'"),
    "source-cited-twice": (_set(BF16 + ("source",), ["nv", "nv"]), "devices.gpu-a.peak_tflops.bf16.source",
                           "cited twice"),
    "unconfirmed-not-bool": (_set(BF16 + ("unconfirmed",), "yes"), "devices.gpu-a.peak_tflops.bf16.unconfirmed",
                             "is not true or false"),
    "detail-not-text": (_set(BF16 + ("detail",), 5), "devices.gpu-a.peak_tflops.bf16.detail", "5 is not text"),
    "memory-gb-and-gib": (_set(A + ("memory", "gib"), 80), "devices.gpu-a.memory", "exactly one of gb: or gib:"),
    "memory-no-capacity": (_del(A + ("memory", "gb")), "devices.gpu-a.memory", "exactly one of gb: or gib:"),
    "memory-negative": (_set(A + ("memory", "gb"), -80), "devices.gpu-a.memory.gb", "out of range"),
    "memory-no-source": (_del(A + ("memory", "source")), "devices.gpu-a.memory.source", "missing"),
    "bandwidth-negative": (_set(A + ("bandwidth", "gb_s"), -1), "devices.gpu-a.bandwidth.gb_s", "out of range"),
    "bandwidth-unknown-source": (_set(A + ("bandwidth", "source"), ["zz"]), "devices.gpu-a.bandwidth.source",
                                 "unknown source 'zz'"),
    "interconnect-no-name": (_del(A + ("interconnect", "name")), "devices.gpu-a.interconnect.name", "missing"),
    "power-string": (_set(A + ("power", "w"), "700 W"), "devices.gpu-a.power.w", "'700 W' is not a finite number"),
    "power-no-source": (_del(A + ("power", "source")), "devices.gpu-a.power.source", "missing"),
    "notes-not-list": (_set(A + ("notes",), "a note"), "devices.gpu-a.notes", "expected a list"),
    "note-empty": (_set(A + ("notes",), [""]), "devices.gpu-a.notes[0]", "is not text"),
    "aliases-not-list": (_set(A + ("aliases",), "a"), "devices.gpu-a.aliases", "expected a list"),
    "alias-uppercase": (_set(A + ("aliases",), ["GPU-A"]), "devices.gpu-a.aliases[0]", "bad alias 'GPU-A'"),
    "alias-not-text": (_set(A + ("aliases",), [100]), "devices.gpu-a.aliases[0]", "bad alias 100"),
    "alias-of-two-devices": (_set(("devices", "gpu-b", "aliases"), ["a"]), "devices.gpu-b.aliases[0]",
                             "alias 'a' already names device 'gpu-a'"),
    "alias-is-other-key": (_set(A + ("aliases",), ["gpu-b"]), "devices.gpu-a.aliases[0]",
                           "alias 'gpu-b' already names device 'gpu-b'"),
    "alias-twice": (_set(A + ("aliases",), ["a", "a"]), "devices.gpu-a.aliases[1]", "repeats a name of this device"),
    "alias-is-own-key": (_set(A + ("aliases",), ["gpu-a"]), "devices.gpu-a.aliases[0]",
                         "repeats a name of this device"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_loader_error(tmp_path, case):
    edit, field, text = CASES[case]
    doc = minimal()
    edit(doc)
    path, message = load_error(tmp_path, doc)
    assert message.startswith(f"{path}: {field}: "), message
    assert text in message, message


def test_yaml_syntax_error_names_the_file_and_line(tmp_path):
    path, message = load_error(tmp_path, "version: 1\ndevices: [a, b\nsources: {}\n")
    assert message.startswith(f"{path}: invalid YAML at line ")


def test_python_tag_is_refused_not_run(tmp_path):
    marker = tmp_path / "ran"
    path, message = load_error(tmp_path, f'version: !!python/object/apply:os.system ["touch {marker}"]\n')
    assert message.startswith(f"{path}: invalid YAML")
    assert "python/object" in message
    assert not marker.exists()


def test_python_object_tag_is_refused(tmp_path):
    path, message = load_error(tmp_path, "devices: !!python/object:collections.OrderedDict {}\n")
    assert message.startswith(f"{path}: invalid YAML")


@pytest.mark.parametrize("text, kind", [("- a\n- b\n", "a list"), ("just text\n", "text"), ("42\n", "a number")])
def test_top_level_must_be_a_mapping(tmp_path, text, kind):
    path, message = load_error(tmp_path, text)
    assert message.startswith(f"{path}: expected a mapping with version, references and devices, got {kind}")


def test_empty_file(tmp_path):
    path, message = load_error(tmp_path, "")
    assert message == f"{path}: empty file (expected a mapping with version, references and devices)"


def test_missing_file(tmp_path):
    with pytest.raises(HardwareError, match="no such file") as err:
        load_hardware(tmp_path / "absent.yaml")
    assert str(err.value).startswith(str(tmp_path / "absent.yaml"))


def test_gib_memory_converts_exactly(tmp_path):
    doc = minimal()
    doc["devices"]["gpu-a"]["memory"] = {"gib": 95, "source": ["nv"]}
    device = load_hardware(write(tmp_path, doc)).resolve("gpu-a")
    assert device.memory_bytes == 95 * 2**30
    assert (device.memory.value, device.memory.unit) == (95, "GiB")
