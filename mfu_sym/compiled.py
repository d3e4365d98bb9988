"""Integer-valued expressions compiled once for numpy, evaluated exactly over arrays.

Counts are integers, but the closed forms have rational coefficients (s(s+1)/2). Each
expression is multiplied by the least common denominator of its coefficients, evaluated
in int64 and divided back exactly. Where the result could overflow int64 (checked with a
float64 bound) it is evaluated again with Python integers (numpy object arrays): slower,
never wrong. Piecewise closed forms (sliding windows) are evaluated piece by piece and
combined with np.where, so no float default ever enters. Inputs are sizes: positive
integers only.
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
        if len(arrays) != len(self.variables):
            raise UsageError(None, "arguments", f"expected {len(self.variables)} arrays "
                                                f"({', '.join(map(str, self.variables))}), got {len(arrays)}")
        arrays = [_positive_integers(a, str(v)) for a, v in zip(arrays, self.variables)]
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


def _positive_integers(values, name):
    """An integer array of positive values (a count's inputs are sizes): no floats, NaN,
    booleans or non-positive numbers."""
    array = np.asarray(values)
    if array.dtype == object:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in array.flat):
            raise UsageError(None, name, "expected integers")
    elif not np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        raise UsageError(None, name, f"expected integers, got {array.dtype} values")
    if array.size and (array <= 0).any():
        raise UsageError(None, name, "every value must be a positive integer")
    return array


class _Polynomial:
    def __init__(self, expression, variables):
        rationals = [r for r in expression.atoms(sympy.Rational) if not r.is_Integer]
        self.denominator = reduce(lcm, (int(r.q) for r in rationals), 1)
        numerator = sympy.expand(expression * self.denominator)
        self.function = sympy.lambdify(variables, numerator, modules="numpy")

    def __call__(self, *arrays):
        if any(a.dtype == object for a in arrays):
            return self._whole(np.asarray(self.function(*[a.astype(object) for a in arrays]), dtype=object))
        ints = [a.astype(np.int64) for a in arrays]
        with np.errstate(over="ignore", invalid="ignore"):
            bound = np.max(np.abs(np.asarray(self.function(*[a.astype(np.float64) for a in ints]),
                                             dtype=np.float64)), initial=0.0)
        if bound < INT64_SAFE:
            value = np.asarray(self.function(*ints))
            return self._whole(value.astype(np.int64))
        exact = np.asarray(self.function(*[a.astype(object) for a in ints]), dtype=object)
        return self._whole(exact)

    def _whole(self, numerator):
        """numerator / denominator, which must be whole: a count is, but an expectation over
        routing (zero-computation experts) may be a fraction, which this never rounds."""
        if self.denominator != 1 and np.any(numerator % self.denominator != 0):
            raise UsageError(None, "expression", "is not a whole number at some of these inputs (an "
                             "expectation, such as zero-computation experts' FLOPs?): evaluate it exactly "
                             "with Model.evaluate")
        return numerator // self.denominator


def _condition(condition, variables):
    function = sympy.lambdify(variables, condition, modules="numpy")
    return lambda *arrays: function(*[np.asarray(a, dtype=object if a.dtype == object else np.int64)
                                      for a in arrays])
