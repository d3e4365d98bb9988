"""A traced model: what the implementation executes, as exact polynomials in the run's
sizes, with the methods of a loaded Model where they make sense (forward, backward,
training, breakdown, evaluate, formula, report, LaTeX in notebooks).

Counts are per step: one forward (and backward) of `batch` sequences of `seq_len`
tokens, or, for a decode step, `batch` new tokens each attending to `context` keys.
The convention is what torch executes (the `torch` preset's): every matmul, the full
S x S square whatever the mask, 2 FLOPs per multiply-add.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy

from ..errors import UsageError
from .components import ORDER, components


@dataclass(frozen=True)
class Traced:
    name: str
    origin: str
    model_type: str | None
    phase: str  # "training" (forward + backward of a sequence) or "decode" (one step with a cache)
    symbols: dict  # run-size name -> sympy symbol (seq_len/batch, or context/batch)
    hint: dict  # run-size name -> the point the implementation ran at
    params: int
    modules: dict  # phase -> {module path: FLOPs}
    ops: dict  # phase -> {aten op: FLOPs}
    classes: dict  # module path -> class name
    guards: tuple
    guard_modules: tuple
    implementation: dict  # attn_implementation, experts_implementation, torch/transformers versions
    has_backward: bool
    # {"sizes": {...}, "forward": n, "backward": n}: the counts at the point asked for, from a
    # pass at exactly that point, where the polynomial's region may not reach it (a size of 1)
    at_point: dict | None = None
    # {size: (lower, upper)} where the implementation's Python code confined the polynomials
    # to a finite range of a size (a loop over ceil(seq_len / chunk) blocks)
    bounded: dict | None = None

    # ---- polynomials --------------------------------------------------------------
    def _phase(self, phase, component):
        by_module = self.modules[phase]
        if component is None:
            return by_module.get("", sympy.Integer(0))
        return self.components(phase).get(self._check_component(component), sympy.Integer(0))

    def _check_component(self, component):
        if component not in ORDER:
            raise UsageError(None, "component", f"{component!r} (expected one of {', '.join(ORDER)})")
        return component

    def components(self, phase="forward"):
        """{component: FLOPs per step} in the formula library's components (plus `other`)."""
        if phase == "training":
            forward, backward = self.components("forward"), self.components("backward")
            return {k: sympy.expand(forward.get(k, 0) + backward.get(k, 0)) for k in ORDER
                    if k in forward or k in backward}
        return components(self.modules[phase], self.classes)

    def forward(self, component=None):
        """Forward FLOPs of one step, a polynomial in the run's sizes."""
        return self._phase("forward", component)

    def backward(self, component=None):
        self._need_backward()
        return self._phase("backward", component)

    def training(self, component=None):
        """Forward + backward FLOPs of one step (what MFU counts)."""
        return sympy.expand(self.forward(component) + self.backward(component))

    def _need_backward(self):
        if not self.has_backward:
            raise UsageError(None, "backward", "this trace ran the forward only" +
                             (" (a decode step has no backward)" if self.phase == "decode" else ""))

    def formula(self, component=None, phase="forward"):
        """A polynomial collected in the length, as `derive` prints formulas."""
        from ..model import collect_in
        value = {"forward": self.forward, "backward": self.backward, "training": self.training}[phase](component)
        return collect_in(value, self.length_symbol)

    @property
    def length_symbol(self):
        return self.symbols["context" if self.phase == "decode" else "seq_len"]

    def breakdown(self, phase="forward"):
        """Modules grouped by their path with layer indices as `*`: rows of
        {module, count, each (FLOPs of one, when all are equal) or None, total}."""
        groups: dict[str, list] = {}
        for path, value in self.modules[phase].items():
            if path == "":
                continue
            groups.setdefault(re.sub(r"\.\d+(?=\.|$)", ".*", path), []).append(value)
        rows = []
        order = {re.sub(r"\.\d+(?=\.|$)", ".*", path): i for i, path in reversed(list(enumerate(self.classes)))}
        for pattern, values in sorted(groups.items(), key=lambda item: order.get(item[0], len(order))):
            same = all(sympy.expand(v - values[0]) == 0 for v in values)
            rows.append({"module": pattern, "count": len(values), "each": values[0] if same else None,
                         "total": sympy.expand(sum(values, sympy.Integer(0)))})
        return rows

    # ---- numbers ------------------------------------------------------------------
    def run_values(self, **sizes):
        values = {}
        for name, symbol in self.symbols.items():
            value = sizes.get(name)
            value = self.hint[name] if value is None else value
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise UsageError(None, name, f"{value!r} is not a positive integer")
            values[symbol] = sympy.Integer(value)
        unknown = set(sizes) - set(self.symbols)
        if unknown:
            raise UsageError(None, sorted(unknown)[0], f"is not a size of this trace (its sizes: "
                                                       f"{', '.join(self.symbols)})")
        return values

    def holds_at(self, values) -> bool:
        """Whether the polynomials hold at a point (symbol -> value): inside the guards, and
        at a size of 1 (where torch takes other paths) only when a pass at exactly that
        point gave the same counts."""
        if any(g.xreplace(values) is not sympy.true for g in self.guards):
            return False
        if 1 not in values.values():
            return True
        point = self.at_point and {self.symbols[k]: v for k, v in self.at_point["sizes"].items()}
        if point != values:
            return False
        phases = ("forward", "backward") if self.has_backward else ("forward",)
        return all(self._phase(p, None).xreplace(values) == self.at_point[p] for p in phases)

    def evaluate(self, expression, **sizes):
        """An expression of this trace at the given sizes (default: the point it ran at):
        an exact integer. A point where the polynomials are not known to hold is an error."""
        from ..expr import to_sympy
        values = self.run_values(**sizes)
        if not self.holds_at(values):
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            region = ", ".join(map(str, self.guards)) or "every size at least 2"
            raise UsageError(None, "sizes", f"{shown}: the traced polynomials are not known to hold there (they hold "
                                            f"for {region}): trace at that point")
        return sympy.expand(to_sympy(expression)).xreplace(values)

    def values_at(self, **sizes):
        """{phase: exact FLOPs} at a point: the polynomials where they hold, else the pass
        at exactly that point (with `exact_pass` True)."""
        values = self.run_values(**sizes)
        phases = ["forward", "backward", "training"] if self.has_backward else ["forward"]
        if self.holds_at(values):
            return {p: getattr(self, p)().xreplace(values) for p in phases}, False
        point = self.at_point and {self.symbols[k]: v for k, v in self.at_point["sizes"].items()}
        if point == values:
            out = {p: self.at_point[p] for p in phases if p != "training"}
            if self.has_backward:
                out["training"] = out["forward"] + out["backward"]
            return out, True
        self.evaluate(sympy.Integer(0), **sizes)  # raises, saying why

    def report(self, **sizes):
        """Everything `mfu-sym trace --format json` prints, exact."""
        values = self.run_values(**sizes)
        at = {str(k): int(v) for k, v in values.items()}
        numbers, exact_pass = self.values_at(**sizes)
        phases = ["forward", "backward", "training"] if self.has_backward else ["forward"]
        polynomials = {phase: getattr(self, phase)() for phase in phases}
        by_component = {phase: (self.components(phase)) for phase in phases}
        return {
            "model": self.name, "source": self.origin, "model_type": self.model_type, "phase": self.phase,
            "symbols": list(self.symbols),
            "run": at,
            "params": {"total": self.params},
            "flops": {phase: str(polynomials[phase]) for phase in phases},
            "values": numbers,
            "values_from": "a pass at exactly this point (torch runs other paths at a size of 1)" if exact_pass
            else "the polynomials",
            "components": {phase: {name: str(v) for name, v in by_component[phase].items()} for phase in phases},
            "modules": {phase: {path or "(model)": str(v) for path, v in self.modules[phase].items()}
                        for phase in (["forward", "backward"] if self.has_backward else ["forward"])},
            "ops": {phase: {op: str(v) for op, v in ops.items()} for phase, ops in self.ops.items()},
            "holds_for": [str(g) for g in self.guards] or ["all sizes"],
            "convention": {"preset": "torch", "counted": "what torch executes: every matmul (2 FLOPs per "
                           "multiply-add), the full S x S attention square whatever the mask, as "
                           "FlopCounterMode counts it with its traps corrected",
                           **self.implementation},
        }

    def _repr_latex_(self):
        rows = [r"\mathrm{%s} &= %s" % (c.replace("_", r"\_"), sympy.latex(self.formula(c)))
                for c in self.components("forward")]
        rows.append(r"\mathrm{forward} &= %s" % sympy.latex(self.formula()))
        if self.has_backward:
            rows.append(r"\mathrm{training} &= %s" % sympy.latex(self.formula(phase="training")))
        return r"$\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}$"
