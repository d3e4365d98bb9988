"""Text of the commands about a training run: mfu (one throughput, or every step of a
log), budget and memory."""

from .escape import printable
from .units import flops as si_flops
from .units import grouped, nbytes, percent, seconds, si, significant, tflops


def _rate(flops):
    return si_flops(flops, "FLOP/s")


# ------------------------------------------------------------------ mfu

def _peak_lines(peak, devices):
    lines = [f"  {'hardware':<17}{devices:,} x {peak.device.name}",
             f"  {'peak':<17}{tflops(peak.tflops, peak.unit)} per device: {peak.describe()}",
             f"  {'':<17}{_rate(peak.flops * devices)} in total"]
    for i, source in enumerate(peak.sources):
        lines.append(f"  {'peak source' if i == 0 else '':<17}{source.cite()}")
    return lines


# Conventions lines that apply only to some models (mfu.STRUCTURAL_SWITCHES): left out of
# the text when the result's `applies` does not name them (JSON keeps every switch).
_STRUCTURAL = ("mla", "mtp")


def _counted_lines(conventions, applies=None):
    # the conventions in words ("explained"), as `derive` prints them; with `applies`, only the
    # structural switches (mla, mtp) the model has
    explained = conventions.get("explained", conventions)
    items = [(key, value) for key, value in explained.items()
             if applies is None or key not in _STRUCTURAL or key in applies]
    return [f"  {'counted under' if i == 0 else '':<17}{key}: {value}" for i, (key, value) in enumerate(items)]


def _quiet_head(result):
    return f"{result.model_name}, seq_len {result.seq_len:,}, preset {result.conventions.get('preset', '?')}"


def quiet_measurement(m):
    """`mfu --quiet` at one throughput: one line."""
    return f"{_quiet_head(m)}: MFU {percent(m.mfu)} (HFU {percent(m.hfu)})"


def quiet_log_series(s):
    """`mfu --log --quiet`: one line, the median over the steps used."""
    return (f"{_quiet_head(s)}: median MFU {percent(s.summary['mfu']['median'])} "
            f"(HFU {percent(s.summary['hfu']['median'])}) over {len(s.columns['mfu']):,} steps")


def _flops_lines(result, conventions):
    lines = [f"  {'FLOPs per token':<17}{grouped(result.flops_per_token)} "
             f"(model FLOPs: training, as the convention counts it)"]
    if result.hardware_flops_per_token != result.flops_per_token:
        lines.append(f"  {'':<17}{grouped(result.hardware_flops_per_token)} (hardware FLOPs: with recomputation)")
    return lines + _counted_lines(conventions, getattr(result, "applies", None))


def measurement(m, source):
    """`mfu` at one throughput or step time (an mfu.Measurement)."""
    total, each = m.achieved_flops
    lines = [f"MFU of {m.model_name}  ({printable(source)})"]
    lines += _peak_lines(m.peak, m.devices)
    run = f"seq_len {m.seq_len:,}"
    if m.step_time is not None:
        run += f", batch {m.batch:,} sequences in {seconds(m.step_time)} per step"
    elif m.batch is not None:
        tokens = m.documents["tokens_per_pack"] if m.documents else m.seq_len
        run += f", batch {m.batch:,} ({seconds(m.batch * tokens / m.tokens_per_sec)} per step)"
    lines += [f"  {'run':<17}{run}"] + _documents_lines(m.documents) + _vision_lines(m.vision, m.seq_len)
    if getattr(m, "given", None) == "tokens_per_sec_per_device":
        lines += [f"  {'throughput':<17}{significant(m.tokens_per_sec_per_device_given)} tokens/s per device (given), "
                  f"{significant(m.tokens_per_sec)} in total (x {m.devices:,} devices)"]
    else:
        lines += [f"  {'throughput':<17}{significant(m.tokens_per_sec)} tokens/s in total"
                  + (" (given)" if getattr(m, "given", None) == "tokens_per_sec" else "")
                  + f", {significant(m.tokens_per_sec / m.devices)} per device"]
    lines += _flops_lines(m, m.conventions)
    lines += [f"  {'achieved':<17}{_rate(total)} in total, {_rate(each)} per device",
              f"  {'MFU':<17}{percent(m.mfu)}"]
    if m.hfu_note is None:
        hw_total, hw_each = m.achieved_hardware_flops
        lines.append(f"  {'HFU':<17}{percent(m.hfu)}  (hardware FLOPs {_rate(hw_each)} per device)")
    else:
        lines.append(f"  {'HFU':<17}{percent(m.hfu)}  ({m.hfu_note.removeprefix('HFU ')})")
    return "\n".join(lines)


