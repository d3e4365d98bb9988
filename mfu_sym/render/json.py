"""Every JSON object a command prints (`--format json`), as text.

Exact numbers stay exact: an int, or "p/q" text for a fraction; expressions become
sympy's text; floats (ratios, measured rates) stay floats. `derive`'s object is the
contract of DESIGN.md.
"""

import json

from .units import exact

PARAM_KEYS = ("total", "embedding", "lm_head", "non_embedding", "active")


def dumps(value):
    """The text a command prints for a JSON-ready value."""
    return json.dumps(value, indent=2)


def jsonable(value):
    """Analysis results as JSON: exact numbers stay exact (int, or "p/q"), expressions
    become sympy text, floats (ratios) stay floats; keys become text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, str, float, int)):
        return value
    from ..expr import to_sympy
    value = to_sympy(value)
    if value.is_Number:
        return exact(value)
    return str(value)


def exact_tree(value):
    """JSON-safe, keys kept: exact integers stay integers, fractions become "p/q" text,
    floats, text and booleans pass through."""
    if isinstance(value, dict):
        return {k: exact_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [exact_tree(v) for v in value]
    if isinstance(value, (bool, str, float)) or value is None:
        return value
    return exact(value)


# ------------------------------------------------------------------ one per command

def derive(report):
    """The `derive --format json` object (see DESIGN.md's contract)."""
    flops = report["flops"]
    extra = {key: {k: (v if isinstance(v, bool) else exact(v)) for k, v in report[key].items()}
             for key in ("mtp", "capacity") if key in report}
    for key in ("documents", "vision"):
        if key in report:
            extra[key] = exact_tree(report[key])
    return dumps({
        "model": report["model"],
        "run": {k: (v if isinstance(v, str) else exact(v)) for k, v in report["run"].items()},
        "notes": report.get("notes", []),
        "params": {k: exact(report["params"][k]) for k in PARAM_KEYS},
        "flops": {
            "forward": exact(flops["forward"]),
            "backward": exact(flops["backward"]),
            "training": exact(flops["training"]),
            "recompute": exact(flops["recompute"]),
            "hardware_training": exact(flops["hardware_training"]),
            "per_token": {k: exact(v) for k, v in flops["per_token"].items()},
            "per_sequence": {k: exact(v) for k, v in flops["per_sequence"].items()},
            "components": {name: {k: exact(v) for k, v in c.items()} for name, c in flops["components"].items()},
        },
        "formulas": {name: str(f) for name, f in report["formulas"].items()},
        "conventions": report["conventions"],
        **extra,
    })


def analysis(result):
    """`analyze` and `reconcile`: their result dicts, exact numbers kept exact."""
    return dumps(jsonable(result))


def infer(report):
    """The `infer --format json` object; the decode step's arithmetic intensity is also
    given as a float (it is read as a number, not checked exactly)."""
    out = exact_tree(report)
    out["decode_step"]["arithmetic_intensity"] = float(report["decode_step"]["arithmetic_intensity"])
    return dumps(out)


def memory(report):
    """The `memory --format json` object."""
    return dumps(exact_tree(report))


def hardware_list(registry):
    """`hardware list --format json`: each device's dense and sparse peaks, memory and
    bandwidth."""
    return dumps([{
        "key": device.key, "name": device.name, "vendor": device.vendor, "aliases": list(device.aliases),
        "dense_tflops": {p.dtype: p.dense_tflops for p in device.peaks},
        "sparse_tflops": {p.dtype: p.sparse_tflops for p in device.peaks if p.has_sparse},
        "memory": {"value": device.memory.value, "unit": device.memory.unit, "bytes": device.memory_bytes},
        "bandwidth_gb_s": device.bandwidth.value,
    } for device in registry])


def hardware_show(device):
    return dumps(device.to_dict())


def preset_rows(presets, references):
    """One record per preset: its switches (tuples kept), its reference resolved in the
    bibliography, and the identities it claims."""
    rows = []
    for preset in presets.values():
        ref = preset.reference
        source = references[ref.cite]
        switches = {k: (dict(v) if k == "variants" else v) for k, v in preset.switches.items()}
        rows.append({"name": preset.name, "description": preset.description, "switches": switches,
                     "reference": {"cite": ref.cite, "where": ref.where, "title": source.title, "link": source.link},
                     "identities": [i.statement for i in preset.identities]})
    return rows


def presets(presets, references):
    rows = preset_rows(presets, references)
    return dumps([{**r, "switches": {k: list(v) if isinstance(v, tuple) else v
                                     for k, v in r["switches"].items()}} for r in rows])


def variant_rows(variants, references):
    """One record per disputed term: its choices, each with its source resolved."""
    rows = []
    for variant in variants.values():
        choices = []
        for choice in variant.choices.values():
            source = references[choice.reference.cite]
            choices.append({"name": choice.name, "description": choice.description,
                            "reference": {"cite": choice.reference.cite, "where": choice.reference.where,
                                          "title": source.title, "link": source.link}})
        rows.append({"name": variant.name, "description": variant.description, "default": variant.default,
                     "choices": choices})
    return rows


def variants(variants, references):
    return dumps(variant_rows(variants, references))


def chinchilla_forms(frontier):
    """The frontier's expressions, by the names the JSON and LaTeX give them."""
    return {
        "loss": frontier.loss,
        "constraint": frontier.constraint,
        "first_order": frontier.stationarity,
        "n_opt": frontier.n_opt_form(),
        "d_opt": frontier.d_opt_form(),
        "g": frontier.g,
        "a": frontier.a,
        "b": frontier.b,
    }


def chinchilla(frontier, chosen, results):
    """`chinchilla --format json`: the derived forms (text and LaTeX), and each fit with
    its numbers at the compute budget when one was given."""
    from ..planning import display, latex
    forms = chinchilla_forms(frontier)
    return dumps({
        "formulas": {k: display(v) for k, v in forms.items()},
        "latex": {k: latex(v) for k, v in forms.items()},
        "derived_n_opt": display(frontier.n_opt),
        "compute": exact(results[next(iter(results))]["compute"]) if results else None,
        "fits": {fit.key: {**fit.to_dict(), **({k: v for k, v in results[fit.key].items() if k != "compute"}
                                               if fit.key in results else {})}
                 for fit in chosen},
    })
