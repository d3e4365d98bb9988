"""Symbolic analysis: how two conventions differ (reconcile), the identities a preset
claims (proved by exact symbolic equality), and how cost moves with sequence length
(analyze: derivatives, crossovers, shares, asymptotics)."""

import sympy

from . import cost
from .conventions import Conventions, load_presets
from .expr import to_sympy
from .model import Model, collect_in

FFN = ("mlp", "router", "experts", "shared_experts")  # what "the MLP" means for crossovers


def with_preset(model, preset, **switches):
    """The same architecture under another convention (the model itself where the
    conventions come out the same: its expressions are already built)."""
    conventions = Conventions.from_preset(preset, root=model.library.root, **switches)
    if conventions.resolved(Model.variants_read(model.arch), tied=model.arch.tied_embeddings) == model.conventions:
        return model
    return Model(model.arch, conventions, model.library)


def counted_params(model):
    """N as the model's convention counts it (params presets; cost.counted_params)."""
    return cost.counted_params(model.terms, model.conventions)


# ---- reconcile --------------------------------------------------------------------

def reconcile(base, other, seq_len=None, batch=None):
    """Per-sequence training FLOPs of `base` minus `other`, split by component, each
    simplified symbolically and evaluated at the run's sizes."""
    run = base.run_values(seq_len, batch, context_ok=True)
    values = {**base.values, **run}
    b = run[base.batch]

    def at(expression):
        return to_sympy(expression).xreplace(values)

    base_total, other_total = at(b * base.training()), at(b * other.training())
    rows = {}
    for name in _union(base.components, other.components):
        residual = base.training(name) - other.training(name)
        value = at(b * residual)
        if residual == 0:
            continue
        rows[name] = {
            "residual": collect_in(residual, base.seq_len),
            "value": value,
            "relative_to_base": float(value / base_total) if base_total else 0.0,
        }
    residual = base.training() - other.training()
    terms = {}
    ours, theirs = base.training_by_formula(), other.training_by_formula()
    for name in _union(list(ours), list(theirs)):
        difference = ours.get(name, 0) - theirs.get(name, 0)
        value = at(b * difference)
        if value != 0:
            terms[name] = {"value": value, "relative_to_base": float(value / base_total) if base_total else 0.0,
                           "base": at(b * ours.get(name, 0)), "against": at(b * theirs.get(name, 0))}
    return {
        "model": base.arch.name,
        "run": {"seq_len": run[base.seq_len], "batch": b},
        "base": {"preset": base.conventions.preset, "training": base_total,
                 "conventions": base.conventions.describe()},
        "against": {"preset": other.conventions.preset, "training": other_total,
                    "conventions": other.conventions.describe()},
        "ratio": float(base_total / other_total) if other_total else None,
        "residual": collect_in(residual, base.seq_len),
        "components": rows,
        "terms": terms,
        "differences": differences(base.conventions, other.conventions, base),
        "identities": prove_identities(base) + prove_identities(other),
    }


def differences(base, other, model=None):
    """The switches and disputed-term variants on which two conventions differ, each in
    words on both sides: why their numbers differ. Given the model, switches that cannot
    change its count are left out (MTP without MTP modules, MLA's form without MLA
    layers, the router without a router, a mask that differs only in its treatment of
    windows and chunks when no layer has one)."""
    from dataclasses import replace
    inapplicable = set()
    if model is not None:
        mixers = {block.name for block in model.arch.blocks() if block.part == "mixer"}
        if "mtp" not in model.components:
            inapplicable.add("mtp")
        if not mixers & {"mla", "dsa"}:
            inapplicable.add("mla")
        if base.mask == other.mask and not mixers & {"sliding_attention", "chunked_attention", "dsa"}:
            inapplicable.add("mask")
        if "router" not in model.components:
            base, other = replace(base, router=True), replace(other, router=True)
    ours, theirs = base.explain(), other.explain()
    out = []
    for key in _union(list(ours), list(theirs)):
        if key == "preset" or key in inapplicable or ours.get(key) == theirs.get(key):
            continue
        out.append({"switch": key, "base": ours.get(key, "not counted"), "against": theirs.get(key, "not counted")})
    return out


def _union(first, second):
    return list(first) + [name for name in second if name not in first]


# ---- identities -------------------------------------------------------------------

