"""The one cost rule and the one sum over positions.

Every count the engine makes (per sequence, per position, a decode step, a generation)
is built from these functions, so a convention's rule is written once:

  token_cost(term, phase, conventions) -> (cost, per)
      FLOPs of ONE of the term's places (one layer's worth): the formula's forward or
      backward under the attention kernel, for one token as an expression in `keys`
      (the keys the token's query sees; per "token"), or for a whole sequence in seq_len
      for a per-sequence formula (chunked algorithms, padding; per "sequence"); or,
      under a params-based convention (6N, PaLM, Kaplan), 2 FLOPs per parameter per
      token forward and 4 backward, its attention core a formula only where the
      convention adds one; 0 for a term the convention leaves out.

  decode_cost(term, conventions)
      FLOPs of one decode-step token (a cache holds the context): the formula's
      `decode` form where it has one (a recurrent step instead of a chunked scan), else
      its forward; 2 per parameter under a params-based convention.

  position_sum(cost, per, mask, low, high, keys, seq_len)
      the sum of a per-token cost(keys(t)) over positions t = low+1 .. high, in closed
      form: the cost is linear in keys, a + b * keys, so the sum is a (high - low) +
      b (total(high) - total(low)), `total` being the mask's closed-form sum of keys
      (formulas/masks.yaml); for a per-sequence cost f, f(high) - f(low), with f(0) = 0:
      an empty sequence costs nothing, so a constant a formula pays once per sequence
      (nn.Conv1d's K - 1 padded outputs) counts with the first token.
"""

import sympy

# Kaplan et al. 2020 §2.1: a parameter costs 2 FLOPs (a multiply-add) in the forward pass
# and twice that backward (the gradients of the input and of the weight): C = 6ND.
FLOPS_PER_PARAM = {"forward": 2, "backward": 4}
TRAINING_FLOPS_PER_PARAM = sum(FLOPS_PER_PARAM.values())
ZERO = sympy.Integer(0)


def counted_params(terms, conventions):
    """N as a params-based convention counts it: the active parameters of every term it
    does not exclude (6N's N)."""
    return sympy.Add(*[t.count * t.formula.active_params for t in terms
                       if t.formula.name not in conventions.params_exclude])


def token_cost(term, phase, conventions):
    """(FLOPs of one of `term`'s places in `phase` ("forward" or "backward"), "token"
    or "sequence"), as `conventions` count them."""
    if not term.flops:
        return ZERO, "token"
    formula = term.formula
    cost = formula.forward if phase == "forward" else formula.backward[conventions.attention_kernel]
    if conventions.flops_from != "params":
        return cost, formula.per
    if term.kind == "attention_core" and not formula.active_params:  # sinks: parameters, in N
        return (cost, formula.per) if conventions.attention_core else (ZERO, "token")
    if formula.name in conventions.params_exclude:
        return ZERO, "token"
    return FLOPS_PER_PARAM[phase] * formula.active_params, "token"


def decode_cost(term, conventions):
    """Forward FLOPs of one decode-step token in one of `term`'s places, in `keys`."""
    if not term.flops:
        return ZERO
    formula = term.formula
    if conventions.flops_from != "params":
        return formula.decode_forward
    if term.kind == "attention_core" and not formula.active_params:
        return formula.decode_forward if conventions.attention_core else ZERO
    if formula.name in conventions.params_exclude:
        return ZERO
    return FLOPS_PER_PARAM["forward"] * formula.active_params


def sequence_cost(cost, seq_len, length):
    """A per-sequence cost f at `length` tokens, f(0) = 0 (an empty sequence costs
    nothing whatever constant the formula carries)."""
    length = sympy.sympify(length)
    if length == 0:
        return ZERO
    if length.is_positive:
        return cost.subs(seq_len, length)
    return sympy.Piecewise((ZERO, sympy.Eq(length, 0)), (cost.subs(seq_len, length), True))


def at_position(cost, per, mask, position, keys, t, seq_len):
    """`cost` for the token at `position`: keys replaced by the mask's keys there; for a
    per-sequence cost f, f(position) - f(position - 1)."""
    if per == "sequence":
        return sequence_cost(cost, seq_len, position) - sequence_cost(cost, seq_len, position - 1)
    if mask is None:
        return cost
    return cost.subs(keys, mask.keys.subs(t, position))


def position_sum(cost, per, mask, low, high, keys, seq_len):
    """Sum of `cost` over positions low+1 .. high, in closed form (a per-token `cost`
    linear in keys). For a mask whose keys depend on the sequence length itself (full,
    half) the sum is only meaningful over a whole sequence: low 0, high seq_len."""
    if per == "sequence":
        return sequence_cost(cost, seq_len, high) - sequence_cost(cost, seq_len, low)
    if mask is None:
        return cost * (high - low)
    slope = sympy.diff(cost, keys)
    total = mask.total.subs(seq_len, high) - mask.total.subs(seq_len, low)
    return cost.subs(keys, 0) * (high - low) + slope * total
