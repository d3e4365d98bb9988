"""The one cost rule and the one sum over positions.

Every count the engine makes (per sequence, per position, a decode step, a generation)
is built from these two functions, so a convention's rule is written once:

  token_cost(term, phase, conventions)
      FLOPs of ONE of the term's places (one layer's worth) for one token, as an
      expression in `keys` (the keys the token's query sees): the formula's forward or
      backward under the attention kernel; or, under a params-based convention (6N, PaLM,
      Kaplan), 2 FLOPs per parameter forward and 4 backward, its attention core a formula
      only where the convention adds one; 0 for a term the convention leaves out.

  position_sum(cost, mask, low, high, symbols)
      the sum of cost(keys(t)) over positions t = low+1 .. high, in closed form: the cost
      is linear in keys, a + b * keys, so the sum is a (high - low) + b (total(high) -
      total(low)), `total` being the mask's closed-form sum of keys (formulas/masks.yaml).
"""

import sympy

# Kaplan et al. 2020 §2.1: a parameter costs 2 FLOPs (a multiply-add) in the forward pass
# and twice that backward (the gradients of the input and of the weight): C = 6ND.
FLOPS_PER_PARAM = {"forward": 2, "backward": 4}
TRAINING_FLOPS_PER_PARAM = sum(FLOPS_PER_PARAM.values())


def counted_params(terms, conventions):
    """N as a params-based convention counts it: the active parameters of every term it
    does not exclude (6N's N)."""
    return sympy.Add(*[t.count * t.formula.active_params for t in terms
                       if t.formula.name not in conventions.params_exclude])


def token_cost(term, phase, conventions):
    """FLOPs of one of `term`'s places for one token in `phase` ("forward" or
    "backward"), in `keys`, as `conventions` count them."""
    zero = sympy.Integer(0)
    if not term.flops:
        return zero
    formula = term.formula
    cost = formula.forward if phase == "forward" else formula.backward[conventions.attention_kernel]
    if conventions.flops_from != "params":
        return cost
    if term.kind == "attention_core":
        return cost if conventions.attention_core else zero
    if formula.name in conventions.params_exclude:
        return zero
    return FLOPS_PER_PARAM[phase] * formula.active_params


def at_position(cost, mask, position, keys, t):
    """`cost` for the token at `position`: keys replaced by the mask's keys there."""
    if mask is None:
        return cost
    return cost.subs(keys, mask.keys.subs(t, position))


def position_sum(cost, mask, low, high, keys, seq_len):
    """Sum of `cost` over positions low+1 .. high, in closed form (`cost` linear in keys).
    For a mask whose keys depend on the sequence length itself (full, half) the sum is
    only meaningful over a whole sequence: low 0, high seq_len."""
    if mask is None:
        return cost * (high - low)
    slope = sympy.diff(cost, keys)
    total = mask.total.subs(seq_len, high) - mask.total.subs(seq_len, low)
    return cost.subs(keys, 0) * (high - low) + slope * total
