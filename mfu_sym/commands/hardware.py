"""`mfu-sym hardware`: the accelerator table (hardware.yaml) with the source of every figure."""

import click

from .options import data_root, formulas_option

_FORMATS = ("text", "json")


@click.group()
def hardware():
    """Accelerators, their peak FLOP/s per dtype (dense and sparse) and their sources.

    \b
    Examples:
        mfu-sym hardware list
        mfu-sym hardware show b200 --format json
    """


@hardware.command("list")
@formulas_option
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="text", show_default=True)
def list_devices(formula_dirs, fmt):
    """Every accelerator with its dense BF16 / FP8 / FP4 peaks, memory and bandwidth.

    \b
    Example:
        mfu-sym hardware list --format json
    """
    from ..hardware import load_hardware
    from ..render import hardware as text, json
    registry = load_hardware(root=data_root(formula_dirs))
    click.echo(json.hardware_list(registry) if fmt == "json" else text.listing(registry))


@hardware.command("show")
@click.argument("name")
@formulas_option
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="text", show_default=True)
def show(name, formula_dirs, fmt):
    """Every figure of one accelerator, with its sources and the notes on disagreements.

    NAME is a key or alias (b200, h100, tpu-v5p, mi300x; case-insensitive), the name the
    device reports ("NVIDIA H100 80GB HBM3"), a cloud instance type (p5.48xlarge), or auto:
    the local device, found through torch or nvidia-smi.

    \b
    Example:
        mfu-sym hardware show h100
    """
    from ..hardware import load_hardware
    from ..render import hardware as text, json
    registry = load_hardware(root=data_root(formula_dirs))
    if name.strip().lower() == "auto":
        from ..detect import detect, note
        device, reported, count, probe = detect(registry)
        click.echo(note(device, reported, count, probe), err=True)
    else:
        device = registry.resolve(name)
    click.echo(json.hardware_show(device) if fmt == "json" else text.show(device))
