"""What the commands share: the model options and the switches refused where they change
nothing, building the model, notes on standard error, and the peak options. Commands
import this module, never cli.py (which imports the commands): no import circle."""

import click

from .types import SIZE

FORMATS = ("text", "json", "markdown", "latex")
# Switches that change no number a command prints: offered nowhere, refused if given.
NOT_APPLICABLE = {
    "memory": {
        "mask": "activation memory does not depend on which keys a query sees",
        "nonmatmul": "memory counts bytes, not FLOPs",
        "mla": "parameters are the same in both MLA forms, and training (whose saved tensors are counted) runs "
               "the naive form",
    },
    "infer": {
        "attention_kernel": "inference has no backward pass",
        "recompute": "inference stores no activations to recompute",
    },
}
# Commands for which packed documents (--documents) change nothing they print, and why;
# derive, mfu, budget and sweep take them (documents_option).
NO_DOCUMENTS = {
    "analyze": "its derivatives, crossovers and identities are in the length of one sequence; `derive "
               "--documents` gives a pack's figures",
    "latex": "the document shows the formulas of one sequence (a pack costs them summed over its documents); "
             "`derive --documents` gives a pack's figures",
    "plot": "the plots are over the length of one sequence; `derive --documents` gives a pack's figures",
    "report": "the page shows the formulas and plots of one sequence; `derive --documents` gives a pack's figures",
    "reconcile": "conventions are reconciled per sequence; `derive --documents` gives a pack's figures",
    "memory": "activations are stored per token, and eager attention stores the whole square of the pack "
              "whatever its documents",
    "infer": "a decode step extends one sequence: packed documents are a training input",
}
# Commands that print model FLOPs only (no hardware FLOPs, no HFU): recomputation changes
# their numbers only under a convention that counts it (Narayanan et al. 2021).
MODEL_FLOPS_ONLY = ("latex", "analyze", "reconcile", "budget", "plot")


def model_options(function=None, *, command=None):
    """MODEL (a model file, a directory holding a config.json, or a Hugging Face hub id),
    --revision, --preset and the counting switches, shared by every command that builds a
    model. A command takes them as `**switches` and passes them on to `build_model`.
    Switches default to None: the preset decides, and a switch given overrides it. A
    switch listed in NOT_APPLICABLE for `command` is hidden and refused if given."""
    if function is None:
        return lambda f: model_options(f, command=command)
    skip = NOT_APPLICABLE.get(command, {})
    options = [
        click.argument("model_file", metavar="MODEL", type=click.Path()),
        click.option("--revision", metavar="REV",
                     help="branch, tag or commit when MODEL is a Hugging Face hub id (owner/name) [main]"),
        click.option("--preset", default="exact", show_default=True,
                     help="counting convention (see `mfu-sym presets`)"),
        click.option("--mask", type=click.Choice(["causal", "full", "half"]), hidden="mask" in skip,
                     help="keys per query: causal t (window-aware), full S, half S/2 [preset's]"),
        click.option("--attention-kernel", type=click.Choice(["eager", "flash"]), hidden="attention_kernel" in skip,
                     help="attention backward: eager 2x forward, or flash (QK^T recomputed) [preset's]"),
        click.option("--recompute", type=click.Choice(["none", "selective", "full"]), hidden="recompute" in skip,
                     help="activation recomputation: adds hardware FLOPs (HFU) [preset's]"),
        click.option("--nonmatmul/--matmul-only", "nonmatmul", default=None, hidden="nonmatmul" in skip,
                     help="also count softmax, norms, activations, residual adds, rotary"),
        click.option("--mla", type=click.Choice(["naive", "absorbed"]), hidden="mla" in skip,
                     help="MLA as trained (keys and values up-projected) or absorbed (scores in the latent)"),
        click.option("--mtp/--no-mtp", default=None, help="count multi-token-prediction modules in the totals"),
        click.option("--variant", "variants", multiple=True, metavar="TERM=CHOICE",
                     help="how to count a disputed term (see `mfu-sym variants`); repeatable"),
        _formulas(),
    ]
    if command in NO_DOCUMENTS:  # hidden, refused by build_model
        options.append(click.option("--documents", hidden=True))
    for option in reversed(options):
        function = option(function)
    return function


def build_model(model_file, formula_dirs=(), preset="exact", nonmatmul=None, **switches):
    """The Model of MODEL under the switches, after refusing any switch that would change
    nothing the running command prints."""
    from ..loader import load
    command = click.get_current_context().info_name
    if switches.pop("documents", None) is not None:
        raise click.UsageError(f"--documents does not apply to {command}: {NO_DOCUMENTS[command]}")
    switches["variants"] = parse_variants(switches.get("variants") or ())
    given = {k: v for k, v in {**switches, "nonmatmul": nonmatmul}.items() if v is not None}
    for name in given:
        if name in NOT_APPLICABLE.get(command, {}):
            raise click.UsageError(f"--{name.replace('_', '-')} does not apply to {command}: "
                                   f"{NOT_APPLICABLE[command][name]}")
    if nonmatmul is not None:
        switches["nonmatmul"] = ("all",) if nonmatmul else ()
    from ..errors import UsageError
    try:
        model = load(model_file, preset=preset, formulas=formula_dirs, **switches)
    except UsageError as exc:
        if exc.field != "variants":
            raise
        raise click.UsageError(f"--variant: {exc.message}") from None  # a usage error: exit 2
    _refuse_idle_switches(model, command, given)
    echo_notes(model.arch.notes)
    return model


