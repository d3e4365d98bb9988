"""Integer-valued expressions compiled once, evaluated exactly over numpy arrays.

The expression tree (sums, products, integer powers, rational coefficients, floor,
ceiling, Min, Max, Piecewise) is compiled into integer operations only: every node
computes a numerator whose denominator is a constant known at compile time, so s(s+1)/2
is (s*(s+1)) // 2 checked to be whole, and ceiling(s/64) is -((-s) // 64). No float ever
enters a value.

int64 where it is exact, Python integers only where it is not. Before evaluating, a bound
on the magnitude of every intermediate is computed from the largest input of each
variable (the inputs are positive, so |sum| <= sum of |terms| and the bound at the
corner of the box holds everywhere in it): if it is under 2**63 the whole array is
evaluated in int64. Otherwise the same bound is computed per element in float64, and
only the elements that could pass 2**62 are evaluated with Python integers.
"""

from functools import reduce
from math import lcm

import numpy as np
import sympy

from .errors import UsageError
from .expr import to_sympy

INT64_LIMIT = 2**63
FLOAT_SAFE = 2.0**62  # per-element bound in float64: headroom for its rounding


class Compiled:
    """An integer-valued expression of some variables, compiled for numpy: call it with
    one array (or integer) per variable; inputs are sizes, positive integers."""

    def __init__(self, expression, variables):
        self.variables = tuple(variables)
        self._root = _node(sympy.piecewise_fold(to_sympy(expression)), self.variables)
        nodes = list(_walk(self._root))
        self._guards = [n for n in nodes if isinstance(n, _Exact)]
        # float64 evaluation: each operation, input and constant rounds once (relative 2**-53)
        operations = len(nodes) + len(self.variables) + sum(n.exponent for n in nodes if isinstance(n, _Power))
        self._float_error = operations * 2.0**-53 / (1 - operations * 2.0**-53) * (1 + 2.0**-40)
        twos = (self._root.den & -self._root.den).bit_length() - 1
        self._base = Wide.base_for(twos) if self._root.den == 2**twos else None

    def __call__(self, *arrays):
        """Exact values: an int64 array, or an object array of Python integers where some
        value passes int64 (one point of Python integers gives a Python integer)."""
        result = self.exact(*arrays)
        return result.to_object() if isinstance(result, Wide) else result

    def exact(self, *arrays):
        """Like calling it, but values past int64 may come back as a Wide (hi, lo int64
        arrays, exactly hi * 10**k + lo), which the sweep writes without Python integers."""
        if len(arrays) != len(self.variables):
            raise UsageError(None, "arguments", f"expected {len(self.variables)} arrays "
                                                f"({', '.join(map(str, self.variables))}), got {len(arrays)}")
        if all(type(a) is int for a in arrays):  # one point: Python integers, no numpy
            for a, v in zip(arrays, self.variables):
                if a <= 0:
                    raise UsageError(None, str(v), "every value must be a positive integer")
            return self._root.whole(self._root.value(arrays))
        arrays = [_positive_integers(a, str(v)) for a, v in zip(arrays, self.variables)]
        if any(a.dtype == object for a in arrays):
            shape = np.broadcast(*arrays).shape if arrays else ()
            return np.broadcast_to(self._exact(arrays), shape)
        return self.checked(arrays, [int(a.max()) if a.size else 1 for a in arrays])

    def checked(self, arrays, corner):
        """`exact` of int64 arrays already checked to be positive, whose largest values
        are `corner` (a sweep checks its grid once, not every expression's inputs)."""
        shape = np.broadcast(*arrays).shape if arrays else ()
        if self._root.bound(corner) < INT64_LIMIT:
            return np.broadcast_to(self._root.whole(self._root.value(arrays)), shape)
        arrays = [np.broadcast_to(a, shape).reshape(-1) for a in arrays]
        if self._base is not None and all(g.bound(corner) < INT64_LIMIT for g in self._guards):
            result = self._wide(arrays, corner)
        else:
            result = self._per_element(arrays)
        return result.reshape(shape)

    def bound(self, maxima):
        """An upper bound (a Python integer) on the magnitude of the value and of every
        intermediate, for inputs anywhere in [1, maxima]."""
        return self._root.bound(list(maxima))

    def _exact(self, arrays):
        return self._root.whole(self._root.value([np.asarray(a, dtype=object) for a in arrays]))

    def _per_element(self, arrays):
        """int64 for the elements whose bound fits, Python integers for the rest."""
        with np.errstate(over="ignore", invalid="ignore"):
            safe = self._root.bound([a.astype(np.float64) for a in arrays]) < FLOAT_SAFE
        result = np.empty(safe.shape, dtype=object)
        if safe.any():
            result[safe] = self._root.whole(self._root.value([a[safe] for a in arrays])).astype(object)
        if not safe.all():
            result[~safe] = self._exact([a[~safe] for a in arrays])
        return result

    def _wide(self, arrays, corner):
        """Exact values past int64 without Python integers: the numerator modulo 2**64
        (int64 arithmetic wraps; floor, Min and comparisons are computed exactly, their
        bounds fit) and in float64 with a bound on its error; together they give the
        value's decimal digits exactly, as (hi, lo). Elements past that range (about
        10**31) are Python integers."""
        base, den = self._base, self._root.den
        twos = den.bit_length() - 1
        bits = 64 - twos
        with np.errstate(over="ignore", invalid="ignore"):
            modular = np.asarray(self._root.value(_Inputs(arrays, wrap=True)), dtype=np.int64)
            floats = [a.astype(np.float64) for a in arrays]
            approx = np.asarray(self._root.value(_Inputs(floats, exact=_Inputs(arrays))), dtype=np.float64) / den
            bound = min(self._root.bound(corner), 2**1000) / den  # at the corner: every element at once
            if bound * self._float_error < base / 4 and bound < base * 2.0**52:
                ok = approx >= 0
            else:  # element by element
                error = self._root.bound(floats) * self._float_error / den
                ok = (error < base / 4) & (approx >= 0) & (approx < base * 2.0**52)
        residue = np.broadcast_to(modular, approx.shape).view(np.uint64)
        if twos:
            if (residue & np.uint64(den - 1) != 0)[ok].any():
                self._root.whole(self._exact([a[ok] for a in arrays]))  # not whole: its error
            residue = residue >> np.uint64(twos)
        hi = np.floor(np.where(ok, approx, 0) / base).astype(np.int64)
        low = (residue - hi.astype(np.uint64) * np.uint64(base)) & np.uint64(2**bits - 1)
        if bits == 64:
            lo = low.view(np.int64)  # the residue read as signed: in [-2**63, 2**63)
        else:
            lo = low.astype(np.int64)
            lo = np.where(lo >= 2**(bits - 1), lo - 2**(bits - 1) - 2**(bits - 1), lo)
        below, above = lo < 0, lo >= base
        hi, lo = hi - below + above, lo + base * below - base * above
        if ok.all():
            return Wide(hi, lo, base)
        result = np.empty(ok.shape, dtype=object)
        result[ok] = Wide(hi[ok], lo[ok], base).to_object()
        result[~ok] = self._per_element([a[~ok] for a in arrays])
        return result


