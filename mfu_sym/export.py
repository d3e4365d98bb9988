"""Renderers of `derive`'s report: text and JSON (Markdown and LaTeX: latex.py)."""

import json


from .expr import to_sympy

PARAM_KEYS = ("total", "embedding", "lm_head", "non_embedding", "active")


def exact(value):
    """A JSON-safe exact number: int when integral, "p/q" text otherwise."""
    value = to_sympy(value)
    if value.is_Integer:
        return int(value)
    if value.is_Rational:
        return f"{value.p}/{value.q}"
    return str(value)


def jsonable(value):
    """Analysis results as JSON: exact numbers stay exact (int, or "p/q"), expressions
    become sympy text, floats (ratios) stay floats."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, str, float, int)):
        return value
    value = to_sympy(value)
    if value.is_Number:
        return exact(value)
    return str(value)


def grouped(value):
    """1234567 -> '1,234,567'; a fraction keeps its exact form."""
    value = to_sympy(value)
    if value.is_Integer:
        return f"{int(value):,}"
    return f"{exact(value)} (~{float(value):,.1f})"


def short(value):
    value = float(value)
    for unit, scale in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3f} {unit}"
    return f"{value:g}"


def convention_lines(conventions):
    width = max(map(len, conventions))
    return [f"  {k:<{width}}  {v}" for k, v in conventions.items()]


def to_json(model, report):
    """The `derive --format json` object (see DESIGN.md's contract)."""
    flops = report["flops"]
    extra = {key: {k: (v if isinstance(v, bool) else exact(v)) for k, v in report[key].items()}
             for key in ("mtp", "capacity") if key in report}
    return json.dumps({
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
    }, indent=2)


def to_text(model, report, source=None):
    from .render import printable
    run, flops, params = report["run"], report["flops"], report["params"]
    lines = [f"{report['model']}" + (f"  ({printable(source)})" if source else ""),
             f"Run: batch {int(run['batch']):,} x seq_len {int(run['seq_len']):,}"
             + ("" if run["seq_len_from"] == "given" else f" (seq_len: {run['seq_len_from']})")]
    lines += [f"NOTE: {note}" for note in report.get("notes", ())]
    lines += ["", "Conventions"]
    lines += convention_lines(report["conventions"]["explained"])
    lines += ["",
             "Parameters (exact)"]
    for key in PARAM_KEYS:
        lines.append(f"  {key:<15}{grouped(params[key]):>22}")
    if model.arch.n_experts:
        lines.append(f"  (MoE: active counts top_k = {model.arch.top_k} of n_experts = {model.arch.n_experts} routed "
                     "experts; FLOPs and MFU use active, never total, parameters)")
    lines += _extras_text(report)
    lines += ["",
              f"FLOPs by component, one step of batch {run['batch']} x seq_len {run['seq_len']} "
              f"= {int(run['tokens']):,} tokens",
              "  formulas: forward FLOPs of one sequence, in the model's symbols"]
    for name, c in flops["components"].items():
        lines.append(f"  {name}")
        formula = report["formulas"][name]
        if formula != 0:
            lines.append(f"    = {formula}")
        lines.append(f"    forward {grouped(c['forward']):>26}   backward {grouped(c['backward']):>26}"
                     f"   params {grouped(c['params'])}")
    lines += ["", "Totals"]
    rows = [("per token", flops["per_token"]["forward"], flops["per_token"]["training"]),
            ("per sequence", flops["per_sequence"]["forward"], flops["per_sequence"]["training"]),
            (f"per step (batch {run['batch']})", flops["forward"], flops["training"])]
    lines.append(f"  {'':<22}{'forward':>28}{'training (fwd+bwd)':>30}")
    for label, fwd, train in rows:
        lines.append(f"  {label:<22}{grouped(fwd):>28}{grouped(train):>30}   ({short(train)}FLOP)")
    if model.conventions.recompute != "none":
        lines.append(f"  {'hardware, per step':<22}{'':>28}{grouped(flops['hardware_training']):>30}   "
                     f"({short(flops['hardware_training'])}FLOP, with {model.conventions.recompute} "
                     f"recomputation: {grouped(flops['recompute'])} more)")
    conv = report["conventions"]
    lines.append(f"  counted under: preset {conv['preset']}, mask {conv['mask']}, "
                 f"attention kernel {conv['attention_kernel']}")
    lines.append(f"  components counted in MFU: {', '.join(flops['components'])}")
    return "\n".join(lines)


def _extras_text(report):
    lines = []
    if "mtp" in report:
        mtp = report["mtp"]
        state = "counted in the totals (--mtp)" if mtp["counted"] else "not counted in the totals (use --mtp)"
        lines += ["", f"Multi-token prediction: {state}",
                  f"  params {grouped(mtp['params'])}   forward {grouped(mtp['forward'])}   "
                  f"training {grouped(mtp['training'])}"]
    if "capacity" in report:
        cap = report["capacity"]
        lines += ["", f"Capacity factor {cap['capacity_factor']} (hardware FLOPs, not model FLOPs)",
                  f"  slots per expert {grouped(cap['slots_per_expert'])}; padded slots {grouped(cap['padded_slots'])}; "
                  f"dropped token-expert assignments {grouped(cap['dropped_assignments'])}",
                  f"  experts forward: model {grouped(cap['experts_forward_model'])}, executed "
                  f"{grouped(cap['experts_forward_executed'])}",
                  f"  training hardware FLOPs {grouped(cap['training_hardware'])}"]
    return lines