def _refuse_idle_switches(model, command, given):
    """A switch given for a part the model does not have, or that the convention does not
    count, changes nothing: say so rather than print numbers that ignored it."""
    arch, conv = model.arch, model.conventions

    def refuse(name, why):
        raise click.UsageError(f"--{name.replace('_', '-')}: {why}")

    from .. import stack
    if "mla" in given and not stack.count_of(arch.layers, "mixer", "mla"):
        refuse("mla", "the model has no multi-head latent attention layers" + (
            " (its DSA layers' core is --variant dsa_core=...)" if stack.count_of(arch.layers, "mixer", "dsa")
            else " (kv_lora_rank)"))
    if "mtp" in given and not arch.n_mtp_layers:
        refuse("mtp", "the model has no multi-token-prediction modules")
    if conv.flops_from == "params":
        if "nonmatmul" in given:
            refuse("nonmatmul", f"the {conv.preset} preset counts 2 FLOPs per parameter, no elementwise ops")
        for name in ("mask", "attention_kernel"):
            if name in given and not conv.attention_core:
                refuse(name, f"the {conv.preset} preset has no attention term")
    if "recompute" in conv.overridden and command in MODEL_FLOPS_ONLY and not conv.count_recompute:
        refuse("recompute", f"recomputation adds hardware FLOPs, which {command} does not report (the "
                            f"{conv.preset} preset leaves them out of model FLOPs); `derive` and `mfu` (HFU) "
                            "report them")


def parse_variants(texts):
    """--variant TERM=CHOICE, repeatable, into {TERM: CHOICE} (None when none given). The
    names and choices are checked against the variants table when the model is built."""
    if not texts:
        return None
    out = {}
    for text in texts:
        name, sep, choice = str(text).partition("=")
        name, choice = name.strip(), choice.strip()
        if not sep or not name or not choice:
            raise click.UsageError(f"--variant: {text!r} is not TERM=CHOICE (see `mfu-sym variants`)")
        if name in out and out[name] != choice:
            raise click.UsageError(f"--variant: {name} given twice ({out[name]}, {choice})")
        out[name] = choice
    return out


def echo_notes(notes):
    """What the reader should know beyond the numbers, on standard error (so JSON on
    standard output stays clean)."""
    from ..render import printable
    for note in notes:
        click.echo(f"note: {printable(note)}", err=True)


def context_note(model, seq_len):
    """Say so when the run length falls back to the model's longest context."""
    if model.run_length(seq_len, context_ok=True)[1] == "context":
        echo_notes(model.notes("context")[:1])


def documents_option(function):
    """--documents SPEC: each sequence is a pack of documents under a document mask."""
    return click.option(
        "--documents", metavar="SPEC",
        help="packed documents per sequence: lengths (1024,3072,4096 or 512x16; the rest is padding), "
             "a file of lengths (a corpus sample filling each pack), or a distribution "
             "(exponential:mean=M, uniform:min=A,max=B, lognormal:mu=M,sigma=S)")(function)


def vision_options(function):
    """--images, --image-size, --freeze-vision: a vision-language sample's images, counted by
    the model's vision tower (mfu_sym/vision/) and billed per sample."""
    options = [
        click.option("--images", type=click.IntRange(0, 10_000),
                     help="images per sample, encoded by the model's vision tower (a multimodal config.json); "
                          "billed per sample"),
        click.option("--image-size", metavar="HxW",
                     help="size of each image in pixels, e.g. 896x896 (default: the tower's native size)"),
        click.option("--freeze-vision", is_flag=True,
                     help="the vision encoder is frozen: its forward runs, its backward does not"),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def image_sample(model, model_file, seq_len, images, image_size, freeze_vision):
    """The per-sample vision figures of --images (None without it)."""
    if images is None:
        if image_size is not None or freeze_vision:
            raise click.UsageError("--image-size and --freeze-vision apply only with --images")
        return None
    if images == 0 and (image_size is not None or freeze_vision):
        raise click.UsageError("--image-size and --freeze-vision need at least one image (--images 0 has none)")
    from ..multimodal import load_tower, sample_cost
    tower = load_tower(model_file, model)
    echo_notes(tower.notes)
    return sample_cost(model, tower, seq_len, images, image_size, freeze_vision)


def _auto_hardware(ctx, param, value):
    """--hardware auto: the name the local device reports (mfu_sym.detect), said on stderr."""
    if not isinstance(value, str) or value.strip().lower() != "auto":
        return value
    from ..detect import detect, note
    from ..hardware import load_hardware
    device, reported, count, probe = detect(load_hardware())
    click.echo(note(device, reported, count, probe), err=True)
    return reported


def hardware_options(function):
    """--hardware, --dtype, --sparse, --gpus: the peak an MFU divides by."""
    options = [
        click.option("--hardware", required=True, metavar="NAME", callback=_auto_hardware,
                     help="accelerator (b200, h100, 'NVIDIA H100 80GB HBM3', p5.48xlarge, ...; see "
                          "`mfu-sym hardware list`), or auto: the local device, found through torch or "
                          "nvidia-smi"),
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


def _formulas():
    return click.option("--formulas", "formula_dirs", multiple=True, type=click.Path(file_okay=False),
                        help="extra formula directory (same-named files replace the bundled ones)")


def formulas_option(function):
    """--formulas DIR for the commands that read data but build no model (presets,
    hardware): the same override as the model commands' (a file it holds replaces the
    bundled one of the same name)."""
    return _formulas()(function)


def data_root(formula_dirs):
    """The data root that --formulas gives (the bundled one without it)."""
    from ..data import root
    return root(formula_dirs)
