"""The proof that the formula library equals the implementation: the library's
per-step polynomial under the `torch` preset minus the traced one, per component and in
total, simplified; "identical" when every difference is 0 as a polynomial in the run's
sizes (an identity, not a check at points).

Where the library's closed form is piecewise in the length (a window, a chunk), the
piece that holds at the point the trace ran at is compared: both sides are then
polynomials on a region containing that point, and the trace's guards say how far
its own polynomial holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from .traced import Traced


@dataclass(frozen=True)
class Proof:
    phase: str  # training or decode
    total: dict  # phase -> (library, traced, difference)
    components: dict  # phase -> {component: (library, traced, difference)}
    holds_for: tuple

    @property
    def identical(self) -> bool:
        return all(diff == 0 for _, _, diff in self.total.values()) and all(
            diff == 0 for rows in self.components.values() for _, _, diff in rows.values())

    @property
    def identical_totals(self) -> bool:
        return all(diff == 0 for _, _, diff in self.total.values())


def at_hint(expression, values):
    """The piece of a piecewise expression that holds at `values` (a polynomial)."""
    expression = sympy.piecewise_fold(expression)
    if isinstance(expression, sympy.Piecewise):
        for piece, condition in expression.args:
            if condition.xreplace(values) is sympy.true:
                return at_hint(piece, values)
        raise ValueError(f"no piece of {expression} holds at {values}")
    if expression.has(sympy.Min, sympy.Max):
        expression = expression.replace(lambda e: isinstance(e, (sympy.Min, sympy.Max)),
                                        lambda e: _branch(e, values))
    return sympy.expand(expression)


def _branch(e, values):
    chosen = min(e.args, key=lambda a: a.xreplace(values)) if isinstance(e, sympy.Min) else \
        max(e.args, key=lambda a: a.xreplace(values))
    return chosen


def library_components(model, traced: Traced):
    """{phase: {component: per-step polynomial}} of a library Model, at its sizes."""
    batch = model.batch
    rename = {"seq_len": model.seq_len, "batch": batch}
    values = {traced.symbols[name]: traced.hint[name] for name in traced.symbols}
    out = {}
    for phase in (["forward", "backward"] if traced.has_backward else ["forward"]):
        rows = {}
        for name in model.components:
            cost = getattr(model, phase)(name)
            expression = (batch * cost).xreplace(model.values).xreplace(
                {rename[k]: traced.symbols[k] for k in rename if k in traced.symbols})
            rows[name] = at_hint(expression, values)
        out[phase] = rows
    return out


_LIBRARY_ONLY_ZERO = ("embedding", "norms", "nonmatmul", "mtp")


def prove(model, traced: Traced) -> Proof:
    """Library (a Model under the torch preset) minus the trace, per component and total."""
    library = library_components(model, traced)
    total, by_component = {}, {}
    for phase, rows in library.items():
        theirs = traced.components(phase)
        ours_total = sympy.expand(sum(rows.values(), sympy.Integer(0)))
        traced_total = getattr(traced, phase)()
        total[phase] = (ours_total, traced_total, sympy.expand(ours_total - traced_total))
        names = [n for n in rows if n not in _LIBRARY_ONLY_ZERO or rows[n] != 0] + \
                [n for n in theirs if n not in rows]
        by_component[phase] = {
            name: (rows.get(name, sympy.Integer(0)), theirs.get(name, sympy.Integer(0)),
                   sympy.expand(rows.get(name, 0) - theirs.get(name, 0)))
            for name in names}
    return Proof(phase=traced.phase, total=total, components=by_component, holds_for=traced.guards)


def prove_decode(inference, traced: Traced) -> Proof:
    """One decode step: the library's (an Inference of a Model) minus the traced one, in
    `context` and `batch`, the piece that holds at the point traced."""
    model = inference.model
    values = {traced.symbols[name]: traced.hint[name] for name in traced.symbols}
    ours = (inference.decode_step_flops().xreplace(model.values)
            .xreplace({inference.context: traced.symbols["context"], inference.batch: traced.symbols["batch"]}))
    ours = at_hint(ours, values)
    theirs = traced.forward()
    difference = sympy.expand(ours - theirs)
    return Proof(phase="decode", total={"forward": (ours, theirs, difference)}, components={},
                 holds_for=traced.guards)
