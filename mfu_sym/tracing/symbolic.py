"""One pass of a PyTorch model on fake tensors whose batch and length are symbols, under
the corrected FLOP counter: the FLOPs it executes as exact polynomials.

The model is built inside a FakeTensorMode with a ShapeEnv (nothing is allocated: every
parameter and activation is a fake tensor with a shape and no data). The batch and the
sequence length are symbolic sizes with a hint, the point the implementation is run at;
where its Python code branches on a size (`if seq_len > window`), torch records a guard,
and the polynomial holds on the region the guards describe, which is reported. A size
the code turns into a constant, or a size that depends on the data (an experts loop over
the tokens each expert got), is an error: never a polynomial that holds at one point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import sympy
import torch
from torch._dynamo.source import ConstantSource
from torch._subclasses.fake_tensor import DataDependentOutputException, DynamicOutputShapeException, FakeTensorMode
from torch.fx.experimental.symbolic_shapes import DimDynamic, GuardOnDataDependentSymNode, ShapeEnv

from ..errors import MfuSymError
from .counter import BroadcastContractions, NodeTagger, counted, snapshot, split_counts, subtract


class TraceError(MfuSymError, RuntimeError):
    """The implementation cannot be traced to an exact polynomial (or failed to run)."""


@dataclass(frozen=True)
class Pass:
    """What one traced pass executed, in the symbols it was given (sympy, exact).

    ``modules[phase][path]``: FLOPs charged to a module (parents include their children;
    ``""`` is the whole model). ``ops[phase][name]``: FLOPs per aten op. ``guards``: the
    conditions on the symbols under which the polynomials hold (empty: everywhere)."""

    forward: sympy.Expr
    backward: sympy.Expr
    modules: dict[str, dict[str, sympy.Expr]]
    ops: dict[str, dict[str, sympy.Expr]]
    guards: tuple = ()
    guard_modules: tuple = ()
    bounded: dict = field(default_factory=dict)
    params: int = 0
    root: str = ""
    model: Any = field(default=None, compare=False, repr=False)


_DATA_DEPENDENT = (GuardOnDataDependentSymNode, DataDependentOutputException, DynamicOutputShapeException)


class Sizes:
    """Symbolic sizes in one ShapeEnv: ``size(name, hint)`` is a SymInt whose expression
    is mapped back to the library's symbol ``name``; guards made while the model runs are
    recorded with the module that was running."""

    def __init__(self, symbols: dict[str, sympy.Symbol], concrete: bool = False) -> None:
        self.concrete = concrete  # plain ints: a count at one point, to check a polynomial against
        self.env = ShapeEnv()
        self.mode = FakeTensorMode(shape_env=self.env, static_shapes=False, allow_non_fake_inputs=False)
        self.symbols = symbols
        self.to_ours: dict[sympy.Symbol, sympy.Symbol] = {}
        self.guard_places: list[tuple[int, str]] = []

    def size(self, name: str, hint: int) -> torch.SymInt:
        if self.concrete:
            return hint
        if hint < 2:  # torch specialises sizes 0 and 1
            raise TraceError(None, name, f"the point a trace runs at must be at least 2 (got {hint})")
        value = self.env.create_unspecified_symint_and_symbol(hint, ConstantSource(name), DimDynamic.DYNAMIC)
        self.to_ours[value.node.expr] = self.symbols[name]
        return value

    def sympy(self, value: Any, what: str) -> sympy.Expr:
        """A count (int or SymInt) as a polynomial in the library's symbols."""
        if isinstance(value, torch.SymInt):
            expression = self.env.replace(value.node.expr)
        elif isinstance(value, int) and not isinstance(value, bool):
            expression = sympy.Integer(value)
        else:
            raise TraceError(None, what, f"the counter gave {value!r} (expected a whole number of FLOPs)")
        expression = sympy.expand(plain_sympy(expression.xreplace(self.to_ours)))
        stray = expression.free_symbols - set(self.symbols.values())
        if stray:
            raise TraceError(None, what, "a size depends on the data, so no polynomial in the run's sizes exists "
                                         f"(unknown sizes {', '.join(sorted(map(str, stray)))}: a boolean mask, "
                                         "nonzero, or routing decided how many rows a matmul got)")
        return expression

    def specialised(self) -> list[str]:
        """The names of the sizes the code turned into constants."""
        out = []
        for ours_name, symbol in self.symbols.items():
            theirs = [s for s, o in self.to_ours.items() if o == symbol]
            for s in theirs:
                replaced = self.env.replace(s)
                if replaced.is_number:
                    out.append(f"{ours_name} = {replaced}")
        return out

    def guards(self) -> list[sympy.Basic]:
        """The conditions the run recorded, in the library's symbols, less those every size
        of at least 2 meets. Every recorded guard is read (torch's own pruning drops those
        implied by the ranges other guards narrowed), and so is each size's range."""
        out = []
        conditions = [guard.expr for guard in self.env.guards]
        for theirs, ours in self.to_ours.items():
            bounds = self.env.var_to_range.get(theirs)
            if bounds is None:
                continue
            if isinstance(bounds.lower, sympy.Integer) and bounds.lower > 2:
                conditions.append(sympy.Ge(theirs, int(bounds.lower)))
            if isinstance(bounds.upper, sympy.Integer):
                conditions.append(sympy.Le(theirs, int(bounds.upper)))
        seen = set()
        symbols = list(self.symbols.values())
        for condition in conditions:
            condition = plain_sympy(self.env.replace(condition).xreplace(self.to_ours))
            key = sympy.srepr(condition)
            if key in seen:
                continue
            seen.add(key)
            if _small(condition):
                condition = _simplified(condition)
            if condition is sympy.true or condition in out or implied_by_sizes(condition, symbols):
                continue
            out.append(condition)
        return out

    def bounded(self) -> dict[str, tuple]:
        """{name: (lower, upper)} for each size the run confined to a finite range."""
        out = {}
        for theirs, ours in self.to_ours.items():
            bounds = self.env.var_to_range.get(theirs)
            if bounds is not None and isinstance(bounds.upper, sympy.Integer):
                out[str(ours)] = (int(bounds.lower), int(bounds.upper))
        return out


