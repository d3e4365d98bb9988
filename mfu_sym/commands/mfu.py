"""`mfu-sym mfu`: MFU and HFU of a measured throughput, a step time, or a training log."""

import click

from ..cli import build_model, main, model_options
from ..render import printable
from .types import COUNT, POSITIVE, SIZE

LOG_KINDS = ("tokens-per-sec", "step-time")  # mirrors mfu_sym.mfu.LOG_KINDS (kept out of start-up)




def hardware_options(function):
    """--hardware, --dtype, --sparse, --gpus: the peak an MFU divides by."""
    options = [
        click.option("--hardware", required=True, metavar="NAME",
                     help="accelerator (b200, h100, tpu-v4, ...; see `mfu-sym hardware list`)"),
        click.option("--dtype", default="bf16", show_default=True,
                     help="dtype of the peak (bf16, fp16, tf32, fp8, ...)"),
        click.option("--sparse", is_flag=True,
                     help="divide by the 2:4-sparse peak (default: the dense peak, the MFU denominator)"),
        click.option("--gpus", type=SIZE, default=1, show_default=True,
                     help="devices in the run (GPUs, TPU chips)"),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@main.command()
@model_options
@hardware_options
@click.option("--tokens-per-sec", type=POSITIVE, help="measured global throughput (all devices), tokens/s")
@click.option("--step-time", type=POSITIVE, help="measured seconds per step (needs --batch)")
@click.option("--batch", type=SIZE, help="global batch: sequences per step, all devices")
@click.option("--seq-len", type=SIZE, help="sequence length (default: the model file's)")
@click.option("--log", "log_file", type=click.Path(dir_okay=False),
              help="training log: JSON lines (.jsonl, .json) or CSV (.csv, .tsv)")
@click.option("--log-column", metavar="NAME", help="the log's column (or JSON key) holding the measurement")
@click.option("--log-kind", type=click.Choice(LOG_KINDS), default="tokens-per-sec", show_default=True,
              help="what the column holds: global tokens/s, or seconds per step (needs --batch)")
@click.option("--warmup", type=COUNT, default=0, show_default=True,
              help="log steps to exclude at the start")
@click.option("--per-step", is_flag=True, help="list every step of the log (text and JSON; default: the summary)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def mfu(model_file, hardware, dtype, sparse, gpus, tokens_per_sec, step_time, batch, seq_len,
        log_file, log_column, log_kind, warmup, per_step, fmt, **switches):
    """MFU and HFU of MODEL at a measured throughput on GPUS devices of HARDWARE.

    MFU = tokens/s x training FLOPs per token / (GPUS x peak), the peak being the dense
    figure of --dtype (PaLM, arXiv:2204.02311 App. B). The FLOPs per token follow the
    counting switches (--mask, --recompute for HFU, ...). Give one of --tokens-per-sec,
    --step-time (with --batch) or --log (with --log-column).

    \b
    Examples:
        mfu-sym mfu examples/llama3_8b.yaml --hardware h100 --gpus 8 --tokens-per-sec 100000
        mfu-sym mfu examples/gpt2_124m_nanogpt.yaml --mask full --hardware a100 \\
            --step-time 0.755 --batch 100
        mfu-sym mfu examples/llama3_8b.yaml --hardware b200 --gpus 64 --seq-len 8192 \\
            --log train.jsonl --log-column tokens_per_sec --warmup 10
    """
    given = [name for name, value in (("--tokens-per-sec", tokens_per_sec), ("--step-time", step_time),
                                      ("--log", log_file)) if value is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --tokens-per-sec, --step-time and --log"
                               + (f" (got {', '.join(given)})" if given else ""))
    if step_time is not None and batch is None:
        raise click.UsageError("--step-time needs --batch (global sequences per step)")
    if log_file is None and (log_column is not None or warmup or per_step or log_kind != "tokens-per-sec"):
        raise click.UsageError("--log-column, --log-kind, --warmup and --per-step apply only with --log")
    if log_file is not None:
        if log_column is None:
            raise click.UsageError("--log needs --log-column (the column or key to read)")
        if log_kind == "step-time" and batch is None:
            raise click.UsageError("--log-kind step-time needs --batch (global sequences per step)")

    from .. import mfu as meter
    from ..hardware import load_hardware
    model = build_model(model_file, **switches)
    peak = meter.choose_peak(hardware, dtype, sparse, registry=load_hardware(root=model.library.root))
    if log_file is not None:
        result = meter.from_log(model, peak, gpus, log_file, log_column, log_kind,
                                warmup=warmup, batch=batch, seq_len=seq_len)
        text = lambda: _log_text(result, model_file, per_step)
    else:
        result = meter.measure(model, peak, gpus, tokens_per_sec=tokens_per_sec, step_time=step_time,
                               batch=batch, seq_len=seq_len)
        text = lambda: _text(result, model_file)
    if fmt == "json":
        import json
        click.echo(json.dumps(result.to_dict(**({"per_step": per_step} if log_file else {})), indent=2))
        return
    click.echo(text())
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


# ------------------------------------------------------------------ text

def _rate(flops):
    from ..export import short
    return f"{short(flops)}FLOP/s"


def _peak_lines(peak, devices):
    figure = f"{peak.tflops:,g} {peak.unit}"
    if peak.tflops >= 1000 and peak.unit == "TFLOP/s":
        figure += f" ({peak.tflops / 1000:g} PFLOP/s)"
    lines = [f"  {'hardware':<17}{devices:,} x {peak.device.name}",
             f"  {'peak':<17}{figure} per device: {peak.describe()}",
             f"  {'':<17}{_rate(peak.flops * devices)} in total"]
    for i, source in enumerate(peak.sources):
        lines.append(f"  {'peak source' if i == 0 else '':<17}{source.cite()}")
    return lines


def _flops_lines(result, conventions):
    from ..export import grouped
    lines = [f"  {'FLOPs per token':<17}{grouped(result.flops_per_token)} "
             f"(model FLOPs: training, as the convention counts it)"]
    if result.hardware_flops_per_token != result.flops_per_token:
        lines.append(f"  {'':<17}{grouped(result.hardware_flops_per_token)} (hardware FLOPs: with recomputation)")
    # the conventions in words ("explained"), as `derive` prints them
    for i, (key, value) in enumerate(conventions.get("explained", conventions).items()):
        lines.append(f"  {'counted under' if i == 0 else '':<17}{key}: {value}")
    return lines


def _text(m, source):
    total, each = m.achieved_flops
    lines = [f"MFU of {m.model_name}  ({printable(source)})"]
    lines += _peak_lines(m.peak, m.devices)
    run = f"seq_len {m.seq_len:,}"
    if m.step_time is not None:
        run += f", batch {m.batch:,} sequences in {m.step_time:g} s per step"
    elif m.batch is not None:
        run += f", batch {m.batch:,} ({m.batch * m.seq_len / m.tokens_per_sec:.4g} s per step)"
    lines += [f"  {'run':<17}{run}",
              f"  {'throughput':<17}{m.tokens_per_sec:,.6g} tokens/s in total, "
              f"{m.tokens_per_sec / m.devices:,.6g} per device"]
    lines += _flops_lines(m, m.conventions)
    lines += [f"  {'achieved':<17}{_rate(total)} in total, {_rate(each)} per device",
              f"  {'MFU':<17}{m.mfu:.2%}"]
    if m.hfu_note is None:
        hw_total, hw_each = m.achieved_hardware_flops
        lines.append(f"  {'HFU':<17}{m.hfu:.2%}  (hardware FLOPs {_rate(hw_each)} per device)")
    else:
        lines.append(f"  {'HFU':<17}{m.hfu:.2%}  ({m.hfu_note.removeprefix('HFU ')})")
    return "\n".join(lines)


def _log_text(s, source, per_step):
    log = s.log
    lines = [f"MFU of {s.model_name}  ({printable(source)}), per step of {printable(log.path)}"]
    lines += _peak_lines(s.peak, s.devices)
    run = f"seq_len {s.seq_len:,}" + (f", batch {s.batch:,}" if s.batch is not None else "")
    what = "global tokens/s" if s.kind == "tokens-per-sec" else "seconds per step"
    lines += [f"  {'run':<17}{run}",
              f"  {'log':<17}column {log.column!r} ({what}): {len(log.values):,} steps, "
              f"{s.warmup:,} warm-up excluded, {len(s.columns['mfu']):,} used"
              + (f"; skipped (no value): {log.skipped:,}" if log.skipped else "")]
    lines += _flops_lines(s, s.conventions)
    lines += ["", f"  {'':<16}{'median':>10}{'p10':>10}{'p90':>10}{'mean':>10}{'min':>10}{'max':>10}"]
    for key, label, form in (("mfu", "MFU", "{:.2%}"), ("hfu", "HFU", "{:.2%}"),
                             ("tokens_per_sec", "tokens/s", "{:,.0f}")):
        row = s.summary[key]
        lines.append(f"  {label:<16}" + "".join(f"{form.format(row[k]):>10}"
                                                for k in ("median", "p10", "p90", "mean", "min", "max")))
    if s.hfu_note is not None:
        lines.append(f"  {s.hfu_note}")
    if per_step:
        lines += ["", f"  {'step':>8}{'line':>8}{'value':>14}{'tokens/s':>14}{'MFU':>9}{'HFU':>9}"]
        for step in s.steps:
            lines.append(f"  {step['index']:>8}{step['line']:>8}{step['value']:>14.6g}"
                         f"{step['tokens_per_sec']:>14,.0f}{step['mfu']:>9.2%}{step['hfu']:>9.2%}")
    return "\n".join(lines)
