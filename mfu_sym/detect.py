"""`--hardware auto`: find the local accelerator and name it by hardware.yaml's data.

Two probes, in order, each optional and each replaceable in tests:

  1. torch: when torch is importable and `torch.cuda.is_available()`, the name of every
     visible device from `torch.cuda.get_device_name(i)` (ROCm builds of torch answer
     through the same API, e.g. "AMD Instinct MI300X");
  2. nvidia-smi: `nvidia-smi --query-gpu=name --format=csv,noheader`, run without a
     shell and with a timeout, one name per line.

torch is imported only here, and only when `auto` is asked for (never at CLI start-up).
The names found are resolved by `HardwareRegistry.resolve`, the same data as a typed
name (hardware.yaml `reports`); a name the table does not know is an error, never a guess.
Mixed devices (two different names on one host) are an error: the MFU of a run divides
by one peak, so say which with `--hardware NAME`.
"""

import shutil
import subprocess

from .errors import HardwareError

NVIDIA_SMI = ("nvidia-smi", "--query-gpu=name", "--format=csv,noheader")
TIMEOUT_S = 10
_WHERE = "--hardware auto"


def probe_torch():
    """Device names from torch, or None when torch or a CUDA/ROCm device is absent."""
    try:
        import torch
    except Exception:        # not installed, or broken: the next probe decides
        return None
    try:
        if not torch.cuda.is_available():
            return None
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] or None
    except Exception:
        return None


def probe_nvidia_smi(run=subprocess.run, which=shutil.which, timeout=TIMEOUT_S):
    """Device names from nvidia-smi, or None when it is missing or prints none. A hang
    past `timeout` seconds or a failing nvidia-smi is an error (it exists but cannot say)."""
    if which(NVIDIA_SMI[0]) is None:
        return None
    try:
        done = run(list(NVIDIA_SMI), capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise HardwareError(None, _WHERE, f"nvidia-smi did not answer within {timeout} s "
                                          "(give the accelerator with --hardware NAME)") from None
    except OSError as err:
        raise HardwareError(None, _WHERE, f"nvidia-smi could not run: {err.strerror or err} "
                                          "(give the accelerator with --hardware NAME)") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout or "").strip().splitlines()
        raise HardwareError(None, _WHERE, f"nvidia-smi failed (exit {done.returncode}"
                                          + (f": {said[0]}" if said else "")
                                          + "; give the accelerator with --hardware NAME)")
    names = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return names or None


PROBES = (("torch", probe_torch), ("nvidia-smi", probe_nvidia_smi))


def detect(registry, probes=None):
    """(device, reported name, count, probe name) for the local accelerators; HardwareError
    when none is found, the devices differ, or the name is not in the table."""
    for probe, find in (probes if probes is not None else PROBES):
        names = find()
        if not names:
            continue
        distinct = sorted(set(names))
        if len(distinct) > 1:
            found = ", ".join(f"{n!r} x{names.count(n)}" for n in distinct)
            raise HardwareError(None, _WHERE, f"mixed accelerators found by {probe}: {found} "
                                              "(expected one kind; give it with --hardware NAME)")
        try:
            device = registry.resolve(names[0])
        except HardwareError as err:
            raise HardwareError(None, _WHERE, f"{probe} found {names[0]!r}, which hardware.yaml does not "
                                              f"know: {err.message}") from None
        return device, names[0], len(names), probe
    tried = " and ".join(p for p, _ in (probes if probes is not None else PROBES))
    raise HardwareError(None, _WHERE, f"no accelerator found (tried {tried}; expected a CUDA or ROCm "
                                      "device, or give one with --hardware NAME)")


def note(device, reported, count, probe):
    plural = "device" if count == 1 else "devices"
    return (f'note: --hardware auto: found "{reported}" ({count} {plural}, via {probe}) -> {device.key}; '
            "--gpus is still the total device count of the run")
