"""Accelerators as records: peak FLOP/s by dtype and sparsity, memory, bandwidth,
interconnect and power, each figure with its sources (read by hardware.py).

    >>> b200 = mfu_sym.hardware.load_hardware().resolve("B200")
    >>> b200.peak_flops("bf16")                  # dense: the MFU denominator
    2250000000000000.0
    >>> b200.peak_flops("bf16", sparse=True)     # the vendor's "with sparsity" figure
    4500000000000000.0
    >>> [s.key for s in b200.source_for("bf16")]
    ['nv-gb200', 'tt']

hardware.yaml's own header documents its format; hardware.py reads and checks it, and
peaks.py chooses the peak an MFU divides by. No peak lives in this module: the numbers
are data.
"""

import difflib
import re
from dataclasses import dataclass, field

from .errors import HardwareError

_BYTES_PER = {"gb": 10**9, "gib": 2**30}


def _scaled(value, exponent):
    """The float nearest value * 10**exponent, from the decimal text (no float multiply:
    4.1 * 1e12 is 4099999999999.9995, float("4.1e12") is 4.1e12)."""
    text = repr(float(value)) if isinstance(value, float) else str(value)
    mantissa, _, exp = text.partition("e")
    return float(f"{mantissa}e{int(exp or 0) + exponent}")


def _normalize(name):
    """Lowercase; every run of spaces and underscores becomes one '-'."""
    return re.sub(r"[\s_]+", "-", str(name).strip().lower())


# ------------------------------------------------------------------ frozen records

