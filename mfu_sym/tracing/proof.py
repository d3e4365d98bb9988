"""The proof that the formula library equals the implementation: the library's
per-step polynomial under the `torch` preset minus the traced one, per component and in
total, simplified; "identical" when every difference is 0 as a polynomial in the run's
sizes (an identity, not a check at points).

Where either side is not a polynomial in the length (a window's Min, a chunked scan's
floor and Mod terms, a piecewise sum), the difference is shown to vanish on the region
the trace holds on, exactly: for every residue r of the length modulo the period L of
its floor/Mod terms, the difference at `seq_len = L (q + Q) + r` (past every constant
of a Min, Max or piece) simplifies to 0 in a symbolic q >= 0 and in batch; every
shorter length is evaluated one by one. Lengths outside the trace's guards are left out
(the trace claims nothing there).
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
    zero: dict = None  # id of a difference -> whether it vanishes on the region

    def vanishes(self, difference):
        return difference == 0 or bool(self.zero and self.zero.get(_key(difference)))

    @property
    def identical(self) -> bool:
        return self.identical_totals and all(
            self.vanishes(diff) for rows in self.components.values() for _, _, diff in rows.values())

    @property
    def identical_totals(self) -> bool:
        return all(self.vanishes(diff) for _, _, diff in self.total.values())


def _key(expression):
    return sympy.srepr(expression)


_STEPWISE = (sympy.floor, sympy.ceiling, sympy.Mod, sympy.Min, sympy.Max, sympy.Piecewise)


def _period_and_reach(expression, length):
    """(L, C): the lcm of the integer periods of floor/ceiling/Mod terms in the length,
    and the largest integer constant anywhere in the expression (Min, Max, pieces)."""
    period = 1
    for term in expression.atoms(sympy.floor, sympy.ceiling):
        _, denominator = sympy.fraction(sympy.together(term.args[0]))
        if denominator.is_Integer:
            period = sympy.ilcm(period, int(denominator))
    for term in expression.atoms(sympy.Mod):
        if term.args[1].is_Integer:
            period = sympy.ilcm(period, int(term.args[1]))
    # constants the length is compared with: Min/Max arguments and the pieces' conditions
    compared = [a for term in expression.atoms(sympy.Min, sympy.Max) for a in term.args if a.is_Number]
    for piecewise in expression.atoms(sympy.Piecewise):
        for _, condition in piecewise.args:
            compared += [n for n in condition.atoms(sympy.Number)]
    reach = max([abs(int(sympy.ceiling(n))) for n in compared] + [1])
    return int(period), reach


def _cancel_steps(expression):
    return expression.replace(lambda e: isinstance(e, (sympy.floor, sympy.ceiling)),
                              lambda e: type(e)(sympy.cancel(e.args[0])))


def vanishes_on_region(difference, traced: Traced, limit=100_000) -> bool:
    """Whether `difference` (library minus trace) is 0 wherever the trace holds."""
    length = traced.length_symbol
    difference = sympy.piecewise_fold(difference)
    if not difference.has(*_STEPWISE):
        return sympy.expand(difference) == 0
    period, reach = _period_and_reach(difference, length)
    start = period * (reach // period + 1)  # past every constant
    if start + period > limit:
        return False
    others = {traced.symbols[n]: traced.hint[n] for n in traced.symbols if traced.symbols[n] != length}
    bounded = (traced.bounded or {}).get(str(length))
    if bounded is not None:  # a finite region: every length in it
        lower, upper = bounded
        if upper - lower > limit:
            return False
        return all(sympy.expand(difference.xreplace({length: value})) == 0 for value in range(max(lower, 2), upper + 1)
                   if all(g.xreplace({**others, length: sympy.Integer(value)}) is sympy.true for g in traced.guards))

    def inside(value):
        values = {**others, length: sympy.Integer(value)}
        return all(g.xreplace(values) is sympy.true for g in traced.guards)

    q = sympy.Symbol("q", integer=True, nonnegative=True)
    for residue in range(period):
        samples = [inside(start + period * k + residue) for k in (0, 1, 2, 7, 1000)]
        if not any(samples):
            continue  # the trace claims nothing for these lengths
        if not all(samples):
            return False  # a region that is no union of residue classes: not decided here
        value = difference.xreplace({length: period * (q + reach // period + 1) + residue})
        for _ in range(3):
            value = _cancel_steps(sympy.expand(value))
            if value == 0:
                break
        if value != 0 and sympy.simplify(value) != 0:
            return False
    for value in range(2, start + period):
        if inside(value) and sympy.expand(difference.xreplace({length: value})) != 0:
            return False
    return True


def library_components(model, traced: Traced):
    """{phase: {component: per-step FLOPs}} of a library Model, at its sizes, in the
    trace's symbols (pieces and Min/Max kept: `vanishes_on_region` decides them)."""
    batch = model.batch
    rename = {"seq_len": model.seq_len, "batch": batch}
    out = {}
    for phase in (["forward", "backward"] if traced.has_backward else ["forward"]):
        rows = {}
        for name in model.components:
            cost = getattr(model, phase)(name)
            expression = (batch * cost).xreplace(model.values).xreplace(
                {rename[k]: traced.symbols[k] for k in rename if k in traced.symbols})
            rows[name] = sympy.piecewise_fold(expression)
        out[phase] = rows
    return out


_LIBRARY_ONLY_ZERO = ("embedding", "norms", "nonmatmul", "mtp")


def prove(model, traced: Traced) -> Proof:
    """Library (a Model under the torch preset) minus the trace, per component and total."""
    library = library_components(model, traced)
    total, by_component = {}, {}
    for phase, rows in library.items():
        theirs = traced.components(phase)
        ours_total = sympy.piecewise_fold(sum(rows.values(), sympy.Integer(0)))
        traced_total = getattr(traced, phase)()
        total[phase] = (ours_total, traced_total, _difference(ours_total, traced_total))
        names = [n for n in rows if n not in _LIBRARY_ONLY_ZERO or rows[n] != 0] + \
                [n for n in theirs if n not in rows]
        by_component[phase] = {
            name: (rows.get(name, sympy.Integer(0)), theirs.get(name, sympy.Integer(0)),
                   _difference(rows.get(name, sympy.Integer(0)), theirs.get(name, sympy.Integer(0))))
            for name in names}
    zero = {}
    for _, _, difference in list(total.values()) + [row for rows in by_component.values() for row in rows.values()]:
        if difference != 0 and _key(difference) not in zero:
            zero[_key(difference)] = vanishes_on_region(difference, traced)
    return Proof(phase=traced.phase, total=total, components=by_component, holds_for=traced.guards, zero=zero)


def _difference(ours, theirs):
    difference = sympy.piecewise_fold(ours - theirs)
    return difference if isinstance(difference, sympy.Piecewise) else sympy.expand(difference)


def prove_decode(inference, traced: Traced) -> Proof:
    """One decode step: the library's (an Inference of a Model) minus the traced one, in
    `context` and `batch`, the piece that holds at the point traced."""
    model = inference.model
    ours = (inference.decode_step_flops().xreplace(model.values)
            .xreplace({inference.context: traced.symbols["context"], inference.batch: traced.symbols["batch"]}))
    ours = sympy.piecewise_fold(ours)
    theirs = traced.forward()
    difference = _difference(ours, theirs)
    zero = {} if difference == 0 else {_key(difference): vanishes_on_region(difference, traced)}
    return Proof(phase="decode", total={"forward": (ours, theirs, difference)}, components={},
                 holds_for=traced.guards, zero=zero)
