"""Accelerator names as users have them (torch / nvidia-smi / rocm-smi strings, cloud
instance types), `--hardware auto`, and the parts added for issue 17.

Expected keys and figures are typed in from outside the engine: the device strings from the
threads cited next to each row, the figures from shared/reference/hardware.md and
frontier-architectures.md section 9 (vendor pages they cite), never from hardware.yaml.
"""

import json
import subprocess
import sys
import types

import pytest
import yaml
from click.testing import CliRunner

from mfu_sym import detect as det
from mfu_sym.cli import main
from mfu_sym.errors import HardwareError
from mfu_sym.hardware import load_hardware

REG = load_hardware()


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# ------------------------------------------------------------------ reported names

# (what torch.cuda.get_device_name() / nvidia-smi --query-gpu=name / rocm-smi print, key)
REPORTED = [
    ("NVIDIA H100 80GB HBM3", "h100-sxm"),     # pytorch/test-infra PR 7631 (nvidia-smi == torch)
    ("NVIDIA B200", "b200"),                   # pytorch/test-infra PR 7631
    ("NVIDIA A100-SXM4-40GB", "a100-40gb"),    # mosaicml/composer PR 2265 (torch example output)
    ("NVIDIA B300 SXM6 AC", "b300"),           # NVIDIA/cosmos-framework PR 114
    ("NVIDIA GB300", "gb300"),                 # pytorch/pytorch PR 196944
    # the strings hardware.md's "parts still to add" lists
    ("NVIDIA H100 PCIe", "h100-pcie"),
    ("NVIDIA A100-SXM4-80GB", "a100-sxm-80gb"),
    ("NVIDIA GB200", "gb200"),
    ("NVIDIA H200", "h200-sxm"),
    ("NVIDIA GH200 480GB", "gh200"),
    ("NVIDIA L40S", "l40s"),
    ("AMD Instinct MI300X", "mi300x"),
    # the issue's list and the other parts' names
    ("NVIDIA H100 NVL", "h100-nvl"),
    ("NVIDIA A100 80GB PCIe", "a100-pcie-80gb"),
    ("NVIDIA A100-PCIE-40GB", "a100-40gb"),
    ("NVIDIA H200 NVL", "h200-nvl"),
    ("NVIDIA H800", "h800"),
    ("NVIDIA H20", "h20"),
    ("NVIDIA L4", "l4"),
    ("Tesla V100-SXM2-16GB", "v100-sxm2-16gb"),
    ("Tesla V100-SXM2-32GB", "v100-sxm2-32gb"),
    ("AMD Instinct MI250X", "mi250x"),
    ("AMD Instinct MI250X/MI250", "mi250x"),
    ("AMD Instinct MI325X", "mi325x"),
    ("AMD Instinct MI350X", "mi350x"),
    # jax.devices()[0].device_kind (jax-ml/jax jax/_src/pallas/mosaic/tpu_info.py,
    # chip_version_from_device_kind) and habana_frameworks' torch.hpu.get_device_name()
    # (intel/neural-compressor test_hpu_utils.py)
    ("TPU v4", "tpu-v4"),
    ("TPU v5 lite", "tpu-v5e"),
    ("TPU v5e", "tpu-v5e"),
    ("TPU v5", "tpu-v5p"),                     # not v5e: "TPU v5 lite" is the e
    ("TPU v5p", "tpu-v5p"),
    ("TPU v6 lite", "tpu-v6e"),
    ("TPU v6e", "tpu-v6e"),
    ("TPU7x", "tpu7x"),
    ("GAUDI3", "gaudi3"),
    ("AMD Instinct MI355X", "mi355x"),
]


@pytest.mark.parametrize("name, key", REPORTED, ids=[n for n, _ in REPORTED])
def test_reported_names_resolve_to_their_part(name, key):
    assert REG.resolve(name).key == key
    assert name in REG


@pytest.mark.parametrize("name, key", [
    ("nvidia h100 80gb hbm3", "h100-sxm"), ("  NVIDIA  H100   80GB HBM3 ", "h100-sxm"),
    ("NVIDIA_H100_80GB_HBM3", "h100-sxm"), ("nvidia-h100-80gb-hbm3", "h100-sxm"),
    ("amd instinct mi300x", "mi300x"),
])
def test_reported_names_match_in_any_case_and_spacing(name, key):
    assert REG.resolve(name).key == key