def plain_sympy(expression):
    """torch's own sympy functions (FloorDiv, Mod, CeilDiv, ...) as sympy's floor and Mod,
    so what users get is plain sympy (and prints as such)."""
    from torch.utils._sympy import functions as fn
    rules = {getattr(fn, "FloorDiv", None): lambda a, b: sympy.floor(a / b),
             getattr(fn, "Mod", None): sympy.Mod, getattr(fn, "PythonMod", None): sympy.Mod,
             getattr(fn, "CeilDiv", None): lambda a, b: sympy.ceiling(a / b),
             getattr(fn, "CleanDiv", None): lambda a, b: a / b, getattr(fn, "IntTrueDiv", None): lambda a, b: a / b}
    rules = {k: v for k, v in rules.items() if k is not None}
    if not expression.has(*rules):
        return expression
    return expression.replace(lambda e: type(e) in rules, lambda e: rules[type(e)](*e.args))


def _simplified(condition):
    """sympy.simplify where it can (torch's own Mod/FloorDiv refuse some numeric forms)."""
    try:
        return sympy.simplify(condition)
    except (AssertionError, TypeError, ValueError, ZeroDivisionError):
        return condition


def _sign(difference):
    """+1 / -1 when a polynomial in nonnegative variables is positive / negative for all of
    them (every coefficient of one sign, the constant strictly), else 0."""
    poly = sympy.Poly(difference, *sorted(difference.free_symbols, key=str)) if difference.free_symbols else None
    coefficients = poly.coeffs() if poly is not None else [difference]
    constant = difference.xreplace({v: 0 for v in difference.free_symbols})
    if all(c >= 0 for c in coefficients) and constant > 0:
        return 1
    if all(c <= 0 for c in coefficients) and constant < 0:
        return -1
    return 0


_SAMPLES = (2, 3, 5, 8, 13, 64, 100, 1000, 4096, 65537)


def _small(expression) -> bool:
    """Worth sympy.simplify: short, and free of floor/Mod/Min/Max (which it is slow on)."""
    return not expression.has(sympy.floor, sympy.ceiling, sympy.Mod, sympy.Min, sympy.Max) and \
        sympy.count_ops(expression) <= 40