def at_points(expression, variable):
    """A function of one positive integer, `variable`'s value, giving `expression`'s exact
    value there: an int, or a Fraction where it is not whole (an expectation). Compiled
    once (scaled by its coefficients' common denominator), a few microseconds a point."""
    from fractions import Fraction
    expression = to_sympy(expression)
    scale = 1
    for number in expression.atoms(sympy.Rational):
        scale = lcm(scale, int(number.q))
    function = Compiled(expression * scale, [variable])
    if scale == 1:
        return function
    return lambda n: Fraction(function(n), scale)


class Wide:
    """Non-negative integers past int64, exactly hi * base + lo with 0 <= lo < base =
    10**k: what the sweep writes as text without building Python integers."""

    def __init__(self, hi, lo, base):
        self.hi, self.lo, self.base = hi, lo, base

    @staticmethod
    def base_for(twos):
        """The largest 10**k (k <= 18) for a numerator with 2**twos in its denominator:
        the low part, known modulo 2**(64 - twos), must single out lo in [-base, 2 base)."""
        for digits in range(18, 0, -1):
            if 10**digits < 2**(64 - twos - 2):
                return 10**digits
        return None

    def __len__(self):
        return len(self.hi)

    def __getitem__(self, index):
        return Wide(self.hi[index], self.lo[index], self.base)

    def reshape(self, shape):
        return Wide(self.hi.reshape(shape), self.lo.reshape(shape), self.base)

    def to_object(self):
        return self.hi.astype(object) * self.base + self.lo.astype(object)


class _Inputs(list):
    """The inputs of one evaluation: `wrap` (int64 modulo 2**64, constants reduced too) or
    `exact` (the int64 inputs of a float evaluation, for the nodes that need them)."""

    def __init__(self, arrays, wrap=False, exact=None):
        super().__init__(arrays)
        self.wrap, self.exact = wrap, exact