def test_gb200_never_resolves_to_b200():
    for name in ("NVIDIA GB200", "nvidia gb200", "GB200", "gb200-nvl72", "GB200 NVL4"):
        device = REG.resolve(name)
        assert device.key == "gb200" and device.key != "b200", name
    # and GB200 is a different peak: 2.5 PF BF16 dense per GPU vs HGX B200 2.25 PF [NV]
    assert REG.resolve("NVIDIA GB200").peak_flops("bf16") == 2.5e15
    assert REG.resolve("NVIDIA B200").peak_flops("bf16") == 2.25e15
    # no B200-family name is a prefix match for GB200 or the other way round
    assert REG.resolve("NVIDIA B200").key == "b200"
    assert REG.resolve("NVIDIA GB300").key == "gb300" and REG.resolve("NVIDIA B300 SXM6 AC").key == "b300"


def test_every_part_with_a_torch_name_has_one():
    # every NVIDIA / AMD part a CUDA or ROCm torch can see reports at least one name
    for device in REG:
        if device.vendor in ("nvidia", "amd"):
            assert device.reports, device.key


def test_every_reported_name_belongs_to_one_device():
    from mfu_sym.devices import _normalize
    seen = {}
    for device in REG:
        for name in (device.key,) + device.aliases + tuple(_normalize(r) for r in device.reports):
            assert name not in seen, (name, seen.get(name), device.key)
            seen[name] = device.key


# ------------------------------------------------------------------ cloud instance types

INSTANCES = [
    # AWS EC2 accelerated instance types (aws.amazon.com/ec2/instance-types/)
    ("p5.48xlarge", "h100-sxm"), ("p5e.48xlarge", "h200-sxm"), ("p5en.48xlarge", "h200-sxm"),
    ("p6-b200.48xlarge", "b200"), ("p4d.24xlarge", "a100-40gb"), ("p4de.24xlarge", "a100-sxm-80gb"),
    ("trn2.48xlarge", "trainium2"),
    # GCP machine types (cloud.google.com/compute/docs/gpus)
    ("a3-highgpu-8g", "h100-sxm"), ("a3-megagpu-8g", "h100-sxm"), ("a3-ultragpu-8g", "h200-sxm"),
    ("a4-highgpu-8g", "b200"), ("a2-ultragpu-8g", "a100-sxm-80gb"), ("a2-highgpu-8g", "a100-40gb"),
    # Azure ND family (learn.microsoft.com .../nd-family)
    ("Standard_ND96isr_H100_v5", "h100-sxm"), ("ND H100 v5", "h100-sxm"),
    ("Standard_ND96isr_H200_v5", "h200-sxm"), ("Standard_ND96isr_MI300X_v5", "mi300x"),
    ("ND MI300X v5", "mi300x"),
]


@pytest.mark.parametrize("name, key", INSTANCES, ids=[n for n, _ in INSTANCES])
def test_instance_types_name_their_device(name, key):
    assert REG.resolve(name).key == key


def test_instance_type_does_not_set_the_device_count(tmp_path):
    # --gpus stays the total: p5.48xlarge with --gpus 16 divides by 16 H100 peaks, as h100 does
    from pathlib import Path
    llama = str(Path(__file__).resolve().parents[1] / "examples" / "llama3_8b.yaml")
    args = ["mfu", llama, "--gpus", "16", "--tokens-per-sec", "60000", "--format", "json"]
    by_instance = json.loads(run(*args, "--hardware", "p5.48xlarge").stdout)
    by_part = json.loads(run(*args, "--hardware", "h100").stdout)
    assert by_instance["mfu"] == by_part["mfu"]
    assert by_instance["hardware"]["tflops"] == 989


# ------------------------------------------------------------------ unknown and ambiguous