def _vision_lines(vision, seq_len):
    """A vision-language sample's images and per-sample FLOPs, or nothing."""
    if not vision:
        return []
    flops = vision["flops_per_sample"]
    return [f"  {'images':<17}{vision['images']} a sample of {printable(vision['image_size'])} ({vision['family']} "
            f"vision tower{', frozen' if vision['frozen_encoder'] else ''}): {vision['image_tokens']:,} of the "
            f"{seq_len:,} decoder tokens",
            f"  {'per sample':<17}{grouped(flops['total'])} training FLOPs = decoder {grouped(flops['decoder'])} + "
            f"vision encoder {grouped(flops['encoder'])}; billed per sample (the FLOPs per token below are the "
            f"sample's over its {seq_len:,} decoder tokens: every sample holds the same images)"]


def _documents_lines(documents):
    """The packed documents of a run, or nothing."""
    if not documents:
        return []
    if "columns" in documents:
        return [f"  {'documents':<17}packed, per step from the log's {' and '.join(map(repr, documents['columns']))}: "
                "FLOPs summed per document, tokens are the documents' tokens"]
    return [f"  {'documents':<17}packed: {printable(documents['spec'])}; {documents['tokens_per_pack']:,} real tokens "
            f"and {documents['padding_per_pack']:,} padding per sequence; tokens are the documents' tokens"]


def log_series(s, source, per_step=False):
    """`mfu --log`: the summary of every step of a training log (a logs.LogSeries), and
    with `per_step` each step."""
    return "".join(log_series_chunks(s, source, per_step))


def log_series_chunks(s, source, per_step=False):
    """The text of log_series in pieces, the steps formatted a block at a time."""
    log = s.log
    lines = [f"MFU of {s.model_name}  ({printable(source)}), per step of {printable(log.path)}"]
    lines += _peak_lines(s.peak, s.devices)
    run = f"seq_len {s.seq_len:,}" + (f", batch {s.batch:,}" if s.batch is not None else "")
    what = {"tokens-per-sec": "global tokens/s",
            "tokens-per-sec-per-device": f"one device's tokens/s, x {s.devices:,} devices"}.get(s.kind,
                                                                                             "seconds per step")
    lines += [f"  {'run':<17}{run}"] + _documents_lines(s.documents)
    lines += [f"  {'log':<17}column {log.column!r} ({what}): {len(log.values):,} steps, "
              f"{s.warmup:,} warm-up excluded, {len(s.columns['mfu']):,} used"
              + (f"; skipped (no value): {log.skipped:,}" if log.skipped else "")]
    lines += _flops_lines(s, s.conventions)
    lines += ["", f"  {'':<16}{'median':>10}{'p10':>10}{'p90':>10}{'mean':>10}{'min':>10}{'max':>10}"]
    for key, label, form in (("mfu", "MFU", percent), ("hfu", "HFU", percent),
                             ("tokens_per_sec", "tokens/s", significant)):
        row = s.summary[key]
        lines.append(f"  {label:<16}" + "".join(f"{form(row[k]):>10}"
                                                for k in ("median", "p10", "p90", "mean", "min", "max")))
    if s.hfu_note is not None:
        lines.append(f"  {s.hfu_note}")
    if per_step:
        lines += ["", f"  {'step':>8}{'line':>8}{'value':>14}{'tokens/s':>14}{'MFU':>9}{'HFU':>9}"]
    yield "\n".join(lines)
    if per_step:
        for rows in s.step_rows():
            yield "".join(f"\n  {index:>8}{line:>8}{significant(value):>14}{significant(tps):>14}"
                          f"{percent(mfu):>9}{percent(hfu):>9}" for index, line, value, tps, mfu, hfu in rows)


