"""Accelerator peaks: hardware.yaml read into frozen records (devices.py), checked at load.

    >>> reg = load_hardware()
    >>> reg.resolve("B200").peak_flops("bf16")    # dense: the MFU denominator
    2250000000000000.0


Every field goes through definitions.Entry (known fields, types, ranges); every figure
cites bibliography keys (the file's own `references` joined to the formula library's);
a peak is given only for a dtype of the dtypes table that has a rate, sparse only where
2:4 sparsity can apply and within the vendor's rounding of 2 x dense; each device name
(key, alias or reported name, after normalizing) belongs to one device. A mistake raises
HardwareError naming the file and the dotted field (devices.h100-sxm.peak_tflops.bf16.dense).
"""

import re

from .definitions import Entry
from .errors import HardwareError
from .files import load_yaml
from .devices import Device, Figure, HardwareRegistry, Peak  # noqa: F401  (hardware.Device)

FORMAT_VERSION = 2
# A published sparse figure is 2x dense up to the vendor's rounding; the largest seen is
# the L40S datasheet's 733 / 362.05 = 2.025. Above this, the entry is a typo.
SPARSE_ROUNDING = 1.03
_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*\Z")


def load_hardware(path=None, root=None):
    """Read and validate a hardware file: `path`, else the data root's hardware.yaml (a
    hardware.yaml in a --formulas directory replaces the bundled one)."""
    from . import data
    from .bibliography import references as bibliography
    from .dtypes import load_dtypes
    root = root or data.root()
    path = str(path if path is not None else root.path("hardware.yaml"))
    document = _document(root, path)
    if document is None:
        raise HardwareError(path, None, "empty file (expected a mapping with version, references and devices)")
    top = Entry(path, "", document, HardwareError, "a mapping with version, references and devices")
    references = dict(bibliography(root))
    if path not in {p for _, p in root.files}:  # a file outside the root: its own bibliography too
        references.update(_references(top, references))
    return _Reader(path, load_dtypes(root), references).registry(top)


def _document(root, path):
    """The parsed file: from the data root's documents (the start-up cache) when it is one
    of the root's files, else read here; any problem there is read here again, so its
    error is this file's (a HardwareError)."""
    from .errors import MfuSymError
    if path in {p for _, p in root.files}:
        try:
            documents = dict(root.documents())
        except MfuSymError:
            documents = {}
        if path in documents:
            return documents[path]
    return load_yaml(path, HardwareError)


def _references(top, known):
    from .bibliography import reference as read_reference
    found = {}
    for entry in top.entries("references", []):
        ref = read_reference(entry)
        if ref.key in known or ref.key in found:
            entry.fail("key", f"duplicate reference {ref.key!r}")
        found[ref.key] = ref
    return found


