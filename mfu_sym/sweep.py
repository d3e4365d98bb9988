"""Fast sweeps: a model's expressions compiled once to numpy, evaluated over many
configurations at once, exactly.

Counts are integers, but the closed forms have rational coefficients (s(s+1)/2). Each
expression is multiplied by the least common denominator of its coefficients, evaluated
in int64 and divided back exactly. Where the result could overflow int64 (checked with a
float64 bound) it is evaluated again with Python integers (numpy object arrays): slower,
never wrong. Piecewise closed forms (sliding windows) are evaluated piece by piece and
combined with np.where, so no float default ever enters.
"""

from functools import reduce
from math import lcm

import numpy as np
import sympy

from .errors import UsageError
from .expr import to_sympy

INT64_SAFE = 2.0**62  # headroom under 2**63 for the float64 bound's rounding


class Compiled:
    """An integer-valued expression of some variables, compiled for numpy."""

    def __init__(self, expression, variables):
        self.variables = tuple(variables)
        expression = sympy.piecewise_fold(to_sympy(expression))
        if isinstance(expression, sympy.Piecewise):
            self.pieces = [(_Polynomial(value, self.variables), _condition(cond, self.variables))
                           for value, cond in expression.args]
        else:
            self.pieces = [(_Polynomial(expression, self.variables), None)]

    def __call__(self, *arrays):
        arrays = [np.asarray(a) for a in arrays]
        shape = np.broadcast(*arrays).shape if arrays else ()
        result = None
        for value, condition in reversed(self.pieces):
            piece = np.broadcast_to(value(*arrays), shape)
            if condition is None or result is None:
                result = piece
            else:
                mask = np.broadcast_to(condition(*arrays), shape)
                if piece.dtype != result.dtype:
                    piece, result = piece.astype(object), result.astype(object)
                result = np.where(mask, piece, result)
        return result


class _Polynomial:
    def __init__(self, expression, variables):
        rationals = [r for r in expression.atoms(sympy.Rational) if not r.is_Integer]
        self.denominator = reduce(lcm, (int(r.q) for r in rationals), 1)
        numerator = sympy.expand(expression * self.denominator)
        self.function = sympy.lambdify(variables, numerator, modules="numpy")

    def __call__(self, *arrays):
        ints = [np.asarray(a, dtype=np.int64) for a in arrays]
        with np.errstate(over="ignore", invalid="ignore"):
            bound = np.max(np.abs(np.asarray(self.function(*[a.astype(np.float64) for a in ints]),
                                             dtype=np.float64)), initial=0.0)
        if bound < INT64_SAFE:
            value = np.asarray(self.function(*ints))
            return value.astype(np.int64) // self.denominator
        exact = np.asarray(self.function(*[a.astype(object) for a in ints]), dtype=object)
        return exact // self.denominator


def _condition(condition, variables):
    function = sympy.lambdify(variables, condition, modules="numpy")
    return lambda *arrays: function(*[np.asarray(a, dtype=np.int64) for a in arrays])


def parse_values(text, name):
    """'1024', '512,1024,2048' or 'START:STOP[:STEP]' (STOP included, as users expect of a
    sweep) into a list of positive integers."""
    text = str(text).strip()
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            start, stop = parts[0], parts[1]
            step = parts[2] if len(parts) == 3 else 1
            if step <= 0:
                raise UsageError(None, name, f"{text!r}: the step must be positive")
            if stop < start:
                raise UsageError(None, name, f"{text!r}: STOP is below START")
            values = list(range(start, stop + 1, step))
        else:
            values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(None, name, f"{text!r} is not a list (1,2,4) or a range (START:STOP[:STEP]) "
                                     "of integers") from None
    if not values:
        raise UsageError(None, name, "no values")
    if any(v <= 0 for v in values):
        raise UsageError(None, name, f"{text!r}: every value must be a positive integer")
    if len(values) > 10**7:
        raise UsageError(None, name, f"{len(values)} values (at most 10,000,000)")
    return values


def sweep(model, grid, components=True):
    """Rows of a sweep: `grid` maps symbol names (seq_len, batch, d_model, ...) to lists
    of values; every combination is evaluated. Returns (columns, arrays)."""
    names = list(grid)
    sweepable = _sweepable(model)
    for name in names:
        if name not in sweepable:
            raise UsageError(None, name, f"not a symbol of this model (expected one of {', '.join(sweepable)})")
    symbols = [model.library.symbol(name) for name in names]
    total = reduce(lambda a, b: a * b, (len(v) for v in grid.values()), 1)
    if total > 10**7:
        raise UsageError(None, "grid", f"{total:,} points (at most 10,000,000)")
    mesh = np.meshgrid(*[np.asarray(grid[n], dtype=np.int64) for n in names], indexing="ij")
    columns = {name: m.ravel() for name, m in zip(names, mesh)}
    fixed = {k: v for k, v in model.values.items() if k not in symbols}
    batch = model.batch
    run = {model.seq_len: model.run_values(context_ok=True)[model.seq_len]} if model.seq_len not in symbols else {}
    run.update({batch: sympy.Integer(model.arch.batch)} if batch not in symbols else {})

    def evaluate(expression):
        expression = to_sympy(expression).xreplace({**fixed, **run})
        return Compiled(expression, symbols)(*[columns[n] for n in names])

    tokens_expr = model.seq_len * batch
    outputs = {"params": evaluate(model.params()),
               "training_per_step": evaluate(batch * model.training()),
               "forward_per_step": evaluate(batch * model.forward())}
    tokens = evaluate(tokens_expr)
    outputs["training_per_token"] = outputs["training_per_step"] / tokens  # a ratio: float
    if components:
        for name in model.components:
            outputs[f"training_per_step.{name}"] = evaluate(batch * model.training(name))
    return {**columns, **outputs}


def _sweepable(model):
    """The run's sizes and the symbols this model's expressions use."""
    return ["seq_len", "batch"] + [symbol.name for symbol in model.values]


def rows(table):
    """Row dicts from a sweep's column table."""
    keys = list(table)
    for i in range(len(table[keys[0]])):
        yield {k: _plain(table[k][i]) for k in keys}


def _plain(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value

