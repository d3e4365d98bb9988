"""The peak an MFU divides by: one device, one dtype, dense or sparse, and what to say
about it. Which dtypes are low precision, vector or integer rates, and which one published
MFU divides by, is the dtypes table's (formulas/dtypes.yaml), not this module's.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class PeakChoice:
    """The peak an MFU divides by: one device, one dtype, dense or sparse."""

    device: object          # Device
    dtype: str              # canonical name (bf16, fp8, ...)
    sparse: bool
    flops: float            # FLOP/s (OP/s for int8) of one device
    tflops: float           # the figure as hardware.yaml gives it
    sources: tuple          # of library.Reference (the figure's bibliography entries)
    unconfirmed: bool
    detail: str | None

    @property
    def kind(self):
        return "sparse" if self.sparse else "dense"

    @property
    def format(self):
        """The dtype's entry of the dtypes table (its rate, low precision, ...)."""
        return self.device.dtype_table.get(self.dtype)

    @property
    def unit(self):
        return self.format.unit

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
    from .devices import Device
    from .hardware import load_hardware
    device = hardware if isinstance(hardware, Device) else (registry or load_hardware()).resolve(hardware)
    peak = device.peak(dtype)
    flops = device.peak_flops(peak.dtype, sparse=sparse)
    return PeakChoice(device, peak.dtype, bool(sparse), flops,
                      peak.sparse_tflops if sparse else peak.dense_tflops,
                      peak.sources, peak.unconfirmed, peak.detail)


def peak_warnings(peak):
    """Plain-language warnings about the dtype / peak pairing alone (a PeakChoice)."""
    from .render.units import significant
    out = []
    name = peak.device.name
    if peak.sparse:
        out.append(f"the peak is {name}'s 2:4-SPARSE {peak.dtype} figure ({peak.tflops:,g} {peak.unit}); "
                   f"published MFU divides by the dense peak, so this MFU is about half of the "
                   f"dense-peak MFU")
    fmt = peak.format
    if fmt.low_precision:
        usual = peak.device.dtype_table.reference_dtype().name
        reference = next((p for p in peak.device.peaks if p.dtype == usual), None)
        ratio = (f", {significant(peak.flops / reference.flops(peak.sparse))} x the {usual} peak"
                 if reference is not None and (reference.has_sparse or not peak.sparse) else "")
        out.append(f"the {peak.dtype} peak ({peak.tflops:,g} {peak.unit}{ratio}) is not the usual "
                   f"denominator: published MFU divides by the {usual} dense peak "
                   f"(PaLM, Llama 3, torchtitan), so quote the peak with this MFU")
    if fmt.rate == "integer":
        out.append(f"the {peak.dtype} peak counts integer operations (TOPS), not floating-point "
                   f"FLOPs: an MFU of floating-point training against it is not meaningful")
    if fmt.rate == "vector":
        out.append(f"{peak.dtype} is the non-tensor (vector) rate of {name}; if the matmuls run on "
                   f"tensor cores (tf32, bf16, fp16), divide by that dtype's peak instead")
    if peak.unconfirmed:
        out.append(f"the {peak.dtype} peak of {name} is marked unconfirmed in hardware.yaml "
                   f"(no primary source was seen)")
    return out
