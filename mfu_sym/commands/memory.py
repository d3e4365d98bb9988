"""`mfu-sym memory`: training memory per device (weights, gradients, optimizer states,
activations)."""

import click

from .options import build_model, model_options
from .types import SIZE


@click.command("memory")
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
@click.option("--cp", type=SIZE, default=1, show_default=True,
              help="context-parallel degree: splits each sequence's positions (must divide --seq-len)")
@click.option("--ep", type=SIZE, default=1, show_default=True,
              help="expert-parallel degree: a device keeps 1/ep of the routed experts (must divide n_experts "
                   "and --dp x --cp)")
@click.option("--activations", "activation_convention", type=click.Choice(["implementation", "korthikanti"]),
              default="implementation", show_default=True,
              help="implementation: the tensors transformers saves for backward, for this model's layers; "
                   "korthikanti: Korthikanti et al. 2022's GPT-3 constants (Table 2)")
@click.option("--sdpa", is_flag=True,
              help="attention through transformers' SDPA path (fused kernel; sliding-window layers get a "
                   "materialised mask and repeated K/V) rather than eager or FlashAttention")
@click.option("--activation-dtype", help="dtype of the stored activations (default: --dtype)")
@click.option("--attention-dropout", is_flag=True,
              help="attention dropout > 0 in training: eager attention also keeps a mask and the dropped probabilities")
@click.option("--hardware", metavar="NAME", help="accelerator to compare the total with its memory")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def memory_command(model_file, seq_len, batch, optimizer, dtype, grad_dtype, dp, tp, pp, zero, sequence_parallel,
                   cp, ep, activation_convention, sdpa, activation_dtype, attention_dropout, hardware, fmt,
                   **switches):
    """Training memory per device of MODEL: weights, gradients, optimizer states and
    activations.

    Weights, gradients and optimizer states follow ZeRO's accounting (arXiv:1910.02054
    §3.1: 16 bytes a parameter for bf16 and Adam), split over --tp x --pp and, by --zero
    stage, over --dp. Activations are, by default, the tensors the transformers
    implementation saves for backward, layer kind by layer kind (formulas/activations.yaml,
    checked exactly against transformers), for --recompute none, selective or full and
    --attention-kernel eager or flash (or --sdpa); --activations korthikanti gives
    Korthikanti et al. 2022's constants (arXiv:2205.05198 §4, Table 2) instead.

    \b
    Examples:
        mfu-sym memory examples/llama3_8b.yaml --seq-len 8192 --batch 1 --hardware h100
        mfu-sym memory examples/llama3_70b.yaml --seq-len 8192 --tp 8 --pp 4 --dp 16 \\
            --zero 1 --sequence-parallel --recompute selective --format json
        mfu-sym memory examples/llama3_8b.yaml --seq-len 131072 --cp 16 --attention-kernel flash
    """
    from ..memory import TrainingMemory
    if sdpa and switches.get("attention_kernel") == "eager":
        raise click.UsageError("--sdpa is transformers' fused SDPA path: it cannot be combined with "
                               "--attention-kernel eager")
    model = build_model(model_file, **switches)
    device = None
    if hardware is not None:
        from ..hardware import load_hardware
        device = load_hardware(root=model.library.root).resolve(hardware)
    memory = TrainingMemory(model, dtype=dtype, grad_dtype=grad_dtype, optimizer=optimizer, tp=tp, pp=pp, dp=dp,
                            zero=zero, sequence_parallel=sequence_parallel, activations=activation_convention,
                            kernel="sdpa" if sdpa else None, act_dtype=activation_dtype, cp=cp, ep=ep,
                            dropout=attention_dropout)
    report = memory.report(seq_len=seq_len, batch=batch, device=device)
    from ..render import json, training
    click.echo(json.memory(report) if fmt == "json" else training.memory(report, model_file))