def _walk(node):
    yield node
    for name in ("terms", "factors", "arguments", "pieces"):
        for child in getattr(node, name, ()):
            for part in (child if isinstance(child, tuple) else (child,)):
                if isinstance(part, _Node):
                    yield from _walk(part)
    for name in ("base", "argument", "left", "right"):
        child = getattr(node, name, None)
        if isinstance(child, _Node):
            yield from _walk(child)


def _positive_integers(values, name):
    """An integer array of positive values (a count's inputs are sizes): no floats, NaN,
    booleans or non-positive numbers."""
    array = np.asarray(values)
    if array.dtype == object:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in array.flat):
            raise UsageError(None, name, "expected integers")
    elif not np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        raise UsageError(None, name, f"expected integers, got {array.dtype} values")
    elif array.dtype != np.int64:
        if array.dtype == np.uint64 and array.size and array.max() >= INT64_LIMIT:
            array = array.astype(object)
        else:
            array = array.astype(np.int64)
    if array.size and (array <= 0).any():
        raise UsageError(None, name, "every value must be a positive integer")
    return array


# ---------------------------------------------------------------- the compiled tree
#
# Each node's value is numerator / den with `den` a positive integer fixed at compile
# time; `value(inputs)` computes the numerator with integer operations (int64 arrays,
# object arrays or Python ints alike) and `bound(maxima)` bounds |numerator| of the node
# and of everything below it.

class _Node:
    den = 1

    def whole(self, numerator):
        """numerator / den, which must be whole: a count is, but an expectation over
        routing (zero-computation experts) may be a fraction, which this never rounds."""
        if self.den == 1:
            return numerator
        if np.any(numerator % self.den != 0):
            raise UsageError(None, "expression", "is not a whole number at some of these inputs (an "
                             "expectation, such as zero-computation experts' FLOPs?): evaluate it exactly "
                             "with Model.evaluate")
        return numerator // self.den


class _Constant(_Node):
    def __init__(self, number):
        self.num, self.den = int(number.p), int(number.q)
        self.wrapped = (self.num + 2**63) % 2**64 - 2**63  # the same number modulo 2**64, in int64

    def value(self, inputs):
        return self.wrapped if getattr(inputs, "wrap", False) else self.num

    def bound(self, maxima):
        return abs(self.num)


class _Variable(_Node):
    def __init__(self, index):
        self.index = index

    def value(self, inputs):
        return inputs[self.index]

    def bound(self, maxima):
        return maxima[self.index]