@dataclass(frozen=True)
class Peak:
    """The peak rate of one dtype on one device, in TFLOP/s (TOPS for int8)."""

    dtype: str
    dense_tflops: float
    sparse_tflops: float | None
    sources: tuple
    unconfirmed: bool = False
    detail: str | None = None

    @property
    def has_sparse(self):
        return self.sparse_tflops is not None

    def flops(self, sparse=False):
        """FLOP/s as a float (the caller has checked that a sparse figure exists)."""
        return _scaled(self.sparse_tflops if sparse else self.dense_tflops, 12)

    def to_dict(self):
        return {
            "dense_tflops": self.dense_tflops, "sparse_tflops": self.sparse_tflops,
            "dense_flops": self.flops(),
            "sparse_flops": self.flops(sparse=True) if self.has_sparse else None,
            "sources": [s.key for s in self.sources], "unconfirmed": self.unconfirmed,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Figure:
    """A non-peak figure: memory capacity, memory bandwidth, interconnect, power.
    `value` is in `unit`; `label` is the memory type or the interconnect's name."""

    value: float | None
    unit: str
    sources: tuple
    unconfirmed: bool = False
    detail: str | None = None
    label: str | None = None

    def to_dict(self):
        out = {"value": self.value, "unit": self.unit}
        if self.label is not None:
            out["label"] = self.label
        out.update(sources=[s.key for s in self.sources], unconfirmed=self.unconfirmed,
                   detail=self.detail)
        return out


@dataclass(frozen=True)
class Device:
    """One accelerator: its peaks per dtype and its memory, interconnect and power."""

    key: str
    name: str
    vendor: str
    aliases: tuple
    peaks: tuple            # of Peak, in the dtypes table's order
    memory: Figure          # unit "GB" or "GiB"; label = memory type
    bandwidth: Figure       # unit "GB/s"
    interconnect: Figure    # unit "GB/s" (value may be None); label = its name
    power: Figure | None    # unit "W"
    notes: tuple
    reports: tuple = ()     # device names as torch / nvidia-smi / rocm-smi print them
    path: str = field(default="", repr=False, compare=False)
    dtype_table: object = field(default=None, repr=False, compare=False)  # dtypes.DTypes: names and spellings

    # -- peaks

    @property
    def dtypes(self):
        return tuple(p.dtype for p in self.peaks)

    @property
    def sparse_dtypes(self):
        return tuple(p.dtype for p in self.peaks if p.has_sparse)

    def peak(self, dtype):
        """The `Peak` for `dtype` (a dtype name or one of its spellings, e.g. PyTorch's)."""
        wanted = self.dtype_table.get(dtype, "dtype", HardwareError, self.path).name
        for p in self.peaks:
            if p.dtype == wanted:
                return p
        raise HardwareError(self.path, f"devices.{self.key}.peak_tflops",
                            f"{self.name} has no {wanted} peak "
                            f"(expected one of its dtypes: {', '.join(self.dtypes)})")

    def peak_flops(self, dtype, sparse=False):
        """Peak FLOP/s (OP/s for int8) as a float: dense unless `sparse=True`, which needs
        a published with-sparsity figure for that dtype on this device."""
        p = self.peak(dtype)
        if sparse and not p.has_sparse:
            have = self.sparse_dtypes
            expected = (f"sparse figures exist for: {', '.join(have)}" if have
                        else f"{self.name} has no published sparse figures")
            raise HardwareError(self.path, f"devices.{self.key}.peak_tflops.{p.dtype}.sparse",
                                f"{self.name} has no sparse {p.dtype} figure ({expected})")
        return p.flops(sparse=sparse)

    def source_for(self, what):
        """The sources (bibliography references) of a dtype's peak, or of "memory",
        "bandwidth", "interconnect" or "power"."""
        figure = {"memory": self.memory, "bandwidth": self.bandwidth,
                  "interconnect": self.interconnect, "power": self.power}
        if isinstance(what, str) and what in figure:
            if figure[what] is None:
                raise HardwareError(self.path, f"devices.{self.key}.{what}",
                                    f"{self.name} has no {what} figure")
            return figure[what].sources
        return self.peak(what).sources

    # -- memory

    @property
    def memory_bytes(self):
        return round(self.memory.value * _BYTES_PER[self.memory.unit.lower()])

    @property
    def bandwidth_bytes_per_s(self):
        return _scaled(self.bandwidth.value, 9)

    def to_dict(self):
        cited = {}
        for figure in self.peaks + (self.memory, self.bandwidth, self.interconnect, self.power):
            for s in getattr(figure, "sources", ()):
                cited[s.key] = s.to_dict()
        return {
            "key": self.key, "name": self.name, "vendor": self.vendor,
            "aliases": list(self.aliases), "reports": list(self.reports),
            "peak_tflops": {p.dtype: p.to_dict() for p in self.peaks},
            "memory": dict(self.memory.to_dict(), bytes=self.memory_bytes),
            "bandwidth": self.bandwidth.to_dict(),
            "interconnect": self.interconnect.to_dict(),
            "power": self.power.to_dict() if self.power else None,
            "notes": list(self.notes),
            "sources": cited,
        }


@dataclass(frozen=True)
class HardwareRegistry:
    """Every device of one hardware file, looked up by key or alias."""

    path: str
    devices: tuple          # of Device, in file order
    dtypes: object = field(repr=False, compare=False)  # dtypes.DTypes
    _index: dict = field(default_factory=dict, repr=False, compare=False)

    def __iter__(self):
        return iter(self.devices)

    def __len__(self):
        return len(self.devices)

    def __contains__(self, name):
        return _normalize(name) in self._index

    def keys(self):
        return tuple(d.key for d in self.devices)

    def names(self):
        """Every name `resolve` accepts (keys and aliases), sorted."""
        return tuple(sorted(self._index))

    def resolve(self, name):
        """The device called `name`: a key, an alias, or a name the device reports
        (torch.cuda.get_device_name(), nvidia-smi, rocm-smi), compared case-insensitively
        with '_' and ' ' read as '-'. Only whole names match: an unknown name is an error
        naming the close ones, never a guess."""
        wanted = _normalize(name) if isinstance(name, str) else ""
        choices = ", ".join(self.keys())
        if wanted in self._index:
            return self._index[wanted]
        if not wanted:
            raise HardwareError(self.path, "accelerator",
                                f"no accelerator name given (expected one of: {choices})")
        matches = sorted({d.key for n, d in self._index.items() if n.startswith(wanted)})
        if len(matches) > 1:
            raise HardwareError(self.path, "accelerator",
                                f"ambiguous accelerator {name!r}: it could be {', '.join(matches)} "
                                f"(expected one of those names in full)")
        suggestions = {}                    # one name per device, closest first
        for n in matches + difflib.get_close_matches(wanted, self._index, n=6, cutoff=0.6):
            suggestions.setdefault(self._index[n].key, n)
        shown = [repr(n) if n == key else f"{n!r} ({key})" for key, n in list(suggestions.items())[:3]]
        hint = f"; did you mean {' or '.join(shown)}?" if shown else ""
        raise HardwareError(self.path, "accelerator",
                            f"unknown accelerator {name!r}{hint} (expected one of: {choices}, "
                            f"or one of their aliases or reported names)")

    @property
    def sources(self):
        """Every reference the devices cite, once each, in file order."""
        cited = {}
        for device in self.devices:
            for figure in device.peaks + (device.memory, device.bandwidth, device.interconnect, device.power):
                for ref in getattr(figure, "sources", ()):
                    cited.setdefault(ref.key, ref)
        return tuple(cited.values())

    def to_dict(self):
        return {d.key: d.to_dict() for d in self.devices}