class _Reader:
    def __init__(self, path, dtypes, references):
        self.path, self.dtypes, self.references = path, dtypes, references
        self.rated = tuple(d.name for d in dtypes if d.rate != "storage")

    def registry(self, top):
        version = top.get("version")
        if version != FORMAT_VERSION or isinstance(version, bool):
            top.fail("version", f"unsupported version {version!r} (expected {FORMAT_VERSION})")
        top.items("references", [])  # read by load_hardware (the bibliography)
        devices = top.entry("devices", "a mapping of device key to device")
        if not devices.value:
            devices.fail(None, "no devices (expected at least one)")
        built = [self.device(key, devices) for key in devices.value]
        top.done()
        return HardwareRegistry(self.path, tuple(built), self.dtypes, _index(built, devices))

    def device(self, key, devices):
        if not isinstance(key, str) or not _NAME.match(key):
            devices.fail(str(key), f"bad device key {key!r} (expected lowercase letters, digits, '.' and '-', "
                                   "like 'h100-sxm')")
        entry = devices.entry(key)
        aliases = entry.items("aliases", [])
        for i, alias in enumerate(aliases):
            if not isinstance(alias, str) or not _NAME.match(alias):
                entry.fail(f"aliases[{i}]", f"bad alias {alias!r} (expected lowercase letters, digits, '.' and '-')")
        reports = entry.items("reports", [])
        for i, report in enumerate(reports):
            if not isinstance(report, str) or not report.strip() or len(report) > 100:
                entry.fail(f"reports[{i}]", f"bad reported name {report!r} (expected the device name as "
                                            "torch.cuda.get_device_name() or nvidia-smi prints it)")
        vendor = entry.text("vendor")
        if not _NAME.match(vendor):
            entry.fail("vendor", f"bad vendor {vendor!r} (expected lowercase letters, digits, '.' and '-')")
        device = Device(
            key=key, name=entry.text("name").strip(), vendor=vendor, aliases=tuple(aliases),
            reports=tuple(r.strip() for r in reports),
            peaks=self.peaks(entry.entry("peak_tflops", "a mapping of dtype to {dense, sparse, source}")),
            memory=self.memory(entry.entry("memory")),
            bandwidth=self.figure(entry.entry("bandwidth"), "gb_s", "GB/s"),
            interconnect=self.interconnect(entry.entry("interconnect")),
            power=self.figure(entry.entry("power"), "w", "W") if entry.has("power") else None,
            notes=entry.texts("notes"), path=self.path, dtype_table=self.dtypes)
        entry.done()
        return device

    def peaks(self, table):
        if not table.value:
            table.fail(None, f"no peaks (expected at least one of: {', '.join(self.rated)})")
        for dtype in table.value:
            if dtype not in self.rated:
                table.fail(str(dtype), f"unknown dtype {dtype!r} (expected one of: {', '.join(self.rated)})")
        peaks = tuple(self.peak(dtype, table.entry(dtype)) for dtype in self.rated if dtype in table.value)
        table.asked.update(table.value)
        return peaks

    def peak(self, dtype, entry):
        dense = entry.number("dense", minimum=0, open_minimum=True)
        sparse = None
        if entry.has("sparse"):
            sparse = entry.number("sparse", minimum=0, open_minimum=True)
            if not self.dtypes.get(dtype).sparse:
                never = ", ".join(d.name for d in self.dtypes if d.rate != "storage" and not d.sparse)
                entry.fail("sparse", f"{dtype} has no sparse figure (2:4 sparsity applies only to tensor "
                                     f"formats, not {never})")
            if not dense < sparse <= 2 * dense * SPARSE_ROUNDING:
                entry.fail("sparse", f"sparse {sparse} does not fit dense {dense} "
                                     "(expected dense < sparse <= 2 x dense, up to vendor rounding)")
        peak = Peak(dtype, dense, sparse, **self.common(entry))
        entry.done()
        return peak

    def memory(self, entry):
        units = [u for u in ("gb", "gib") if entry.has(u)]
        if len(units) != 1:
            entry.fail(None, "give the capacity once (expected exactly one of gb: or gib:)")
        unit = "GB" if units[0] == "gb" else "GiB"
        figure = Figure(entry.number(units[0], minimum=0, open_minimum=True), unit,
                        label=entry.text("type", None), **self.common(entry))
        entry.done()
        return figure

    def figure(self, entry, key, unit):
        figure = Figure(entry.number(key, minimum=0, open_minimum=True), unit, **self.common(entry))
        entry.done()
        return figure

    def interconnect(self, entry):
        value = entry.number("gb_s", minimum=0, open_minimum=True, default=None)
        figure = Figure(value, "GB/s", label=entry.text("name"), **self.common(entry))
        entry.done()
        return figure

    def common(self, entry):
        """What every figure shares: its sources, an unconfirmed flag, a detail."""
        return dict(sources=self.sources(entry), unconfirmed=entry.flag("unconfirmed", False),
                    detail=entry.text("detail", None))

    def sources(self, entry):
        keys = entry.get("source")
        keys = [keys] if isinstance(keys, str) else keys
        if not isinstance(keys, list) or not keys:
            entry.fail("source", "every figure needs a source (expected a list of bibliography keys)")
        out = []
        for key in keys:
            if not isinstance(key, str) or key not in self.references:
                entry.fail("source", f"unknown source {key!r} (expected a key of the file's references or of "
                                     "formulas/references.yaml)")
            if self.references[key] in out:
                entry.fail("source", f"source {key!r} is cited twice")
            out.append(self.references[key])
        return tuple(out)


def _index(devices, entries):
    """Every key, alias and reported name (normalized) -> its device; a name may belong to
    one device only."""
    from .devices import _normalize
    index = {d.key: d for d in devices}
    for d in devices:
        names = [(f"aliases[{i}]", "alias", a) for i, a in enumerate(d.aliases)]
        names += [(f"reports[{i}]", "reported name", _normalize(r)) for i, r in enumerate(d.reports)]
        for where_in, what, alias in names:
            if alias in index:
                other = index[alias].key
                where = f"{d.key}.{where_in}"
                if other == d.key:
                    entries.fail(where, f"{what} {alias!r} repeats a name of this device (expected each name once)")
                entries.fail(where, f"{what} {alias!r} already names device {other!r} "
                                    "(expected every key, alias and reported name to name one device)")
            index[alias] = d
    return index
