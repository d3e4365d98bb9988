"""Accelerator peaks: `hardware.yaml` -> peak FLOP/s by accelerator, dtype and sparsity.

    >>> reg = load_hardware()
    >>> b200 = reg.resolve("B200")
    >>> b200.peak_flops("bf16")                  # dense: the MFU denominator
    2250000000000000.0
    >>> b200.peak_flops("bf16", sparse=True)     # the vendor's "with sparsity" figure
    4500000000000000.0
    >>> [s.key for s in b200.source_for("bf16")]
    ['nv-gb200', 'tt']

The file's own header documents its format. Every figure is checked when the file is
loaded (known dtype, positive finite number, a cited source, dense < sparse <= 2 x dense,
each name belonging to one device); a mistake raises `HardwareError` naming the file and
the field. No peak lives in this module: the numbers are data.
"""

import difflib
import re
from dataclasses import dataclass, field

from .errors import HardwareError
from .files import load_yaml

# The dtype names a file may use, in display order. fp64 is the vector rate, fp64_tensor
# the FP64 tensor-core / matrix rate; fp32 is the non-tensor (vector) rate.
DTYPES = ("fp64", "fp64_tensor", "fp32", "tf32", "bf16", "fp16", "fp8", "fp6", "fp4", "int8")
# 2:4 structured sparsity is a tensor-core feature: these never have a sparse figure.
NEVER_SPARSE = ("fp64", "fp64_tensor", "fp32")
# What users type for a dtype (PyTorch names). Only unambiguous spellings: "nvfp4" is not
# mapped to fp4, because some vendors quote different fp4 and nvfp4 peaks.
DTYPE_ALIASES = {
    "float64": "fp64", "float32": "fp32", "tfloat32": "tf32", "bfloat16": "bf16",
    "float16": "fp16", "half": "fp16", "float8_e4m3fn": "fp8", "float8_e5m2": "fp8",
    "fp8_e4m3": "fp8", "fp8_e5m2": "fp8",
}
# A published sparse figure is 2x dense up to the vendor's rounding; the largest seen is
# the L40S datasheet's 733 / 362.05 = 2.025. Above this, the entry is a typo.
SPARSE_ROUNDING = 1.03

FORMAT_VERSION = 1
_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*\Z")
_TOP = {"version", "sources", "devices"}
_SOURCE_FIELDS = {"title", "url", "note"}
_DEVICE_REQUIRED = ("name", "vendor", "peak_tflops", "memory", "bandwidth", "interconnect")
_DEVICE_OPTIONAL = ("aliases", "power", "notes")
_FIGURE_COMMON = ("source", "unconfirmed", "detail")
_BYTES_PER = {"gb": 10**9, "gib": 2**30}


def _scaled(value, exponent):
    """The float nearest value * 10**exponent, from the decimal text (no float multiply:
    4.1 * 1e12 is 4099999999999.9995, float("4.1e12") is 4.1e12)."""
    text = repr(float(value)) if isinstance(value, float) else str(value)
    mantissa, _, exp = text.partition("e")
    return float(f"{mantissa}e{int(exp or 0) + exponent}")


def _normalize(name):
    return str(name).strip().lower().replace("_", "-").replace(" ", "-")


# ------------------------------------------------------------------ frozen records