def implied_by_sizes(condition, symbols) -> bool:
    """Whether a guard holds for every size of at least 2 (torch's own assumption for a
    symbolic size): such guards (`batch != 1`, `batch*seq_len > 1`) say nothing. A guard
    false at some size is kept at once; one true at every sample is proved or kept."""
    symbols = list(symbols)
    for i, value in enumerate(_SAMPLES):
        point = {s: sympy.Integer(_SAMPLES[(i + j) % len(_SAMPLES)]) for j, s in enumerate(symbols)}
        try:
            if condition.xreplace(point) is not sympy.true:
                return False
        except (AssertionError, TypeError, ValueError, ZeroDivisionError):
            return False
    shifted = {s: sympy.Symbol(f"_{s}", integer=True, nonnegative=True) + 2 for s in symbols}
    shifted_condition = condition.xreplace(shifted)
    if not isinstance(condition, sympy.core.relational.Relational) or \
            not isinstance(shifted_condition, sympy.core.relational.Relational):
        return _small(shifted_condition) and _simplified(shifted_condition) is sympy.true
    try:
        sign = _sign(sympy.expand(shifted_condition.lhs - shifted_condition.rhs))
    except (sympy.PolynomialError, TypeError, AssertionError, ValueError):
        sign = 0
    if sign == 0:
        return _small(shifted_condition) and _simplified(shifted_condition) is sympy.true
    holds = {sympy.Ne: True, sympy.Eq: False, sympy.Gt: sign > 0, sympy.Ge: sign > 0,
             sympy.Lt: sign < 0, sympy.Le: sign < 0}
    return holds.get(type(condition), False)


class _GuardWatch:
    """Attributes each new guard to the module running when it appeared (module hooks)."""

    def __init__(self, sizes: Sizes, tagger: NodeTagger) -> None:
        self.sizes, self.tagger, self.seen = sizes, tagger, 0
        self.places: list[str] = []
        self.fixed: dict[str, str] = {}  # "seq_len = 17" -> the module running when it was fixed

    def check(self, *_: Any) -> None:
        count = len(self.sizes.env.guards)
        where = self.tagger.current or "(model)"
        if count > self.seen:
            self.places.extend([where] * (count - self.seen))
            self.seen = count
        if not self.sizes.concrete:
            for fixed in self.sizes.specialised():
                self.fixed.setdefault(fixed, where)


def _data_dependent(exc: BaseException, where: str | None, advice: str) -> TraceError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return TraceError(None, where or "(model)", "a size depends on the data, so no polynomial in batch and seq_len "
                                                f"exists ({type(exc).__name__}: {text[:200]}){advice}")