# ------------------------------------------------------------------ budget

def _big(value, unit="FLOP"):
    return f"{grouped(value)}  ({si(value, unit)})"


def budget(p, source):
    """`budget` (a planning result): FLOPs of a token budget or the steps a FLOP budget
    buys, 6ND beside it, and the time at an assumed MFU."""
    lines = [f"Training budget of {p.model_name}  ({printable(source)})",
             f"  {'run':<17}seq_len {p.seq_len:,}" + (f", batch {p.batch:,} sequences per step" if p.batch else "")]
    lines += _documents_lines(p.documents)
    lines += [f"  {'FLOPs per token':<17}{grouped(p.flops_per_token)} "
             f"(model FLOPs: training, as the convention counts it)"]
    lines += _counted_lines(p.conventions, getattr(p, "applies", None))
    if p.target_flops is not None:
        lines += [f"  {'FLOP budget':<17}{_big(p.target_flops)}",
                  f"  {'FLOPs per step':<17}{_big(p.flops_per_step)}",
                  f"  {'steps':<17}{int(p.steps):,}  (ceil(budget / FLOPs per step))"]
    lines.append(f"  {'tokens':<17}{_big(p.tokens, ' tokens')}")
    if p.target_flops is None and p.steps is not None:
        lines.append(f"  {'steps':<17}{int(p.steps):,}  (ceil(tokens / (batch x "
                     + ("real tokens a sequence)))" if p.documents else "seq_len)))"))
    lines.append(f"  {'training FLOPs':<17}{_big(p.flops)}"
                 + ("  (whole steps)" if p.target_flops is not None else ""))
    ratio = float(p.flops / p.six_nd)
    lines.append(f"  {'6ND':<17}{_big(p.six_nd)}  with N = {grouped(p.params_total)} total parameters; "
                 f"the count above is {significant(ratio)} x 6ND")
    if p.peak is not None:
        wall = p.seconds
        lines += [f"  {'time':<17}at MFU {percent(p.mfu)} on {p.devices:,} x {p.peak.device.name} "
                  f"({p.peak.dtype} {p.peak.kind}, {tflops(p.peak.tflops, p.peak.unit)} each, "
                  f"source: {', '.join(s.key for s in p.peak.sources)})",
                  f"  {'':<17}{significant(wall)} s = {significant(wall / 3600)} hours = "
                  f"{significant(wall / 86400)} days",
                  f"  {'device-hours':<17}{significant(p.device_hours)}"]
    return "\n".join(lines)


# ------------------------------------------------------------------ memory

