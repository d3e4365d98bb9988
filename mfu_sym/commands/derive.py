"""`mfu-sym derive`: per-component formulas and values of a model."""

import click

from .options import FORMATS, build_model, context_note, echo_notes, documents_option, image_sample, model_options, \
    vision_options
from .types import EXACT, SIZE


@click.command()
@model_options
@click.option("--seq-len", type=SIZE, help="sequence length (default: the model file's)")
@click.option("--batch", type=SIZE, help="sequences per step (default: the model file's, or 1)")
@click.option("--capacity-factor", type=EXACT,
              help="MoE: expert FLOPs executed with C * tokens * top_k / n_experts slots per expert")
@documents_option
@vision_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--quiet", "-q", is_flag=True,
              help="one line: model, seq_len, preset and the training FLOPs per token and per step (text only; "
                   "notes still go to stderr)")
def derive(model_file, seq_len, batch, capacity_factor, documents, images, image_size, freeze_vision, fmt, quiet,
           **switches):
    """Per-component FLOP and parameter formulas of MODEL, and their values.

    MODEL is a model YAML (see the README) or a Hugging Face config (any .json file).

    With --documents each sequence is a pack of documents under a document mask: every
    count is summed per document, per-token figures are per real token. With --images (a
    multimodal config.json) each sample's images are encoded by the vision tower, whose
    FLOPs are billed per sample beside the decoder's.

    \b
    Examples:
        mfu-sym derive examples/llama3_8b.yaml --seq-len 8192 --format json
        mfu-sym derive examples/llama3_8b.yaml --seq-len 8192 --documents 1024,3072,4096
        mfu-sym derive examples/llama3_8b.yaml --seq-len 8192 --documents exponential:mean=1024
        mfu-sym derive gemma3_27b/config.json --seq-len 4096 --images 2 --image-size 896x896
    """
    if quiet and fmt != "text":
        raise click.UsageError(f"--quiet applies to the text output (not --format {fmt})")
    model = build_model(model_file, **switches)
    if fmt in ("markdown", "latex"):  # the same document `mfu-sym latex` writes, as a fragment
        if documents is not None or images is not None:
            raise click.UsageError(f"--{'documents' if documents is not None else 'images'} applies to the text and "
                                   "JSON output (the document shows the formulas of one sequence)")
        from ..render import document, latex, markdown
        context_note(model, seq_len)
        doc = document.build(model, seq_len=seq_len, batch=batch, source=model_file)
        click.echo(markdown.to_markdown(doc) if fmt == "markdown" else latex.to_latex(doc))
        return
    from ..render import json, text
    if images is not None and documents is not None:
        raise click.UsageError("--images and --documents together are not modelled (a pack of multimodal samples)")
    report = model.report(seq_len=seq_len, batch=batch, capacity_factor=capacity_factor, context_ok=True,
                          documents=documents)
    vision = image_sample(model, model_file, int(report["run"]["seq_len"]), images, image_size, freeze_vision)
    if vision is not None:
        report["vision"] = vision
    context_note(model, seq_len)
    if quiet:
        echo_notes(report.get("notes", ()))  # the text output's NOTE lines, kept on standard error
        click.echo(text.derive_quiet(report))
        return
    click.echo(text.derive(model, report, model_file) if fmt == "text" else json.derive(report))