@pytest.mark.parametrize("name, close", [
    ("NVIDIA GB2000", "gb200"),                 # a typo: named, not guessed
    ("NVIDIA H100 80GB HBM", "h100-sxm"),       # a prefix of one name only: suggested, not taken
    ("Tesla V100-SXM2-64GB", "v100-sxm2"),
])
def test_unknown_reported_name_is_an_error_naming_close_matches(name, close):
    with pytest.raises(HardwareError) as err:
        REG.resolve(name)
    text = str(err.value)
    assert f"unknown accelerator {name!r}" in text and "did you mean" in text and close in text


@pytest.mark.parametrize("name", ["NVIDIA GeForce RTX 4090", "NVIDIA A10G", "NVIDIA GeForce RTX 5090"])
def test_parts_not_in_the_table_are_refused(name):
    with pytest.raises(HardwareError, match=f"unknown accelerator {name!r}"):
        REG.resolve(name)


@pytest.mark.parametrize("name, candidates", [
    ("NVIDIA H100", ["h100-nvl", "h100-pcie", "h100-sxm"]),
    ("NVIDIA H200", None),                      # a whole name: no ambiguity with "NVIDIA H200 NVL"
    ("AMD Instinct MI3", ["mi300x", "mi325x", "mi350x", "mi355x"]),
    ("Tesla V100", ["v100-sxm2-16gb", "v100-sxm2-32gb"]),
])
def test_a_prefix_of_several_names_is_ambiguous(name, candidates):
    if candidates is None:
        assert REG.resolve(name).key == "h200-sxm"
        return
    with pytest.raises(HardwareError) as err:
        REG.resolve(name)
    text = str(err.value)
    assert f"ambiguous accelerator {name!r}" in text
    assert ", ".join(candidates) in text


def test_cli_unknown_reported_name_is_one_error_line():
    result = run("hardware", "show", "NVIDIA GeForce RTX 4090")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "unknown accelerator" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


# ------------------------------------------------------------------ the loader checks reports

def _doc():
    def device(name, alias, reports):
        return {"name": name, "vendor": "nvidia", "aliases": [alias], "reports": reports,
                "peak_tflops": {"bf16": {"dense": 100, "source": ["nv"]}},
                "memory": {"gb": 80, "source": ["nv"]}, "bandwidth": {"gb_s": 3000, "source": ["nv"]},
                "interconnect": {"name": "NVLink", "source": ["nv"]}}
    return {"version": 2,
            "references": [{"key": "nv", "authors": "Vendor", "title": "Vendor page", "url": "https://example.com"}],
            "devices": {"gpu-a": device("GPU A", "a", ["Vendor GPU A"]),
                        "gpu-b": device("GPU B", "b", ["Vendor GPU B 80GB"])}}


def _load_error(tmp_path, doc):
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(HardwareError) as err:
        load_hardware(path)
    return str(err.value)


def test_reports_load_and_resolve(tmp_path):
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(_doc()))
    reg = load_hardware(path)
    assert reg.resolve("vendor gpu a").key == "gpu-a" and reg.resolve("Vendor GPU B 80GB").key == "gpu-b"
    assert reg.resolve("gpu-a").reports == ("Vendor GPU A",)


@pytest.mark.parametrize("reports, where, message", [
    ("Vendor GPU A", "devices.gpu-a.reports", "expected a list"),
    ([5], "devices.gpu-a.reports[0]", "bad reported name 5"),
    (["  "], "devices.gpu-a.reports[0]", "bad reported name"),
    # a clash is reported at the later device, naming the earlier one
    (["Vendor GPU B 80GB"], "devices.gpu-b.reports[0]", "reported name 'vendor-gpu-b-80gb' already names "
                                                        "device 'gpu-a'"),
    (["vendor_gpu_b_80gb"], "devices.gpu-b.reports[0]", "already names device 'gpu-a'"),
    (["B"], "devices.gpu-b.aliases[0]", "alias 'b' already names device 'gpu-a'"),   # another's alias
    (["GPU-A"], "devices.gpu-a.reports[0]", "repeats a name of this device"),
    (["Vendor GPU A", "VENDOR GPU A"], "devices.gpu-a.reports[1]", "repeats a name of this device"),
])
def test_bad_reports_are_refused_by_name(tmp_path, reports, where, message):
    doc = _doc()
    doc["devices"]["gpu-a"]["reports"] = reports
    text = _load_error(tmp_path, doc)
    assert f"{where}: " in text and message in text