@dataclass(frozen=True)
class Source:
    """One entry of the file's `sources` catalogue."""

    key: str
    title: str
    url: str | None = None
    note: str | None = None

    def cite(self):
        return f"{self.title} <{self.url}>" if self.url else self.title

    def to_dict(self):
        return {"key": self.key, "title": self.title, "url": self.url, "note": self.note}


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
    peaks: tuple            # of Peak, in DTYPES order
    memory: Figure          # unit "GB" or "GiB"; label = memory type
    bandwidth: Figure       # unit "GB/s"
    interconnect: Figure    # unit "GB/s" (value may be None); label = its name
    power: Figure | None    # unit "W"
    notes: tuple
    path: str = field(default="", repr=False, compare=False)

    # -- peaks

    @property
    def dtypes(self):
        return tuple(p.dtype for p in self.peaks)

    @property
    def sparse_dtypes(self):
        return tuple(p.dtype for p in self.peaks if p.has_sparse)

    def peak(self, dtype):
        """The `Peak` for `dtype` (a name from DTYPES or a PyTorch spelling)."""
        wanted = _dtype_name(dtype, self.path)
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
        """The sources (tuple of `Source`) of a dtype's peak, or of "memory", "bandwidth",
        "interconnect" or "power"."""
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
            "aliases": list(self.aliases),
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
    sources: tuple          # of Source, in file order
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
        """The device called `name` (key or alias; case-insensitive, '_' or ' ' for '-')."""
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
                            f"or one of their aliases)")

    def to_dict(self):
        return {d.key: d.to_dict() for d in self.devices}


def _dtype_name(dtype, path):
    name = str(dtype).strip().lower()
    name = DTYPE_ALIASES.get(name, name)
    if name not in DTYPES:
        raise HardwareError(path, "dtype", f"unknown dtype {dtype!r} (expected one of: {', '.join(DTYPES)})")
    return name


# ------------------------------------------------------------------ loading

def load_hardware(path=None, root=None):
    """Read and validate a hardware file: `path`, else the data root's hardware.yaml (a
    hardware.yaml in a --formulas directory replaces the bundled one)."""
    if path is None:
        from . import data
        path = (root or data.root()).path("hardware.yaml")
    return _Loader(str(path)).load(load_yaml(path, HardwareError))


def _kind(value):
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    return f"a {type(value).__name__}"


