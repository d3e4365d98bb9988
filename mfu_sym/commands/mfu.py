"""`mfu-sym mfu`: MFU and HFU of a measured throughput, a step time, or a training log."""

import click

from .options import build_model, documents_option, hardware_options, image_sample, model_options, \
    vision_options
from .types import COUNT, POSITIVE, SIZE

LOG_KINDS = ("tokens-per-sec", "tokens-per-sec-per-device", "step-time")  # mirrors mfu_sym.logs.LOG_KINDS (kept out of start-up)


@click.command()
@model_options
@hardware_options
@click.option("--tokens-per-sec", type=POSITIVE, help="measured global throughput (all devices), tokens/s")
@click.option("--tokens-per-sec-per-device", type=POSITIVE,
              help="measured throughput of one device, tokens/s (torchtitan logs this): the global rate is it x --gpus")
@click.option("--step-time", type=POSITIVE, help="measured seconds per step (needs --batch)")
@click.option("--batch", type=SIZE, help="global batch: sequences per step, all devices")
@click.option("--seq-len", type=SIZE, help="sequence length (default: the model file's)")
@click.option("--log", "log_file", type=click.Path(dir_okay=False),
              help="training log: JSON lines (.jsonl, .json) or CSV (.csv, .tsv)")
@click.option("--log-column", metavar="NAME", help="the log's column (or JSON key) holding the measurement")
@click.option("--log-kind", type=click.Choice(LOG_KINDS), default="tokens-per-sec", show_default=True,
              help="what the column holds: global tokens/s, one device's tokens/s (x --gpus), or seconds per "
                   "step (needs --batch)")
@click.option("--warmup", type=COUNT, default=0, show_default=True,
              help="log steps to exclude at the start")
@click.option("--per-step", is_flag=True, help="list every step of the log (text and JSON; default: the summary)")
@documents_option
@vision_options
@click.option("--log-cu-seqlens", "log_cu_seqlens", metavar="NAME",
              help="the log's column of the step's cu_seqlens (document offsets, from 0, all devices): FLOPs "
                   "summed per document, step by step")
@click.option("--log-sum-len", "log_sum_len", metavar="NAME",
              help="the log's column of the step's sum of document lengths, all devices (Megatron's ΣL)")
@click.option("--log-sum-sq-len", "log_sum_sq", metavar="NAME",
              help="the log's column of the step's sum of squared document lengths (Megatron's ΣL²)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--quiet", "-q", is_flag=True,
              help="one line: model, seq_len, preset and the MFU (text only; notes and warnings still go to stderr)")
def mfu(model_file, hardware, dtype, sparse, gpus, tokens_per_sec, tokens_per_sec_per_device, step_time, batch,
        seq_len, log_file, log_column, log_kind, warmup, per_step, documents, images, image_size, freeze_vision,
        log_cu_seqlens, log_sum_len, log_sum_sq, fmt, quiet, **switches):
    """MFU and HFU of MODEL at a measured throughput on GPUS devices of HARDWARE.

    MFU = tokens/s x training FLOPs per token / (GPUS x peak), the peak being the dense
    figure of --dtype (PaLM, arXiv:2204.02311 App. B). The FLOPs per token follow the
    counting switches (--mask, --recompute for HFU, ...). Give one of --tokens-per-sec,
    --tokens-per-sec-per-device (one device's rate, x GPUS), --step-time (with --batch) or
    --log (with --log-column). --quiet prints one line.

    Packed documents (--documents, or a log's --log-cu-seqlens or --log-sum-len and
    --log-sum-sq-len columns): FLOPs are summed per document and tokens are the documents'
    real tokens, the measured throughput's included. With --images (a multimodal
    config.json) each sample's images are encoded by the vision tower and billed per
    sample: MFU = samples/s x (decoder + encoder FLOPs of a sample) / peak, samples/s
    being the token rate over seq_len (text and image tokens) or batch / step time.

    \b
    Examples:
        mfu-sym mfu examples/llama3_8b.yaml --hardware h100 --gpus 8 --tokens-per-sec 100000
        mfu-sym mfu examples/gpt2_124m_nanogpt.yaml --mask full --hardware a100 \\
            --step-time 0.755 --batch 100
        mfu-sym mfu examples/llama3_8b.yaml --hardware b200 --gpus 64 --seq-len 8192 \\
            --log train.jsonl --log-column tokens_per_sec --warmup 10
    """
    given = [name for name, value in (("--tokens-per-sec", tokens_per_sec),
                                      ("--tokens-per-sec-per-device", tokens_per_sec_per_device),
                                      ("--step-time", step_time), ("--log", log_file)) if value is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --tokens-per-sec, --tokens-per-sec-per-device, --step-time "
                               "and --log" + (f" (got {', '.join(given)})" if given else ""))
    if quiet and fmt == "json":
        raise click.UsageError("--quiet applies to the text output (JSON is for scripts already)")
    if quiet and per_step:
        raise click.UsageError("--quiet prints one line; --per-step lists every step (give one)")
    if step_time is not None and batch is None:
        raise click.UsageError("--step-time needs --batch (global sequences per step)")
    document_columns = (log_cu_seqlens, log_sum_len, log_sum_sq)
    if log_file is None and (log_column is not None or warmup or per_step or log_kind != "tokens-per-sec"
                             or any(c is not None for c in document_columns)):
        raise click.UsageError("--log-column, --log-kind, --warmup, --per-step, --log-cu-seqlens, --log-sum-len "
                               "and --log-sum-sq-len apply only with --log")
    if log_file is not None:
        if log_column is None:
            raise click.UsageError("--log needs --log-column (the column or key to read)")
        if log_kind == "step-time" and batch is None and all(c is None for c in document_columns):
            raise click.UsageError("--log-kind step-time needs --batch (global sequences per step)")

    from ..hardware import load_hardware
    from ..peaks import choose_peak
    from ..render import json, training
    model = build_model(model_file, **switches)
    peak = choose_peak(hardware, dtype, sparse, registry=load_hardware(root=model.library.root))
    if images is not None and (log_file is not None or documents is not None):
        raise click.UsageError("--images applies to --tokens-per-sec and --step-time (not with --log or --documents)")
    vision = image_sample(model, model_file, seq_len, images, image_size, freeze_vision)
    if log_file is not None:
        from ..logs import from_log
        result = from_log(model, peak, gpus, log_file, log_column, log_kind, warmup=warmup, batch=batch,
                          seq_len=seq_len, documents=documents, cu_seqlens=log_cu_seqlens, sum_len=log_sum_len,
                          sum_sq_len=log_sum_sq)
    else:
        from ..mfu import measure
        result = measure(model, peak, gpus, tokens_per_sec=tokens_per_sec, step_time=step_time,
                         batch=batch, seq_len=seq_len, documents=documents, vision=vision,
                         tokens_per_sec_per_device=tokens_per_sec_per_device)
    if fmt == "json":
        if log_file is not None:  # streamed: a log's steps are written as they are formatted
            for piece in result.json_chunks(per_step):
                click.echo(piece, nl=False)
            click.echo("")
        else:
            click.echo(json.dumps(result.to_dict()))
        return
    if quiet:
        click.echo(training.quiet_log_series(result) if log_file is not None else training.quiet_measurement(result))
    elif log_file is not None:
        for piece in training.log_series_chunks(result, model_file, per_step):
            click.echo(piece, nl=False)
        click.echo("")
    else:
        click.echo(training.measurement(result, model_file))
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