class _Sum(_Node):
    def __init__(self, terms):
        self.den = reduce(lcm, (t.den for t in terms), 1)
        self.terms = [(t, self.den // t.den) for t in terms]

    def value(self, inputs):
        return reduce(lambda a, b: a + b, (t.value(inputs) * k if k != 1 else t.value(inputs)
                                           for t, k in self.terms))

    def bound(self, maxima):
        total = 0
        for t, k in self.terms:
            total = total + t.bound(maxima) * k
        return total


class _Product(_Node):
    def __init__(self, factors):
        self.factors = factors
        self.den = reduce(lambda a, b: a * b, (f.den for f in factors), 1)

    def value(self, inputs):
        return reduce(lambda a, b: a * b, (f.value(inputs) for f in self.factors))

    def bound(self, maxima):
        # partial products stay under the product of bounds each at least 1
        return reduce(lambda a, b: a * b, (_at_least_one(f.bound(maxima)) for f in self.factors))


class _Power(_Node):
    def __init__(self, base, exponent):
        self.base, self.exponent = base, exponent
        self.den = base.den ** exponent

    def value(self, inputs):
        value = self.base.value(inputs)
        return reduce(lambda a, b: a * b, [value] * self.exponent)

    def bound(self, maxima):
        return _at_least_one(self.base.bound(maxima)) ** self.exponent


class _Exact(_Node):
    """A node whose value is not a ring operation of its arguments' (floor, Min, a
    comparison): modulo 2**64 or in floats it would be wrong, so under those evaluations
    (`inputs.exact` holds the int64 inputs) it is computed exactly; Compiled checks that
    its bound fits int64 first."""

    def value(self, inputs):
        exact = getattr(inputs, "exact", None)
        if exact is not None:
            value = self.exact_value(exact)
            return value.astype(np.float64) if isinstance(value, np.ndarray) and value.dtype != np.bool_ \
                else value
        return self.exact_value(inputs)


class _Floor(_Exact):
    def __init__(self, argument, ceiling):
        self.argument, self.ceiling = argument, ceiling

    def exact_value(self, inputs):
        num, den = self.argument.value(inputs), self.argument.den
        return -((-num) // den) if self.ceiling else num // den

    def bound(self, maxima):
        return self.argument.bound(maxima) + 1  # |floor(n/d)| <= |n| + 1


class _Extremum(_Exact):
    def __init__(self, arguments, largest):
        self.den = reduce(lcm, (a.den for a in arguments), 1)
        self.arguments = [(a, self.den // a.den) for a in arguments]
        self.largest = largest

    def exact_value(self, inputs):
        values = [a.value(inputs) * k for a, k in self.arguments]
        pick = np.maximum if self.largest else np.minimum
        if all(type(v) is int for v in values):
            pick = max if self.largest else min
        return reduce(pick, values)

    def bound(self, maxima):
        return _largest([a.bound(maxima) * k for a, k in self.arguments])


class _Compare(_Exact):
    """A relation a < b (etc.) between two nodes, compared exactly by cross-multiplying."""
    OPERATORS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
                 "==": np.equal, "!=": np.not_equal}

    def __init__(self, left, right, op):
        self.left, self.right, self.op = left, right, self.OPERATORS[op]

    def exact_value(self, inputs):
        return self.op(self.left.value(inputs) * self.right.den, self.right.value(inputs) * self.left.den)

    def bound(self, maxima):
        return _largest([self.left.bound(maxima) * self.right.den, self.right.bound(maxima) * self.left.den])


class _Logic(_Exact):
    def __init__(self, arguments, both):
        self.arguments, self.op = arguments, (np.logical_and if both else np.logical_or)

    def exact_value(self, inputs):
        return reduce(self.op, (a.value(inputs) for a in self.arguments))

    def bound(self, maxima):
        return _largest([a.bound(maxima) for a in self.arguments])


class _Truth(_Node):
    def value(self, inputs):
        return True

    def bound(self, maxima):
        return 1


class _Cases(_Node):
    """Piecewise: the first piece whose condition holds (sympy's order)."""

    def __init__(self, pieces):
        self.den = reduce(lcm, (v.den for v, _ in pieces), 1)
        self.pieces = [(v, self.den // v.den, c) for v, c in pieces]

    def value(self, inputs):
        result = None
        for value, k, condition in reversed(self.pieces):
            piece = value.value(inputs) * k
            if result is None:
                result = piece
                continue
            mask = condition.value(inputs)
            if isinstance(mask, (bool, np.bool_)) and not isinstance(piece, np.ndarray) \
                    and not isinstance(result, np.ndarray):
                result = piece if mask else result
                continue
            piece, result = np.asarray(piece), np.asarray(result)
            if (piece.dtype == object) != (result.dtype == object):
                piece, result = piece.astype(object), result.astype(object)
            result = np.where(mask, piece, result)
        return result

    def bound(self, maxima):
        return _largest([b for v, k, c in self.pieces for b in (v.bound(maxima) * k, c.bound(maxima))])


def _largest(bounds):
    if any(isinstance(b, np.ndarray) for b in bounds):
        return reduce(np.maximum, bounds)
    return max(bounds)


def _at_least_one(bound):
    return np.maximum(bound, 1.0) if isinstance(bound, np.ndarray) else max(bound, 1)


_RELATIONS = {sympy.StrictLessThan: "<", sympy.LessThan: "<=", sympy.StrictGreaterThan: ">",
              sympy.GreaterThan: ">=", sympy.Equality: "==", sympy.Unequality: "!="}


def _node(expression, variables):
    """Compile a sympy expression of `variables` into the node tree."""
    def build(e):
        if e.is_Rational:
            return _Constant(e)
        if e.is_Symbol:
            if e not in variables:
                raise UsageError(None, "expression", f"has symbol {e} with no value (give it as a variable)")
            return _Variable(variables.index(e))
        if e.is_Add:
            return _Sum([build(a) for a in e.args])
        if e.is_Mul:
            return _Product([build(a) for a in e.args])
        if e.is_Pow and e.exp.is_Integer and e.exp > 0:
            return _Power(build(e.base), int(e.exp))
        if isinstance(e, (sympy.floor, sympy.ceiling)):
            return _Floor(build(e.args[0]), isinstance(e, sympy.ceiling))
        if isinstance(e, (sympy.Min, sympy.Max)):
            return _Extremum([build(a) for a in e.args], isinstance(e, sympy.Max))
        if isinstance(e, sympy.Piecewise):
            return _Cases([(build(v), build(c)) for v, c in e.args])
        if type(e) in _RELATIONS:
            return _Compare(build(e.lhs), build(e.rhs), _RELATIONS[type(e)])
        if isinstance(e, (sympy.And, sympy.Or)):
            return _Logic([build(a) for a in e.args], isinstance(e, sympy.And))
        if e is sympy.true:
            return _Truth()
        raise UsageError(None, "expression", f"cannot be compiled to exact integer arithmetic: {e}")
    return build(expression)