class _Loader:
    """Turns the parsed document into frozen records, or raises HardwareError at the
    first mistake, naming its dotted field (devices.h100-sxm.peak_tflops.bf16.dense)."""

    def __init__(self, path):
        self.path = path
        self.sources = {}

    def fail(self, where, message):
        raise HardwareError(self.path, where, message)

    # -- primitives

    def mapping(self, value, where, required=(), optional=(), what="a mapping"):
        if not isinstance(value, dict):
            self.fail(where or "(top level)", f"expected {what}, got {_kind(value)}")
        allowed = list(required) + list(optional)   # none given: any keys (a table)
        for key in value:
            if not isinstance(key, str) or (allowed and key not in allowed):
                self.fail(f"{where}.{key}" if where else str(key),
                          f"unknown field {key!r} (expected one of: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                self.fail(where or "(top level)",
                          f"missing required field {key!r} (required: {', '.join(required)})")
        return value

    def text(self, value, where):
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"expected non-empty text, got {_kind(value)}")
        return value.strip()

    def name(self, value, where, what):
        if not isinstance(value, str) or not _NAME.match(value):
            self.fail(where, f"bad {what} {value!r} (expected lowercase letters, digits, '.' and '-', "
                             f"like 'h100-sxm')")
        return value

    def number(self, value, where, unit):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(where, f"expected a number of {unit}, got {_kind(value)}")
        if value != value or value in (float("inf"), float("-inf")):
            self.fail(where, f"{value} is not a finite number (expected a number of {unit} > 0)")
        if value <= 0:
            self.fail(where, f"{value} is not positive (expected a number of {unit} > 0)")
        return value

    def flag(self, value, where):
        if not isinstance(value, bool):
            self.fail(where, f"expected true or false, got {_kind(value)}")
        return value

    def cited(self, entry, where):
        """The `source` of a figure: one catalogue key or a non-empty list of them."""
        value = entry["source"]
        keys = [value] if isinstance(value, str) else value
        known = ", ".join(self.sources)
        if not isinstance(keys, list) or not keys:
            self.fail(f"{where}.source",
                      f"every figure needs a source, got {_kind(value)} (expected a list of: {known})")
        out = []
        for i, key in enumerate(keys):
            if not isinstance(key, str) or key not in self.sources:
                self.fail(f"{where}.source", f"unknown source {key!r} (expected one of: {known})")
            if self.sources[key] in out:
                self.fail(f"{where}.source", f"source {key!r} is cited twice")
            out.append(self.sources[key])
        return tuple(out)

    def common(self, entry, where):
        """The fields every figure shares: sources, unconfirmed flag, detail text."""
        unconfirmed = self.flag(entry["unconfirmed"], f"{where}.unconfirmed") if "unconfirmed" in entry else False
        detail = self.text(entry["detail"], f"{where}.detail") if "detail" in entry else None
        return dict(sources=self.cited(entry, where), unconfirmed=unconfirmed, detail=detail)

    # -- the document

    def load(self, doc):
        if doc is None:
            self.fail(None, "empty file (expected a mapping with version, sources and devices)")
        self.mapping(doc, "", required=("version", "sources", "devices"),
                     what="a mapping with version, sources and devices")
        if doc["version"] != FORMAT_VERSION or isinstance(doc["version"], bool):
            self.fail("version", f"unsupported version {doc['version']!r} (expected {FORMAT_VERSION})")
        self.load_sources(doc["sources"])
        devices = doc["devices"]
        self.mapping(devices, "devices", what="a mapping of device key to device")
        if not devices:
            self.fail("devices", "no devices (expected at least one)")
        built = [self.device(key, entry) for key, entry in devices.items()]
        index = self.index(built)
        return HardwareRegistry(self.path, tuple(built), tuple(self.sources.values()), index)

    def load_sources(self, sources):
        self.mapping(sources, "sources", what="a mapping of source key to {title, url}")
        if not sources:
            self.fail("sources", "no sources (expected at least one)")
        for key, entry in sources.items():
            where = f"sources.{key}"
            self.name(key, where, "source key")
            self.mapping(entry, where, required=("title",), optional=("url", "note"))
            url = None
            if "url" in entry:
                url = self.text(entry["url"], f"{where}.url")
                if not url.startswith(("https://", "http://")):
                    self.fail(f"{where}.url", f"{url!r} is not a web address (expected https://...)")
            note = self.text(entry["note"], f"{where}.note") if "note" in entry else None
            self.sources[key] = Source(key, self.text(entry["title"], f"{where}.title"), url, note)

    def device(self, key, entry):
        where = f"devices.{key}"
        self.name(key, where, "device key")
        self.mapping(entry, where, required=_DEVICE_REQUIRED, optional=_DEVICE_OPTIONAL)
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list):
            self.fail(f"{where}.aliases", f"expected a list of names, got {_kind(aliases)}")
        notes = entry.get("notes", [])
        if not isinstance(notes, list):
            self.fail(f"{where}.notes", f"expected a list of text, got {_kind(notes)}")
        return Device(
            key=key,
            name=self.text(entry["name"], f"{where}.name"),
            vendor=self.name(entry["vendor"], f"{where}.vendor", "vendor"),
            aliases=tuple(self.name(a, f"{where}.aliases[{i}]", "alias") for i, a in enumerate(aliases)),
            peaks=self.peaks(entry["peak_tflops"], f"{where}.peak_tflops"),
            memory=self.memory(entry["memory"], f"{where}.memory"),
            bandwidth=self.figure(entry["bandwidth"], f"{where}.bandwidth", "gb_s", "GB/s"),
            interconnect=self.interconnect(entry["interconnect"], f"{where}.interconnect"),
            power=self.figure(entry["power"], f"{where}.power", "w", "W") if "power" in entry else None,
            notes=tuple(self.text(n, f"{where}.notes[{i}]") for i, n in enumerate(notes)),
            path=self.path,
        )

    def peaks(self, table, where):
        self.mapping(table, where, what="a mapping of dtype to {dense, sparse, source}")
        if not table:
            self.fail(where, f"no peaks (expected at least one of: {', '.join(DTYPES)})")
        for dtype in table:
            if dtype not in DTYPES:
                self.fail(f"{where}.{dtype}", f"unknown dtype {dtype!r} (expected one of: {', '.join(DTYPES)})")
        return tuple(self.peak(dtype, table[dtype], f"{where}.{dtype}") for dtype in DTYPES if dtype in table)

    def peak(self, dtype, entry, where):
        self.mapping(entry, where, required=("dense", "source"), optional=("sparse",) + _FIGURE_COMMON[1:])
        dense = self.number(entry["dense"], f"{where}.dense", "TFLOP/s")
        sparse = None
        if "sparse" in entry:
            sparse = self.number(entry["sparse"], f"{where}.sparse", "TFLOP/s")
            if dtype in NEVER_SPARSE:
                self.fail(f"{where}.sparse", f"{dtype} has no sparse figure (2:4 sparsity applies only to "
                          f"tensor formats, not {', '.join(NEVER_SPARSE)})")
            if not dense < sparse <= 2 * dense * SPARSE_ROUNDING:
                self.fail(f"{where}.sparse", f"sparse {sparse} does not fit dense {dense} "
                          f"(expected dense < sparse <= 2 x dense, up to vendor rounding)")
        return Peak(dtype, dense, sparse, **self.common(entry, where))

    def memory(self, entry, where):
        self.mapping(entry, where, required=("source",), optional=("gb", "gib", "type") + _FIGURE_COMMON[1:])
        units = [u for u in ("gb", "gib") if u in entry]
        if len(units) != 1:
            self.fail(where, "give the capacity once (expected exactly one of gb: or gib:)")
        unit = units[0]
        value = self.number(entry[unit], f"{where}.{unit}", "GB" if unit == "gb" else "GiB")
        label = self.text(entry["type"], f"{where}.type") if "type" in entry else None
        return Figure(value, "GB" if unit == "gb" else "GiB", label=label, **self.common(entry, where))

    def figure(self, entry, where, key, unit):
        self.mapping(entry, where, required=(key, "source"), optional=_FIGURE_COMMON[1:])
        return Figure(self.number(entry[key], f"{where}.{key}", unit), unit, **self.common(entry, where))

    def interconnect(self, entry, where):
        self.mapping(entry, where, required=("name", "source"), optional=("gb_s",) + _FIGURE_COMMON[1:])
        value = self.number(entry["gb_s"], f"{where}.gb_s", "GB/s") if "gb_s" in entry else None
        return Figure(value, "GB/s", label=self.text(entry["name"], f"{where}.name"), **self.common(entry, where))

    def index(self, devices):
        """Every key and alias -> its device; a name may belong to one device only."""
        index = {d.key: d for d in devices}
        for d in devices:
            for i, alias in enumerate(d.aliases):
                where = f"devices.{d.key}.aliases[{i}]"
                if alias in index:
                    other = index[alias].key
                    if other == d.key:
                        self.fail(where, f"alias {alias!r} repeats a name of this device (expected each name once)")
                    self.fail(where, f"alias {alias!r} already names device {other!r} "
                                     f"(expected every key and alias to name one device)")
                index[alias] = d
        return index