# ------------------------------------------------------------------ --hardware auto

def _probe(names):
    return lambda: names


def test_detect_found():
    device, reported, count, probe = det.detect(REG, [("torch", _probe(["NVIDIA H100 80GB HBM3"] * 8))])
    assert (device.key, reported, count, probe) == ("h100-sxm", "NVIDIA H100 80GB HBM3", 8, "torch")
    assert det.note(device, reported, count, probe) == (
        'note: --hardware auto: found "NVIDIA H100 80GB HBM3" (8 devices, via torch) -> h100-sxm; '
        "--gpus is still the total device count of the run")


def test_detect_falls_back_to_nvidia_smi():
    device, _, count, probe = det.detect(REG, [("torch", _probe(None)), ("nvidia-smi", _probe(["NVIDIA GB200"]))])
    assert (device.key, count, probe) == ("gb200", 1, "nvidia-smi")


def test_detect_mixed_devices_is_an_error():
    with pytest.raises(HardwareError, match=r"--hardware auto: mixed accelerators found by torch: "
                                            r"'NVIDIA A100-SXM4-80GB' x1, 'NVIDIA H100 80GB HBM3' x2"):
        det.detect(REG, [("torch", _probe(["NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB",
                                           "NVIDIA H100 80GB HBM3"]))])


def test_detect_none_found_is_an_error():
    with pytest.raises(HardwareError, match=r"--hardware auto: no accelerator found \(tried torch and nvidia-smi"):
        det.detect(REG, [("torch", _probe(None)), ("nvidia-smi", _probe(None))])


def test_detect_unknown_device_is_an_error_not_a_guess():
    with pytest.raises(HardwareError, match=r"torch found 'NVIDIA GeForce RTX 4090', which hardware.yaml "
                                            r"does not know: unknown accelerator"):
        det.detect(REG, [("torch", _probe(["NVIDIA GeForce RTX 4090"]))])


class _Done:
    def __init__(self, stdout="", returncode=0, stderr=""):
        self.stdout, self.returncode, self.stderr = stdout, returncode, stderr


def test_nvidia_smi_probe_reads_one_name_per_line():
    calls = []

    def fake_run(args, **kw):
        calls.append((args, kw))
        return _Done("NVIDIA H100 80GB HBM3\nNVIDIA H100 80GB HBM3\n\n")
    names = det.probe_nvidia_smi(run=fake_run, which=lambda _: "/usr/bin/nvidia-smi")
    assert names == ["NVIDIA H100 80GB HBM3"] * 2
    args, kw = calls[0]
    assert args == ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]
    assert kw["timeout"] == det.TIMEOUT_S and not kw.get("shell")


def test_nvidia_smi_missing_gives_none():
    def never(*a, **k):
        raise AssertionError("not run")
    assert det.probe_nvidia_smi(run=never, which=lambda _: None) is None


def test_nvidia_smi_prints_nothing_gives_none():
    assert det.probe_nvidia_smi(run=lambda *a, **k: _Done(""), which=lambda _: "x") is None


def test_nvidia_smi_timeout_is_an_error():
    def hang(args, **kw):
        raise subprocess.TimeoutExpired(args, kw["timeout"])
    with pytest.raises(HardwareError, match=r"--hardware auto: nvidia-smi did not answer within 3 s"):
        det.probe_nvidia_smi(run=hang, which=lambda _: "x", timeout=3)


def test_nvidia_smi_failing_is_an_error():
    failing = lambda *a, **k: _Done("", 9, "NVIDIA-SMI has failed because it couldn't communicate with the driver")  # noqa: E731
    with pytest.raises(HardwareError, match=r"nvidia-smi failed \(exit 9: NVIDIA-SMI has failed"):
        det.probe_nvidia_smi(run=failing, which=lambda _: "x")


def test_nvidia_smi_that_cannot_run_is_an_error():
    def broken(*a, **k):
        raise PermissionError(13, "Permission denied")
    with pytest.raises(HardwareError, match=r"nvidia-smi could not run: Permission denied"):
        det.probe_nvidia_smi(run=broken, which=lambda _: "x")