def memory(r, source=None):
    """`memory` (a TrainingMemory report): bytes per device by kind, with formulas."""
    run, par, prec = r["run"], r["parallelism"], r["precision"]
    lines = [f"Training memory per device: {r['model']}" + (f"  ({printable(source)})" if source else ""),
             f"  micro-batch {run['micro_batch']:,} x seq_len {run['seq_len']:,}; tp {par['tp']}, pp {par['pp']}, "
             f"dp {par['dp']} ({par['devices']:,} device{'s' if par['devices'] > 1 else ''}), "
             f"ZeRO stage {par['zero']}, sequence parallel {'on' if par['sequence_parallel'] else 'off'}"
             + "".join(f", {k} {par[k]}" for k in ("cp", "ep") if par.get(k, 1) != 1)
             + f"; recompute {r['recompute']}",
             f"  weights {prec['weights']}, gradients {prec['gradients']}, optimizer {prec['optimizer']} "
             f"(K = {prec['optimizer_bytes_per_param']} bytes/param"
             + (", fp32 master copy included" if prec["master_weights"] else "") + f"): "
             f"{prec['bytes_per_param']} bytes/param before sharding",
             f"  parameters {grouped(r['params']['total'])}", "",
             f"  {'':<13}{'bytes':>22}{'GB':>11}   formula (N = parameters)"]
    for name in ("weights", "gradients", "optimizer", "activations"):
        if name not in r["bytes"]:
            lines.append(f"  {name:<13}{'not modelled':>22}{'':>11}   (see below)")
            continue
        value = r["bytes"][name]
        lines.append(f"  {name:<13}{grouped(value):>22}{significant(float(value) / 1e9):>11}   {r['formulas'][name]}")
    total = r["bytes"]["total"]
    lines.append(f"  {'total':<13}{grouped(total):>22}{significant(float(total) / 1e9):>11}"
                 + ("   (at least: no activations)" if "activations_not_modelled" in r else ""))
    if "activations_not_modelled" in r:
        lines.append(f"  activations not modelled for {r['activations_not_modelled']}")
    elif r["activations_per_layer"] is not None:
        lines.append(f"  activations: {grouped(r['layers_held'])} layers held x {grouped(r['activations_per_layer'])} "
                     f"bytes a layer")
    lines += _activation_lines(r)
    if r["rounded_up"]:
        lines.append(f"  rounded up to whole bytes: {', '.join(r['rounded_up'])}")
    if "device" in r:
        d = r["device"]
        verdict = "fits" if d["fits"] else "does NOT fit"
        if "activations_not_modelled" in r and d["fits"]:
            verdict = "fits before activations (not modelled)"
        lines.append(f"  on {d['name']} ({nbytes(d['memory_bytes'])}): {percent(d['fraction_used'])} of its memory, "
                     f"{verdict}")
    lines += ["", "Sources"]
    lines += [f"  {k:<28}{v}" for k, v in r["references"].items()]
    lines += ["", "Assumptions"]
    lines += [f"  - {a}" for a in r["assumptions"]]
    return "\n".join(lines)


def _activation_lines(r):
    """How activations were counted and, for the implementation's saved tensors, what is
    stored: one row per tensor and layer kind, largest first."""
    model = r.get("activations_model", {})
    if model.get("convention") != "implementation":
        return [f"  activations counted by: {model.get('convention', 'korthikanti')} (Korthikanti et al. 2022 "
                "constants)"]
    lines = [f"  activations counted by: implementation (the tensors transformers saves for backward): attention "
             f"{model['kernel']}, {model['dtype']}, attention dropout {'on' if model['attention_dropout'] else 'off'}"]
    if "activations_itemised" not in r:
        return lines
    par = r["parallelism"]
    scale = "" if par["pp"] == 1 else (
        f"; the first pipeline stage holds {grouped(r['layers_held'])} layers' worth of the layer rows (pp "
        "micro-batches of its layers) and pp micro-batches of the embedding rows, the final norm and loss "
        "being on the last stage")
    lines += ["", f"  saved for backward, one micro-batch through every layer (bytes in all = layers x bytes a "
                  f"layer){scale}",
              f"  {'tensor':<22}{'group':<16}{'layers':<20}{'bytes a layer':>16}{'bytes in all':>18}"]
    for row in r["activations_itemised"]:
        where = "once per forward" if row["layers"] == "model" else f"{row['count']:,} x {row['layers']}"
        lines.append(f"  {row['tensor']:<22}{row['group']:<16}{where:<20}{grouped(row['bytes_each']):>16}"
                     f"{grouped(row['bytes']):>18}")
    return lines
