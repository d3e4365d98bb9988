"""FLOPs of each logged step of packed documents, from the documents the step held.

A training log may carry, per step and over all devices, the documents' `cu_seqlens`
(offsets from 0; Megatron's THD batches, FlashAttention's varlen kernels) or Megatron's
two sums ΣL and ΣL² (`update_seqlen_stats_from_cu_seqlens`). A step then costs Σ C(L_i),
C being the model's count for one sequence of length L:

  cu_seqlens   exact for every model: C at each document's length, summed
  ΣL, ΣL²      exact where C(L) = c1·L + c2·L² (causal, full or half attention; no window,
               no chunked scan, no per-document constant), which is all two sums can carry
"""

import json
from fractions import Fraction

import sympy

from .errors import LogError


def _lengths(raw, path, line, name):
    """Document lengths from a cu_seqlens value: a JSON list of offsets, or its text in a
    CSV cell (JSON, or numbers separated by spaces or semicolons)."""
    values = raw
    if isinstance(raw, str):
        text = raw.strip()
        try:
            values = json.loads(text) if text.startswith("[") else [int(v) for v in text.replace(";", " ").split()]
        except (ValueError, RecursionError):
            raise LogError(path, f"line {line}", f"{name} is not a list of offsets") from None
    if not isinstance(values, list) or len(values) < 2:
        raise LogError(path, f"line {line}", f"{name} is not a list of at least two offsets (from 0)")
    if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise LogError(path, f"line {line}", f"{name} holds a value that is not an integer offset")
    if values[0] != 0:
        raise LogError(path, f"line {line}", f"{name} starts at {values[0]} (expected 0)")
    lengths = [b - a for a, b in zip(values, values[1:])]
    if any(length < 0 for length in lengths):
        raise LogError(path, f"line {line}", f"{name} decreases (expected non-decreasing offsets)")
    if values[-1] == 0:
        raise LogError(path, f"line {line}", f"{name} holds no token")
    return [length for length in lengths if length]


def _evaluator(model, expression):
    """length -> exact count of one sequence of that length (an int, or a Fraction for an
    expectation), compiled once and cached (lengths repeat)."""
    from .compiled import at_points
    per_sequence = sympy.sympify(expression).xreplace(model.values)
    if per_sequence.free_symbols - {model.seq_len}:
        raise LogError(None, "documents", "the count of a document depends on more than its length")
    function = at_points(per_sequence, model.seq_len)
    cache = {}

    def at(length):
        value = cache.get(length)
        if value is None:
            value = cache[length] = function(length)
        return value
    return at


def from_cu_seqlens(model, expressions, raws, path, lines, name):
    """(per-step counts for each expression, per-step tokens) from cu_seqlens values."""
    evaluators = [_evaluator(model, e) for e in expressions]
    totals = [[] for _ in expressions]
    tokens = []
    for raw, line in zip(raws, lines):
        lengths = _lengths(raw, path, int(line), name)
        tokens.append(sum(lengths))
        for at, out in zip(evaluators, totals):
            out.append(sum(map(at, lengths)))
    return totals, tokens


def quadratic(model, expression):
    """(c1, c2) with C(L) = c1·L + c2·L², or None when the count is not of that form."""
    per_sequence = sympy.expand(sympy.sympify(expression).xreplace(model.values))
    if per_sequence.free_symbols - {model.seq_len}:
        return None
    try:
        polynomial = sympy.Poly(per_sequence, model.seq_len)
    except sympy.PolynomialError:
        return None
    if polynomial.degree() > 2 or polynomial.coeff_monomial(1) != 0:
        return None
    return polynomial.coeff_monomial(model.seq_len), polynomial.coeff_monomial(model.seq_len**2)


def from_sums(model, expressions, sums, squares, path, lines, names):
    """(per-step counts, per-step tokens) from ΣL and ΣL² values."""
    forms = []
    for expression in expressions:
        form = quadratic(model, expression)
        if form is None:
            raise LogError(path, names[0], "this model's count for a document is not c1·L + c2·L² (a sliding "
                                           "window, a chunked scan or a per-document constant): ΣL and ΣL² do not "
                                           "determine it; log the documents' cu_seqlens")
        forms.append(tuple(_number(c) for c in form))
    totals = [[] for _ in expressions]
    tokens = []
    for total, square, line in zip(sums, squares, lines):
        total = _whole(total, path, int(line), names[0])
        square = _whole(square, path, int(line), names[1])
        if not total <= square <= total * total:
            raise LogError(path, f"line {int(line)}", f"{names[1]} {square} is impossible for {names[0]} {total} "
                                                      "(expected ΣL <= ΣL² <= (ΣL)²)")
        tokens.append(total)
        for (c1, c2), out in zip(forms, totals):
            out.append(c1 * total + c2 * square)
    return totals, tokens


def _number(value):
    """A sympy rational as an int or a Fraction (Python arithmetic per step is fast)."""
    value = sympy.Rational(value)
    return int(value.p) if value.q == 1 else Fraction(int(value.p), int(value.q))


def _whole(raw, path, line, name):
    if isinstance(raw, bool):
        raise LogError(path, f"line {line}", f"{name} is {raw!r}, not a positive integer")
    try:
        value = int(raw) if isinstance(raw, int) else int(str(raw).strip())
    except ValueError:
        try:
            number = float(raw)
        except (TypeError, ValueError):
            number = None
        if number is None or not number.is_integer():
            raise LogError(path, f"line {line}", f"{name} is {raw!r}, not a positive integer") from None
        value = int(number)
    if value <= 0:
        raise LogError(path, f"line {line}", f"{name} is {raw!r}, not a positive integer")
    return value