def _fake_torch(available, names):
    cuda = types.SimpleNamespace(is_available=lambda: available, device_count=lambda: len(names),
                                 get_device_name=lambda i: names[i])
    return types.SimpleNamespace(cuda=cuda)


def test_torch_probe_names_every_device(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(True, ["AMD Instinct MI300X"] * 8))
    assert det.probe_torch() == ["AMD Instinct MI300X"] * 8


def test_torch_probe_without_a_device_gives_none(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(False, []))
    assert det.probe_torch() is None


def test_torch_probe_without_torch_gives_none(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)     # import torch raises ImportError
    assert det.probe_torch() is None


def test_cli_show_auto(monkeypatch):
    monkeypatch.setattr(det, "PROBES", (("torch", _probe(["NVIDIA B200"] * 8)),))
    result = run("hardware", "show", "auto")
    assert result.exit_code == 0, result.output
    assert 'note: --hardware auto: found "NVIDIA B200" (8 devices, via torch) -> b200' in result.stderr
    assert result.stdout.startswith("NVIDIA B200 (HGX B200)  (b200, nvidia)")


def test_cli_mfu_hardware_auto(monkeypatch):
    from pathlib import Path
    llama = str(Path(__file__).resolve().parents[1] / "examples" / "llama3_8b.yaml")
    monkeypatch.setattr(det, "PROBES", (("torch", _probe(None)), ("nvidia-smi", _probe(["NVIDIA GB200"] * 4))))
    result = run("mfu", llama, "--hardware", "auto", "--gpus", 4, "--tokens-per-sec", 60000, "--format", "json")
    assert result.exit_code == 0, result.output
    assert 'found "NVIDIA GB200" (4 devices, via nvidia-smi) -> gb200' in result.stderr
    assert json.loads(result.stdout)["hardware"]["tflops"] == 2500      # GB200, not B200's 2,250


def test_cli_auto_without_a_device_is_one_error_line(monkeypatch):
    monkeypatch.setattr(det, "PROBES", (("torch", _probe(None)), ("nvidia-smi", _probe(None))))
    result = run("hardware", "show", "auto")
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: --hardware auto: no accelerator found (tried torch and nvidia-smi; "
                                     "expected a CUDA or ROCm device, or give one with --hardware NAME)")


def test_cli_auto_mixed_devices_is_one_error_line(monkeypatch):
    from pathlib import Path
    llama = str(Path(__file__).resolve().parents[1] / "examples" / "llama3_8b.yaml")
    monkeypatch.setattr(det, "PROBES", (("torch", _probe(["NVIDIA H100 PCIe", "NVIDIA L4"])),))
    result = run("mfu", llama, "--hardware", "auto", "--tokens-per-sec", 60000)
    assert result.exit_code == 1
    assert result.output.startswith("Error: --hardware auto: mixed accelerators") and "Traceback" not in result.output


