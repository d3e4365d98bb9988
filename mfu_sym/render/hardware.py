"""Text of `hardware list` and `hardware show`: the accelerator table with the source of
every figure."""

from .units import tflops

# Columns of `hardware list`: the dense peaks people compare MFU against.
LIST_DTYPES = ("bf16", "fp8", "fp4")


def _dense(device, dtype):
    peak = next((p for p in device.peaks if p.dtype == dtype), None)
    return "-" if peak is None else f"{peak.dense_tflops:,g}" + ("*" if peak.unconfirmed else "")


def listing(registry):
    header = (f"{'key':<15}{'name':<46}" + "".join(f"{d + ' dense':>12}" for d in LIST_DTYPES)
              + f"{'memory':>11}{'bandwidth':>13}   aliases")
    lines = [header]
    for d in registry:
        memory = f"{d.memory.value:,g} {d.memory.unit}"
        lines.append(f"{d.key:<15}{d.name:<46}" + "".join(f"{_dense(d, t):>12}" for t in LIST_DTYPES)
                     + f"{memory:>11}{d.bandwidth.value:>8,g} GB/s   {', '.join(d.aliases)}")
    lines += ["",
              "Peaks are dense (without sparsity), TFLOP/s per device: the MFU denominator. "
              "* unconfirmed.",
              "`mfu-sym hardware show NAME` gives every dtype, the sparse figures and the sources."]
    return "\n".join(lines)


def _cited(figure):
    return "[" + ", ".join(s.key for s in figure.sources) + "]" + (" unconfirmed" if figure.unconfirmed else "")


def show(d):
    lines = [f"{d.name}  ({d.key}, {d.vendor})"]
    if d.aliases:
        lines.append(f"  also called: {', '.join(d.aliases)}")
    if d.reports:
        lines.append(f"  reports as:  {', '.join(repr(r) for r in d.reports)}  (torch / nvidia-smi / rocm-smi)")
    lines += ["", "  peak per device    dense (the MFU denominator)       with 2:4 sparsity              sources"]
    for p in d.peaks:
        unit = "TOPS" if p.dtype == "int8" else "TFLOP/s"
        sparse = tflops(p.sparse_tflops, unit) if p.has_sparse else "-"
        lines.append(f"    {p.dtype:<15}{tflops(p.dense_tflops, unit):<34}{sparse:<31}{_cited(p)}")
        if p.detail:
            lines.append(f"    {'':<15}{p.detail}")
    memory = f"{d.memory.value:,g} {d.memory.unit}" + (f" {d.memory.label}" if d.memory.label else "")
    lines += ["",
              f"  {'memory':<15}{memory}  {_cited(d.memory)}",
              f"  {'bandwidth':<15}{d.bandwidth.value:,g} GB/s  {_cited(d.bandwidth)}"]
    link = d.interconnect.label + (f", {d.interconnect.value:,g} GB/s" if d.interconnect.value else "")
    lines.append(f"  {'interconnect':<15}{link}  {_cited(d.interconnect)}")
    for figure in (d.memory, d.bandwidth, d.interconnect):
        if figure.detail:
            lines.append(f"  {'':<15}{figure.detail}")
    if d.power is not None:
        lines.append(f"  {'power':<15}{d.power.value:,g} W  {_cited(d.power)}"
                     + (f"  ({d.power.detail})" if d.power.detail else ""))
    if d.notes:
        lines += ["", "  notes"] + [f"    - {note}" for note in d.notes]
    cited = {}
    for figure in d.peaks + (d.memory, d.bandwidth, d.interconnect, d.power):
        for source in getattr(figure, "sources", ()):
            cited[source.key] = source
    lines += ["", "  sources"] + [f"    [{key}] {source.cite()}" for key, source in cited.items()]
    lines.append("")
    lines.append("  The dense figure is the MFU denominator; `mfu-sym mfu --sparse` divides by the sparse one.")
    return "\n".join(lines)