def run_pass(build: Callable[[], torch.nn.Module], call: Callable[[torch.nn.Module, Sizes], Any], *,
             symbols: dict[str, sympy.Symbol], backward: bool, where: str, advice: str = "",
             loss: Callable[[Any], torch.Tensor] | None = None,
             before: Callable[[torch.nn.Module, Sizes], Any] | None = None, concrete: bool = False) -> Pass:
    """Build the model on fake tensors, (optionally run `before`, uncounted), run `call`
    counted, and (when `backward`) the backward of `loss(output)`; every count as a
    polynomial in `symbols` (name -> the library's symbol), or, when `concrete`, as the
    number at the sizes' hints."""
    sizes = Sizes(symbols, concrete)
    with sizes.mode:
        try:
            model = build()
        except MfuSymError:
            raise
        except Exception as exc:  # the implementation refused the config
            raise TraceError(None, "model", f"building it failed: {type(exc).__name__}: {_first_line(exc)}") from None
        root = type(model).__name__
        params = sum(p.numel() for p in model.parameters())
        tagger = NodeTagger(model)
        watch = _GuardWatch(sizes, tagger)
        hooks = [torch.nn.modules.module.register_module_forward_pre_hook(lambda m, a: watch.check()),
                 torch.nn.modules.module.register_module_forward_hook(lambda m, a, o: watch.check())]
        try:
            state = before(model, sizes) if before is not None else None
            contractions = BroadcastContractions(tagger)
            with counted(where) as (counter, recorder), (torch.enable_grad() if backward else torch.no_grad()):
                with tagger, contractions:
                    try:
                        output = call(model, sizes) if state is None else call(model, sizes, state)
                    except _DATA_DEPENDENT as exc:
                        raise _data_dependent(exc, tagger.current, advice) from None
                forward_counts = snapshot(counter)
                if backward:
                    recorder.attribute_backward = True
                    (loss or _default_loss)(output).backward()
                    recorder.attribute_backward = False
                all_counts = snapshot(counter)
        except MfuSymError:
            raise
        except _DATA_DEPENDENT as exc:
            raise _data_dependent(exc, tagger.current, advice) from None
        except Exception as exc:
            place = tagger.current or "(model)"
            raise TraceError(None, place, f"running it on symbolic sizes failed: {type(exc).__name__}: "
                                          f"{_first_line(exc)}") from None
        finally:
            for hook in hooks:
                hook.remove()

    if contractions.found:
        places = ", ".join(f"{module} (x{n})" for module, n in sorted(contractions.found.items())[:6])
        raise TraceError(None, sorted(contractions.found)[0],
                         f"contractions written as a broadcast product and a sum ran, which FlopCounterMode counts "
                         f"as 0 FLOPs (in {places}): the polynomial would be low, so it is refused (write them "
                         "with torch.matmul or einsum to count them)")
    fixed = [] if concrete else sizes.specialised()
    if fixed:
        shown = "; ".join(f"{f} in {watch.fixed.get(f, 'the model')}" for f in fixed)
        raise TraceError(None, ", ".join(f.split(" =")[0] for f in fixed),
                         f"the implementation turns a symbolic size into a constant ({shown}): its FLOPs are no "
                         "polynomial in that size, so it cannot be traced symbolically (count it at given sizes "
                         "with FlopCounterMode instead)")
    forward_total, forward_modules, forward_ops = split_counts(forward_counts, root)
    backward_total, _, backward_ops = split_counts(subtract(all_counts, forward_counts), root)
    backward_modules = {p: v for p, v in recorder.backward_by_module.items() if p == "" or p in tagger.entered}

    def polys(mapping, phase):
        out = {}
        for key, value in mapping.items():
            expression = sizes.sympy(value, f"{phase} FLOPs of {key or root}")
            if expression != 0:
                out[key] = expression
        return out

    forward = sizes.sympy(forward_total, "forward FLOPs")
    backward_poly = sizes.sympy(backward_total, "backward FLOPs")
    modules = {"forward": polys(forward_modules, "forward"), "backward": polys(backward_modules, "backward")}
    if backward and sympy.expand(modules["backward"].get("", 0) - backward_poly) != 0:
        raise TraceError(None, "backward", "FLOPs were lost attributing the backward to modules")
    guards = sizes.guards()
    return Pass(forward=forward, backward=backward_poly, modules=modules,
                ops={"forward": polys(forward_ops, "forward"), "backward": polys(backward_ops, "backward")},
                guards=tuple(guards), bounded=sizes.bounded(), guard_modules=tuple(sorted(set(watch.places))), params=int(params), root=root,
                model=model)


def _first_line(exc: BaseException) -> str:
    """An exception's message on one line (at most 300 characters)."""
    text = " ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())
    return (text or type(exc).__name__)[:300]


def _default_loss(output: Any) -> torch.Tensor:
    """The backward runs from the sum of the output (the loss's own FLOPs are not matmuls):
    a tensor, a model output's loss or logits, or the first floating tensor of a tuple."""
    for candidate in _tensors(output):
        if candidate.is_floating_point() and candidate.requires_grad:
            return candidate.sum()
    raise TraceError(None, "output", "has no floating tensor that requires grad: no backward to trace "
                                     "(trace the forward only: --forward-only)")


def _tensors(output: Any):
    if isinstance(output, torch.Tensor):
        yield output
        return
    for name in ("loss", "logits"):
        value = getattr(output, name, None)
        if isinstance(value, torch.Tensor):
            yield value
    if isinstance(output, dict):
        for value in output.values():
            yield from _tensors(value)
    elif isinstance(output, (tuple, list)):
        for value in output:
            yield from _tensors(value)