# ------------------------------------------------------------------ the peak an MFU divides by

# Dtypes whose peak is not the denominator of published MFU (PaLM, Llama 3 and
# torchtitan all divide by the BF16 dense peak; torchtitan refuses an FP8 MFU).
LOW_PRECISION = ("fp8", "fp6", "fp4")
# Non-tensor-core rates: matmuls of a training run do not run here.
VECTOR_RATES = ("fp32", "fp64")
INTEGER_RATES = ("int8",)
# The dtype published MFU divides by, for comparing a low-precision peak against it.
REFERENCE_DTYPE = "bf16"


@dataclass(frozen=True)
class PeakChoice:
    """The peak an MFU divides by: one device, one dtype, dense or sparse."""

    device: object          # Device
    dtype: str              # canonical name (bf16, fp8, ...)
    sparse: bool
    flops: float            # FLOP/s (OP/s for int8) of one device
    tflops: float           # the figure as hardware.yaml gives it
    sources: tuple          # of Source
    unconfirmed: bool
    detail: str | None

    @property
    def kind(self):
        return "sparse" if self.sparse else "dense"

    @property
    def unit(self):
        return "TOPS" if self.dtype in INTEGER_RATES else "TFLOP/s"

    def describe(self):
        """One line: which figure, and why it is (or is not) the MFU denominator."""
        if self.sparse:
            dense = self.device.peak(self.dtype).dense_tflops
            return (f"{self.dtype} SPARSE (2:4 structured sparsity; dense is {dense:,g}), "
                    f"not the usual MFU denominator")
        return f"{self.dtype} dense (without sparsity), the MFU denominator"

    def to_dict(self):
        return {
            "device": self.device.key, "name": self.device.name, "dtype": self.dtype,
            "sparse": self.sparse, "kind": self.kind, "tflops": self.tflops, "unit": self.unit,
            "flops_per_device": self.flops, "unconfirmed": self.unconfirmed, "detail": self.detail,
            "sources": [s.to_dict() for s in self.sources],
        }