def prove_identities(model):
    """Each identity of the model's preset: proved (exact symbolic equality under the
    identity's assumptions), or not applicable (the model does not meet them)."""
    preset = load_presets(model.library.root)[model.conventions.preset]
    results = []
    for identity in preset.identities:
        meets, why = _assumptions(model, identity.assumes)
        result = {"preset": preset.name, "statement": identity.statement}
        if not meets:
            results.append({**result, "status": "not applicable", "reason": why})
            continue
        substitution = why
        lhs = model.batch * (model.hardware_training() if identity.kind == "hardware" else model.training())
        rhs = identity.expression.xreplace({model.library.symbol("n_params"): counted_params(model)})
        difference = sympy.simplify(sympy.expand((lhs - rhs).subs(substitution)))
        results.append({**result, "status": "proved" if difference == 0 else "fails",
                        "closed_form": rhs.subs(substitution), "difference": difference})
    return results


ATTENTION_MIXERS = {"standard": {"attention", "sliding_attention", "chunked_attention"}, "mla": {"mla"}}


def _assumptions(model, assumes):
    """(True, substitution) when the architecture meets `assumes`, else (False, why)."""
    arch, sym = model.arch, model.library.symbol
    substitution = {}
    for key, wanted in assumes.items():
        if key == "attention":
            if (wanted == "standard") == arch.mla:
                return False, "needs standard (non-MLA) attention"
            mixers = {block.name for block in arch.blocks() if block.part == "mixer"}
            if not mixers <= ATTENTION_MIXERS[wanted]:  # a hybrid's other layers have no such core
                return False, f"needs {wanted} attention in every layer (the model has {', '.join(sorted(mixers))})"
        elif key == "windows":
            if arch.n_window_layers:
                return False, "needs no sliding-window layers"
        elif key == "mlp":
            if arch.mlp != wanted or arch.n_experts:
                return False, f"needs a dense {wanted} MLP"
        else:
            if wanted.xreplace(model.values) != model.values.get(sym(key)):
                return False, f"needs {key} = {wanted}"
            substitution[sym(key)] = wanted
    return True, substitution


# ---- analyze ----------------------------------------------------------------------

def analyze(model, seq_len=None, batch=None, shares_at=()):
    """How training cost moves with sequence length, at the model's sizes."""
    run = model.run_values(seq_len, batch, context_ok=True)
    s, values = model.seq_len, model.values
    at_s = {**values, **run}
    training = model.training()
    collected = collect_in(training, s)
    per_token = training / s
    derivative = step_derivative(training, s)
    marginal = training.xreplace({**values, s: run[s] + 1}) - training.xreplace(at_s)
    lengths = sorted(set(shares_at) | {int(run[s])})
    return {
        "model": model.arch.name,
        "conventions": model.conventions.describe(),
        "run": {"seq_len": run[s], "batch": run[model.batch]},
        "training_per_sequence": {"symbolic": collected, "value": training.xreplace(at_s)},
        "derivative_by_seq_len": {"symbolic": collect_in(derivative, s), "value": derivative.xreplace(at_s)},
        "marginal_token": {"definition": "F(s + 1) - F(s), exact", "value": marginal},
        "per_token": {"symbolic": collect_in(collected / s, s), "value": per_token.xreplace(at_s)},
        "crossover_seq_len": {"attention_core_vs_mlp": crossovers(model)},
        "shares": {int(n): _shares(model, n) for n in lengths},
        "asymptotic": asymptotic(model),
    }


def crossovers(model):
    """The sequence length at which the attention core's training FLOPs equal the MLP's
    (dense MLP, router and experts together), per mask: solved exactly."""
    out = {}
    for mask in ("causal", "full", "half"):
        other = with_preset(model, model.conventions.preset, mask=mask)
        gap = (other.training("attention_core") - sum((other.training(c) for c in FFN), sympy.Integer(0)))
        out[mask] = _positive_root(gap.xreplace(model.values), model.seq_len)
    return out


STEPS = (sympy.floor, sympy.ceiling, sympy.Mod)


def _has_steps(expression):
    return any(expression.has(f) for f in STEPS)


