"""`mfu-sym presets`: the counting conventions, with their switches and sources."""

import json

import click

from ..cli import main


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def presets(fmt):
    """List the counting conventions (presets) with their switches and sources.

    \b
    Example:
        mfu-sym presets --format json
    """
    from ..conventions import load_presets
    from ..library import load_library
    references = load_library().references
    rows = []
    for preset in load_presets().values():
        ref = preset.reference
        source = references.get(ref.get("cite"))
        rows.append({"name": preset.name, "description": preset.description, "switches": preset.switches,
                     "reference": {"cite": ref.get("cite"), "where": ref.get("where"),
                                   "title": source.title if source else "", "link": source.link if source else ""},
                     "identities": [i["statement"] for i in preset.identities]})
    if fmt == "json":
        click.echo(json.dumps([{**r, "switches": {k: list(v) if isinstance(v, tuple) else v
                                                  for k, v in r["switches"].items()}} for r in rows], indent=2))
        return
    for r in rows:
        switches = ", ".join(f"{k}={'/'.join(v) if isinstance(v, tuple) else v}" for k, v in r["switches"].items())
        click.echo(f"{r['name']}\n  {r['description']}\n  switches: {switches}\n"
                   f"  source: {r['reference']['title']}, {r['reference']['where']} ({r['reference']['link']})")
        for statement in r["identities"]:
            click.echo(f"  identity: {statement}")
        click.echo()