def choose_peak(hardware, dtype="bf16", sparse=False, registry=None):
    """The peak of `hardware` (a name users type, or a Device) for `dtype`: dense unless
    `sparse`. Unknown names, missing dtypes and missing sparse figures raise
    HardwareError naming the choices."""
    device = hardware if isinstance(hardware, Device) else (registry or load_hardware()).resolve(hardware)
    peak = device.peak(dtype)
    flops = device.peak_flops(peak.dtype, sparse=sparse)
    return PeakChoice(device, peak.dtype, bool(sparse), flops,
                      peak.sparse_tflops if sparse else peak.dense_tflops,
                      peak.sources, peak.unconfirmed, peak.detail)


def peak_warnings(peak):
    """Plain-language warnings about the dtype / peak pairing alone (a PeakChoice)."""
    out = []
    name = peak.device.name
    if peak.sparse:
        out.append(f"the peak is {name}'s 2:4-SPARSE {peak.dtype} figure ({peak.tflops:,g} {peak.unit}); "
                   f"published MFU divides by the dense peak, so this MFU is about half of the "
                   f"dense-peak MFU")
    if peak.dtype in LOW_PRECISION:
        reference = next((p for p in peak.device.peaks if p.dtype == REFERENCE_DTYPE), None)
        ratio = (f", {peak.flops / reference.flops(peak.sparse):g}x the {REFERENCE_DTYPE} peak"
                 if reference is not None and (reference.has_sparse or not peak.sparse) else "")
        out.append(f"the {peak.dtype} peak ({peak.tflops:,g} {peak.unit}{ratio}) is not the usual "
                   f"denominator: published MFU divides by the {REFERENCE_DTYPE} dense peak "
                   f"(PaLM, Llama 3, torchtitan), so quote the peak with this MFU")
    if peak.dtype in INTEGER_RATES:
        out.append(f"the {peak.dtype} peak counts integer operations (TOPS), not floating-point "
                   f"FLOPs: an MFU of floating-point training against it is not meaningful")
    if peak.dtype in VECTOR_RATES:
        out.append(f"{peak.dtype} is the non-tensor (vector) rate of {name}; if the matmuls run on "
                   f"tensor cores (tf32, bf16, fp16), divide by that dtype's peak instead")
    if peak.unconfirmed:
        out.append(f"the {peak.dtype} peak of {name} is marked unconfirmed in hardware.yaml "
                   f"(no primary source was seen)")
    return out
