"""`mfu-sym memory`: training memory per device (weights, gradients, optimizer states,
activations)."""

import click

from ..cli import build_model, main, model_options
from ..render import printable
from .types import SIZE


@main.command("memory")
@model_options(command="memory")
@click.option("--seq-len", type=SIZE, help="sequence length (default: the model file's)")
@click.option("--batch", type=SIZE,
              help="micro-batch: sequences one device runs per forward/backward (default: the model file's, or 1)")
@click.option("--optimizer", default="adam", show_default=True,
              help="adam, adamw, adam-8bit, sgd-momentum, sgd or lion")
@click.option("--dtype", default="bf16", show_default=True,
              help="dtype of the weights (an fp32 master copy is kept below 32 bits)")
@click.option("--grad-dtype", help="dtype of the gradients (default: --dtype)")
@click.option("--dp", type=SIZE, default=1, show_default=True, help="data-parallel degree")
@click.option("--tp", type=SIZE, default=1, show_default=True, help="tensor-parallel degree")
@click.option("--pp", type=SIZE, default=1, show_default=True, help="pipeline-parallel degree")
@click.option("--zero", type=click.IntRange(0, 3), default=0, show_default=True,
              help="ZeRO stage: 1 partitions optimizer states, 2 also gradients, 3 also weights, across --dp")
@click.option("--sequence-parallel", is_flag=True, help="Megatron sequence parallelism (with --tp)")
@click.option("--hardware", metavar="NAME", help="accelerator to compare the total with its memory")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def memory_command(model_file, seq_len, batch, optimizer, dtype, grad_dtype, dp, tp, pp, zero, sequence_parallel,
                   hardware, fmt, **switches):
    """Training memory per device of MODEL: weights, gradients, optimizer states and
    activations.

    Weights, gradients and optimizer states follow ZeRO's accounting (arXiv:1910.02054
    §3.1: 16 bytes a parameter for bf16 and Adam), split over --tp x --pp and, by --zero
    stage, over --dp. Activations follow Korthikanti et al. 2022 (arXiv:2205.05198 §4,
    Table 2) for --recompute none, selective or full.

    \b
    Examples:
        mfu-sym memory examples/llama3_8b.yaml --seq-len 8192 --batch 1 --hardware h100
        mfu-sym memory examples/llama3_70b.yaml --seq-len 8192 --tp 8 --pp 4 --dp 16 \\
            --zero 1 --sequence-parallel --recompute selective --format json
    """
    from ..memory import TrainingMemory
    model = build_model(model_file, **switches)
    device = None
    if hardware is not None:
        from ..hardware import load_hardware
        device = load_hardware(root=model.library.root).resolve(hardware)
    memory = TrainingMemory(model, dtype=dtype, grad_dtype=grad_dtype, optimizer=optimizer, tp=tp, pp=pp, dp=dp,
                            zero=zero, sequence_parallel=sequence_parallel)
    report = memory.report(seq_len=seq_len, batch=batch, device=device)
    if fmt == "json":
        import json
        from .infer import to_json_value
        click.echo(json.dumps(to_json_value(report), indent=2))
    else:
        click.echo(to_text(report, model_file))


def to_text(r, source=None):
    from ..export import grouped
    run, par, prec = r["run"], r["parallelism"], r["precision"]
    lines = [f"Training memory per device: {r['model']}" + (f"  ({printable(source)})" if source else ""),
             f"  micro-batch {run['micro_batch']:,} x seq_len {run['seq_len']:,}; tp {par['tp']}, pp {par['pp']}, "
             f"dp {par['dp']} ({par['devices']:,} device{'s' if par['devices'] > 1 else ''}), "
             f"ZeRO stage {par['zero']}, sequence parallel {'on' if par['sequence_parallel'] else 'off'}; "
             f"recompute {r['recompute']}",
             f"  weights {prec['weights']}, gradients {prec['gradients']}, optimizer {prec['optimizer']} "
             f"(K = {prec['optimizer_bytes_per_param']} bytes/param"
             + (", fp32 master copy included" if prec["master_weights"] else "") + f"): "
             f"{prec['bytes_per_param']} bytes/param before sharding",
             f"  parameters {grouped(r['params']['total'])}", "",
             f"  {'':<13}{'bytes':>22}{'GB':>11}   formula (N = parameters)"]
    for name in ("weights", "gradients", "optimizer", "activations"):
        value = r["bytes"][name]
        lines.append(f"  {name:<13}{grouped(value):>22}{float(value) / 1e9:>11.3f}   {r['formulas'][name]}")
    total = r["bytes"]["total"]
    lines.append(f"  {'total':<13}{grouped(total):>22}{float(total) / 1e9:>11.3f}")
    lines.append(f"  activations: {grouped(r['layers_held'])} layers held x {grouped(r['activations_per_layer'])} "
                 f"bytes a layer")
    if r["rounded_up"]:
        lines.append(f"  rounded up to whole bytes: {', '.join(r['rounded_up'])}")
    if "device" in r:
        d = r["device"]
        verdict = "fits" if d["fits"] else "does NOT fit"
        lines.append(f"  on {d['name']} ({d['memory_bytes'] / 1e9:,.1f} GB): {d['fraction_used']:.1%} of its memory, "
                     f"{verdict}")
    lines += ["", "Sources"]
    lines += [f"  {k:<28}{v}" for k, v in r["references"].items()]
    lines += ["", "Assumptions"]
    lines += [f"  - {a}" for a in r["assumptions"]]
    return "\n".join(lines)