def test_start_up_does_not_import_torch():
    code = ("import sys, mfu_sym.cli, mfu_sym.detect, mfu_sym.commands.options; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------ the added parts' figures

# (key, dtype, dense, sparse) typed from the sources named on each line
ADDED_PEAKS = [
    # AWS Neuron docs, Trainium2 architecture: "1,299 FP8 TFLOPS, 667 BF16/FP16/TF32 TFLOPS,
    # 2,563 ... sparse TFLOPS, 181 FP32 TFLOPS" (frontier-architectures.md section 9)
    ("trainium2", "bf16", 667, None), ("trainium2", "fp16", 667, None), ("trainium2", "tf32", 667, None),
    ("trainium2", "fp8", 1299, 2563), ("trainium2", "fp32", 181, None),
    # AWS Neuron docs, Trainium3: "2,517 MXFP8/MXFP4 TFLOPS, 671 BF16/FP16/TF32 TFLOPS, 183 FP32"
    ("trainium3", "bf16", 671, None), ("trainium3", "fp8", 2517, None), ("trainium3", "fp4", 2517, None),
    ("trainium3", "fp32", 183, None),
    # Intel Hot Chips 2024 Gaudi 3 spec table: BF16 / FP8 matrix 1835 TFLOPs
    ("gaudi3", "bf16", 1835, None), ("gaudi3", "fp8", 1835, None),
    # torchtitan PR 4779 / section 9: MI350X 2.3 PF BF16 dense
    ("mi350x", "bf16", 2300, None),
    # NVIDIA "Programming Tensor Cores in CUDA 9": V100 up to 125 Tensor TFLOPS (FP16)
    ("v100-sxm2-16gb", "fp16", 125, None), ("v100-sxm2-32gb", "fp16", 125, None),
    # secondary (flagged unconfirmed): V100 FP64 7.8 / FP32 15.7; L4 with sparsity 242 / 485 / 120;
    # H20 148 BF16; GH200 = the H100 SXM die, 989 BF16
    ("v100-sxm2-16gb", "fp64", 7.8, None), ("v100-sxm2-16gb", "fp32", 15.7, None),
    ("l4", "bf16", 121, 242), ("l4", "fp8", 242.5, 485), ("l4", "int8", 242.5, 485), ("l4", "tf32", 60, 120),
    ("h20", "bf16", 148, None), ("h20", "int8", 296, None),
    ("gh200", "bf16", 989, None),
]


@pytest.mark.parametrize("key, dtype, dense, sparse", ADDED_PEAKS, ids=[f"{k}-{d}" for k, d, _, _ in ADDED_PEAKS])
def test_added_peaks_equal_the_cited_figures(key, dtype, dense, sparse):
    peak = REG.resolve(key).peak(dtype)
    assert peak.dense_tflops == dense
    assert peak.sparse_tflops == sparse
    assert REG.resolve(key).peak_flops(dtype) == float(f"{dense}e12")


# (key, bytes, GB/s, W or None)
ADDED_MEMORY = [
    ("trainium2", 96 * 2**30, 2900, None),     # NKI guide: 96 GiB, 2.9 TB/s
    ("trainium3", 144 * 2**30, 4900, None),    # Trainium3 architecture: 144 GiB, 4.9 TB/s
    ("gaudi3", 128 * 10**9, 3670, 900),        # Hot Chips 2024: 128 GB HBM2e, 3.67 TB/s, 900 W (air)
    ("mi350x", 288 * 10**9, 8000, 1000),       # as MI355X; 1,000 W TBP (hardware.md)
    ("gh200", 96 * 10**9, 4000, None),         # 96 GB HBM3 at 4 TB/s (NVIDIA forum; news post)
    ("h20", 96 * 10**9, 4000, None),
    ("l4", 24 * 10**9, 300, 72),
    ("v100-sxm2-16gb", 16 * 10**9, 900, None), ("v100-sxm2-32gb", 32 * 10**9, 900, None),
]


@pytest.mark.parametrize("key, nbytes, bandwidth, power", ADDED_MEMORY, ids=[r[0] for r in ADDED_MEMORY])
def test_added_memory_bandwidth_power(key, nbytes, bandwidth, power):
    device = REG.resolve(key)
    assert device.memory_bytes == nbytes
    assert device.bandwidth.value == bandwidth
    assert (device.power.value if device.power else None) == power


def test_added_parts_lack_what_they_lack():
    assert "bf16" not in REG.resolve("v100-sxm2-16gb").dtypes       # Volta: no BF16 tensor cores
    with pytest.raises(HardwareError, match="has no bf16 peak"):
        REG.resolve("Tesla V100-SXM2-16GB").peak_flops("bf16")
    assert "fp4" not in REG.resolve("trainium2").dtypes
    assert not REG.resolve("gaudi3").sparse_dtypes and not REG.resolve("trainium3").sparse_dtypes


def test_secondary_only_figures_are_flagged_unconfirmed():
    for key in ("gh200", "h20", "l4"):
        device = REG.resolve(key)
        assert all(p.unconfirmed for p in device.peaks), key
        assert device.memory.unconfirmed and device.bandwidth.unconfirmed, key
    assert REG.resolve("v100-sxm2-16gb").peak("fp64").unconfirmed
    assert not REG.resolve("v100-sxm2-16gb").peak("fp16").unconfirmed          # NVIDIA's own page
    for key in ("trainium2", "trainium3", "gaudi3"):
        assert not any(p.unconfirmed for p in REG.resolve(key).peaks), key
    assert not REG.resolve("mi350x").peak("bf16").unconfirmed and REG.resolve("mi350x").memory.unconfirmed