def step_derivative(expression, s):
    """d/ds of a closed form whose chunk counts are steps (floor, ceiling, Mod: chunked
    attention, chunked scans, padding): the steps are constant between their jumps, so
    this is the exact derivative everywhere but at the jumps (a plain derivative
    without steps)."""
    expression = to_sympy(expression)
    if not _has_steps(expression):
        return sympy.diff(expression, s)
    expression = expression.replace(sympy.Mod, lambda a, b: a - b * sympy.floor(a / b))
    steps = {node: sympy.Dummy() for node in expression.atoms(sympy.floor, sympy.ceiling)}
    held = expression.xreplace(steps)
    return sympy.diff(held, s).xreplace({v: k for k, v in steps.items()})


def relaxed(expression):
    """The continuous form of a closed form with steps: floor(x) and ceiling(x) -> x
    (Mod(a, b) -> 0). Exact in its leading term as the sequence grows."""
    expression = to_sympy(expression).replace(sympy.Mod, lambda a, b: sympy.Integer(0))
    return expression.replace(sympy.floor, lambda x: x).replace(sympy.ceiling, lambda x: x)


def _first_integer_root(expression, s, limit=2**48):
    """The smallest positive integer s at which a closed form with steps reaches 0 from
    below (or its sign changes), or None below `limit`: doubling, then bisection."""
    def sign(n):
        value = expression.xreplace({s: sympy.Integer(n)})
        return int(bool(value > 0)) - int(bool(value < 0))
    start = sign(1)
    if start == 0:
        return {"exact": sympy.Integer(1), "approx": 1.0}
    high = 2
    while sign(high) == start:
        high *= 2
        if high > limit:
            return None
    low = high // 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if sign(middle) == start else (low, middle)
    return {"exact": sympy.Integer(high), "approx": float(high)}


def _positive_root(expression, s):
    """The smallest positive root in s of a (piecewise) polynomial, exact, or None. A
    Piecewise piece holds where its condition does and no earlier one does. With steps
    (chunk counts), the smallest integer length where the sign changes."""
    if _has_steps(expression):
        return _first_integer_root(expression, s)
    real = sympy.Symbol("s_real", positive=True)  # seq_len is an integer symbol: solve over the reals
    # Min/Max (MaxText's min(s, W) window term) become Piecewise, which solve can split
    expression = sympy.piecewise_fold(expression.rewrite(sympy.Piecewise)).xreplace({s: real})
    s = real
    pieces = expression.args if isinstance(expression, sympy.Piecewise) else ((expression, sympy.true),)
    roots = []
    for i, (piece, condition) in enumerate(pieces):
        for root in _roots(piece, s):
            if not (root.is_real and root > 0):
                continue
            holds = lambda c: bool(to_sympy(c).subs(s, root))
            if holds(condition) and not any(holds(c) for _, c in pieces[:i]):
                roots.append(root)
    if not roots:
        return None
    root = min(roots, key=float)
    return {"exact": root, "approx": float(root)}


def _roots(expression, s):
    """The roots in s of a polynomial: sympy.roots (radicals; the same forms solve gives,
    without its search), or solve where roots cannot give all of them. Never sympy's
    simplify, which imports sympy.physics.units (half a second of a cold start)."""
    try:
        polynomial = sympy.Poly(expression, s)
    except sympy.PolynomialError:
        polynomial = None
    if polynomial is not None and not polynomial.is_zero:
        found = sympy.roots(polynomial)
        if sum(found.values()) == polynomial.degree():
            return list(found)
    return sympy.solve(sympy.Eq(expression, 0), s, simplify=False)


def _shares(model, length):
    values = {**model.values, model.seq_len: sympy.Integer(length)}
    total = model.training().xreplace(values)
    return {name: float(model.training(name).xreplace(values) / total) for name in model.components
            if model.training(name) != 0}


def asymptotic(model):
    """The leading term of per-sequence training FLOPs as seq_len grows (past any window)."""
    s = model.seq_len
    training = sympy.piecewise_fold(relaxed(model.training().xreplace(model.values)).rewrite(sympy.Piecewise))
    if isinstance(training, sympy.Piecewise):
        training = training.args[-1][0]  # the piece that holds for large s
    polynomial = sympy.Poly(sympy.expand(training), s)
    degree = polynomial.degree()
    leading = polynomial.LC() * s**degree
    return {"leading_term": leading, "degree": degree,
            "meaning": {2: "quadratic: attention dominates at long context",
                        1: "linear: cost per token tends to a constant"}.get(degree, "")}
