"""Compute planning: what a token or FLOP budget costs, and how to split a FLOP budget
between parameters and tokens.

- `plan(...)`: training FLOPs for a token budget (exact: tokens x the model's training
  FLOPs per token), or the whole steps a FLOP budget buys (ceil(target / FLOPs per step));
  with a device, a count and an assumed MFU, the time and device-hours.
- `derive_allocation()`: Chinchilla's compute-optimal N and D, derived by sympy at run
  time from L(N, D) = E + A/N^alpha + B/D^beta under C = 6ND (Hoffmann et al. 2022,
  arXiv:2203.15556, §3.3), with the second-order condition checked; `allocate(C, fit)`
  evaluates it with a published fit from `formulas/scaling_laws.yaml`.

Counts stay exact: a budget typed as `15.6e12` is read as the integer 15,600,000,000,000
(through Decimal, never a binary float). The fitted constants of a scaling law are floats
(they are estimates, not counts), so the allocation is a float.
"""

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache

import sympy

from .cost import TRAINING_FLOPS_PER_PARAM
from .errors import FormulaError, UsageError
from .expr import to_sympy

SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 86400
# No budget comes near 1e100; a larger decimal exponent would only build a huge integer.
MAX_EXPONENT = 100


# ------------------------------------------------------------------ exact inputs

def exact_number(value, name):
    """A positive exact sympy Rational from "15.6e12", "3.8E25", 123, Fraction or Decimal.
    A Python float is read as the decimal it prints as (1e30 -> 10**30), not its binary
    value, because that is what the person typing it meant."""
    if isinstance(value, bool):
        raise UsageError(None, name, f"{value!r} is not a positive number")
    if getattr(value, "is_Rational", False) is True:
        number = Fraction(int(value.p), int(value.q))
    elif isinstance(value, (int, Fraction)):
        number = Fraction(value)
    else:
        text = repr(value) if isinstance(value, float) else str(value).strip().replace("_", "")
        try:
            decimal = Decimal(text)
        except (InvalidOperation, ValueError):
            raise UsageError(None, name, f"{value!r} is not a number (expected e.g. 15.6e12)") from None
        if not decimal.is_finite():
            raise UsageError(None, name, f"{value!r} is not a finite number")
        if decimal and abs(decimal.adjusted()) > MAX_EXPONENT:
            raise UsageError(None, name, f"{value!r} is out of range (expected 1e-{MAX_EXPONENT} to 1e{MAX_EXPONENT})")
        number = Fraction(decimal)
    if number <= 0:
        raise UsageError(None, name, f"{value!r} is not positive")
    return sympy.Rational(number.numerator, number.denominator)


def ceil_div(numerator, denominator):
    """ceil(numerator / denominator) of two exact positive numbers, as a sympy Integer (an
    irrational one, an expectation over document lengths, is decided by sympy's evalf)."""
    return sympy.ceiling(sympy.sympify(numerator) / sympy.sympify(denominator))


def training_seconds(flops, devices, peak_flops, mfu):
    """Wall time of `flops` on `devices` each of `peak_flops` at utilization `mfu`:
    FLOPs / (devices x peak x MFU), as a float (an assumed MFU is not exact)."""
    from .exact import fraction
    flops = fraction(flops) if getattr(flops, "is_number", False) else exact_number(flops, "flops")
    if isinstance(devices, bool) or not isinstance(devices, int) or devices <= 0:
        raise UsageError(None, "gpus", f"{devices!r} is not a positive integer")
    if isinstance(peak_flops, bool) or not isinstance(peak_flops, (int, float)) or not 0 < peak_flops < math.inf:
        raise UsageError(None, "peak_flops", f"{peak_flops!r} is not a positive finite number")
    rate = Fraction(devices) * Fraction(peak_flops) * Fraction(_check_fraction(mfu, "mfu"))
    return float(Fraction(flops) / rate)


def _check_fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise UsageError(None, name, f"{value!r} (expected a fraction in (0, 1], e.g. 0.4 for 40%)")
    return float(value)


# ------------------------------------------------------------------ budgets

@dataclass(frozen=True)
class Plan:
    """A training budget under one model and its counting conventions. Counts are exact
    sympy numbers; times are floats (they divide by an assumed MFU)."""

    model_name: str
    seq_len: int
    batch: int | None
    flops_per_token: object        # exact
    conventions: dict
    params_total: object           # exact: N of the 6ND cross-check
    tokens: object                 # exact: the budget's tokens (whole steps when steps is set)
    flops: object                  # exact: training FLOPs of those tokens
    target_flops: object = None    # exact: --flops, when the budget is in FLOPs
    steps: object = None           # exact Integer when a batch is known
    flops_per_step: object = None  # exact
    peak: object = None            # mfu.PeakChoice
    devices: int | None = None
    mfu: float | None = None
    documents: dict | None = None  # packed documents (documents.documents_run)
    applies: frozenset = frozenset(("mla", "mtp"))  # structural switches that apply (conventions.applicable_switches)

    @property
    def six_nd(self):
        """6 x N x D with N the total parameters: the approximation behind published budgets
        (Kaplan 2020, Chinchilla, Llama 3's 3.8e25). Exact."""
        return TRAINING_FLOPS_PER_PARAM * self.params_total * self.tokens

    @property
    def seconds(self):
        if self.peak is None:
            return None
        return training_seconds(self.flops, self.devices, self.peak.flops, self.mfu)

    @property
    def device_hours(self):
        seconds = self.seconds
        return None if seconds is None else seconds * self.devices / SECONDS_PER_HOUR

    def to_dict(self):
        from .render.units import exact
        out = {
            "model": self.model_name,
            "run": {"seq_len": self.seq_len, "batch": self.batch,
                    **({"documents": self.documents} if self.documents else {})},
            "flops_per_token": exact(self.flops_per_token),
            "tokens": exact(self.tokens),
            "training_flops": exact(self.flops),
            "training_flops_float": float(self.flops),
            "target_flops": exact(self.target_flops) if self.target_flops is not None else None,
            "steps": exact(self.steps) if self.steps is not None else None,
            "flops_per_step": exact(self.flops_per_step) if self.flops_per_step is not None else None,
            "six_nd": {"params_total": exact(self.params_total), "flops": exact(self.six_nd),
                       "flops_float": float(self.six_nd),
                       "detailed_over_six_nd": float(sympy.sympify(self.flops) / self.six_nd)},
            "conventions": self.conventions,
            "time": None,
        }
        if self.peak is not None:
            out["time"] = {"hardware": self.peak.to_dict(), "devices": self.devices, "mfu": self.mfu,
                           "seconds": self.seconds, "days": self.seconds / SECONDS_PER_DAY,
                           "device_hours": self.device_hours}
        return out


def plan(model, *, tokens=None, flops=None, seq_len=None, batch=None, peak=None, devices=None, mfu=None,
         documents=None):
    """The cost of training `model` on `tokens` (exact), or the whole steps of `batch`
    sequences that fit a FLOP budget `flops` (ceil(target / FLOPs per step); needs `batch`).
    With `peak` (a mfu.PeakChoice), `devices` and an assumed `mfu`, also the wall time and
    device-hours: FLOPs / (devices x peak x MFU). With packed `documents`, tokens are the
    documents' (real) tokens and a step holds batch x the real tokens of a pack."""
    if (tokens is None) == (flops is None):
        raise UsageError(None, "budget", "give exactly one of tokens and flops")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch <= 0):
        raise UsageError(None, "batch", f"{batch!r} is not a positive integer")
    timed = [x is not None for x in (peak, devices, mfu)]
    if any(timed) and not all(timed):
        raise UsageError(None, "time", "a time estimate needs the hardware, the device count and an MFU")
    if devices is not None and (isinstance(devices, bool) or not isinstance(devices, int) or devices <= 0):
        raise UsageError(None, "gpus", f"{devices!r} is not a positive integer")
    if mfu is not None:
        mfu = _check_fraction(mfu, "mfu")
    from .documents import documents_run, tokens_per_pack
    report = model.report(seq_len=seq_len, batch=batch or 1, documents=documents)
    length = tokens_per_pack(report)  # real tokens of one sequence
    per_token = report["flops"]["per_token"]["training"]
    per_step = per_token * batch * length if batch is not None else None
    steps = target = None
    if tokens is not None:
        tokens = exact_number(tokens, "tokens")
        if batch is not None:
            steps = ceil_div(tokens, batch * length)
    else:
        target = exact_number(flops, "flops")
        if batch is None:
            raise UsageError(None, "batch", "a FLOP budget is spent in whole steps: give the global batch "
                                            "(sequences per step)")
        steps = ceil_div(target, per_step)
        tokens = steps * batch * length
    from .conventions import applicable_switches
    return Plan(report["model"], int(report["run"]["seq_len"]), batch, per_token, report["conventions"],
                report["params"]["total"],
                tokens, tokens * per_token, target, steps, per_step, peak, devices, mfu, documents_run(report),
                applicable_switches(model))


# ------------------------------------------------------------------ Chinchilla

# The symbols of the parametric loss, named so they cannot collide with sympy's own
# (E, N, S and beta mean something to sympify); DISPLAY prints them as the paper does.
N_PARAMS, N_TOKENS, COMPUTE = sympy.symbols("n_params n_tokens compute", positive=True)
LOSS_FLOOR, COEF_N, COEF_D = sympy.symbols("loss_floor coef_n coef_d", positive=True)
ALPHA, BETA = sympy.symbols("alpha_n beta_d", positive=True)
_PAPER = {N_PARAMS: "N", N_TOKENS: "D", COMPUTE: "C", LOSS_FLOOR: "E", COEF_N: "A", COEF_D: "B",
          ALPHA: "alpha", BETA: "beta"}
DISPLAY = {s: sympy.Symbol(name) for s, name in _PAPER.items()}        # print-only symbols
LATEX = {N_PARAMS: "N", N_TOKENS: "D", COMPUTE: "C", LOSS_FLOOR: "E", COEF_N: "A", COEF_D: "B",
         ALPHA: r"\alpha", BETA: r"\beta"}
FIT_FIELDS = {"E": LOSS_FLOOR, "A": COEF_N, "B": COEF_D, "alpha": ALPHA, "beta": BETA}
FLOPS_PER_PARAM_TOKEN = TRAINING_FLOPS_PER_PARAM  # C = 6ND (cost.py: Kaplan 2020 §2.1)


def display(expression):
    """An expression in the paper's letters (text only; never parsed back)."""
    return str(to_sympy(expression).xreplace(DISPLAY))


def latex(expression):
    return sympy.latex(expression, symbol_names=LATEX)


_ALLOCATION_FIELDS = ("loss", "constraint", "stationarity", "n_opt", "d_opt", "g", "a", "b", "curvature")


@dataclass(frozen=True)
class Allocation:
    """The compute-optimal frontier, every entry a sympy expression in the symbols above."""

    loss: object          # L(N, D)
    constraint: object    # C = 6ND, as an Eq
    stationarity: object  # the first-order condition, as an Eq
    n_opt: object         # N_opt(C), as sympy solved it
    d_opt: object         # D_opt(C) = C / (6 N_opt)
    g: object             # Hoffmann's G
    a: object             # exponent of C in N_opt
    b: object             # exponent of C in D_opt
    curvature: object     # d2L/dN2 along the constraint, at N_opt (positive: a minimum)

    def n_opt_form(self):
        """N_opt in Hoffmann et al.'s Eq. (4) form: G (C/6)^a (checked equal to n_opt)."""
        return self.g * (COMPUTE / FLOPS_PER_PARAM_TOKEN) ** self.a

    def d_opt_form(self):
        return (COMPUTE / FLOPS_PER_PARAM_TOKEN) ** self.b / self.g


@lru_cache(maxsize=1)
def derive_allocation():
    """The derivation below, done once per installation: its result is kept in the
    start-up cache (cache.py, keyed by this module's source and sympy's version, so a
    change to either derives it again) and read back as plain data afterwards."""
    from . import cache
    key = cache.digest(cache.versions() + [f"sympy {sympy.__version__}"] + cache.sources("planning"))
    payload = cache.load("chinchilla", key)
    if isinstance(payload, dict):
        try:
            nodes = cache.decode(payload.get("nodes"))
            indices = payload.get("fields")
            if type(indices) is list and len(indices) == len(_ALLOCATION_FIELDS) and \
                    all(type(i) is int and 0 <= i < len(nodes) for i in indices):
                return Allocation(*(nodes[i] for i in indices))
        except cache.Unusable:
            pass
    allocation = _derive_allocation()
    encode = cache.Encoder()
    try:
        indices = [encode(getattr(allocation, name)) for name in _ALLOCATION_FIELDS]
    except cache.Unusable:
        return allocation
    cache.store("chinchilla", key, {"nodes": encode.nodes, "fields": indices})
    return allocation


def _derive_allocation():
    """Minimize L(N, D) = E + A/N^alpha + B/D^beta subject to 6ND = C, with sympy.

    Substituting D = C/(6N) leaves one variable; sympy solves N dL/dN = 0 for N. The
    solution is then checked against Hoffmann et al.'s closed form (Eq. 4, G (C/6)^a with
    G = (alpha A / (beta B))^(1/(alpha+beta)), a = beta/(alpha+beta)), and the second
    derivative at it is shown positive, so it is the minimum. Takes about a second; cached.
    """
    loss = LOSS_FLOOR + COEF_N / N_PARAMS ** ALPHA + COEF_D / N_TOKENS ** BETA
    on_budget = loss.subs(N_TOKENS, COMPUTE / (FLOPS_PER_PARAM_TOKEN * N_PARAMS))
    # N dL/dN, with (C/(6N))^beta split into powers so the equation is a sum of monomials in N
    first = sympy.expand(sympy.expand_power_base(N_PARAMS * sympy.diff(on_budget, N_PARAMS)))
    solutions = sympy.solve(first, N_PARAMS)
    if len(solutions) != 1:
        raise FormulaError(None, "chinchilla", f"expected one stationary point, sympy found {solutions}")
    n_opt = solutions[0]
    d_opt = COMPUTE / (FLOPS_PER_PARAM_TOKEN * n_opt)

    a = sympy.simplify(BETA / (ALPHA + BETA))
    b = sympy.simplify(ALPHA / (ALPHA + BETA))
    g = (ALPHA * COEF_N / (BETA * COEF_D)) ** (1 / (ALPHA + BETA))
    _check_equal(n_opt, g * (COMPUTE / FLOPS_PER_PARAM_TOKEN) ** a, "N_opt")
    _check_equal(d_opt, (COMPUTE / FLOPS_PER_PARAM_TOKEN) ** b / g, "D_opt")

    # Second order: N^2 L'' = (beta - 1) N L' + alpha (alpha + beta) A N^-alpha identically,
    # so at N L' = 0 the curvature is alpha (alpha + beta) A N^(-alpha-2) > 0.
    second = sympy.diff(on_budget, N_PARAMS, 2)
    identity = N_PARAMS ** 2 * second - (BETA - 1) * N_PARAMS * sympy.diff(on_budget, N_PARAMS) \
        - ALPHA * (ALPHA + BETA) * COEF_N * N_PARAMS ** -ALPHA
    if sympy.simplify(sympy.expand(sympy.expand_power_base(identity))) != 0:
        raise FormulaError(None, "chinchilla", "second-order identity failed")
    curvature = (ALPHA * (ALPHA + BETA) * COEF_N * N_PARAMS ** (-ALPHA - 2)).subs(N_PARAMS, n_opt)
    if curvature.is_positive is not True:
        raise FormulaError(None, "chinchilla", "the stationary point is not shown to be a minimum")

    stationarity = sympy.Eq(ALPHA * COEF_N / N_PARAMS ** ALPHA, BETA * COEF_D / N_TOKENS ** BETA)
    constraint = sympy.Eq(COMPUTE, FLOPS_PER_PARAM_TOKEN * N_PARAMS * N_TOKENS)
    return Allocation(loss, constraint, stationarity, n_opt, d_opt, g, a, b, curvature)


def _check_equal(derived, closed_form, what):
    """log(derived) - log(closed form) expands to 0 for positive symbols."""
    difference = sympy.expand_log(sympy.log(derived) - sympy.log(closed_form), force=True)
    if sympy.simplify(difference) != 0:
        raise FormulaError(None, "chinchilla", f"{what} from sympy does not match Hoffmann's Eq. 4: {difference}")


# ------------------------------------------------------------------ published fits

@dataclass(frozen=True)
class Fit:
    """One published fit of L(N, D) = E + A/N^alpha + B/D^beta."""

    key: str
    name: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: dict            # authors, title, year, arxiv, where
    standard_errors: dict
    notes: tuple

    @property
    def values(self):
        return {FIT_FIELDS[k]: sympy.Float(getattr(self, k), 30) for k in FIT_FIELDS}

    def cite(self):
        s = self.source
        return f"{s['authors']} ({s['year']}), \"{s['title']}\", arXiv:{s['arxiv']}, {s['where']}"

    def to_dict(self):
        return {"key": self.key, "name": self.name, **{k: getattr(self, k) for k in FIT_FIELDS},
                "standard_errors": self.standard_errors, "source": self.source, "notes": list(self.notes)}


def load_fits(root=None):
    """The published fits of the data root's scaling_laws section (formulas/
    scaling_laws.yaml), by key, each validated: positive finite constants, exponents below
    1, a reference in the bibliography."""
    from . import data as data_root
    from .definitions import section_entries
    from .bibliography import references as bibliography
    root = root or data_root.root()
    path, entries = root.section("scaling_laws")
    references = bibliography(root)
    fits = {}
    for entry in section_entries(path, "scaling_laws", entries):
        fit = _fit(entry, references)
        if fit.key in fits:
            entry.fail("key", f"duplicate fit {fit.key!r}")
        fits[fit.key] = fit
    if not fits:
        raise FormulaError(path, "scaling_laws", "expected a non-empty list of fits")
    return fits


_FIT_KEY = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _fit(entry, references):
    key = entry.text("key")
    if not _FIT_KEY.match(key):
        entry.fail("key", f"{key!r} (expected lowercase letters, digits and '-')")
    name = entry.text("name").strip()
    constants = {field: entry.number(field, minimum=0, open_minimum=True) for field in FIT_FIELDS}
    for field in ("alpha", "beta"):
        if constants[field] >= 1:
            entry.fail(field, f"{constants[field]} (expected an exponent in (0, 1))")
    errors = {}
    if entry.has("standard_errors"):
        table = entry.entry("standard_errors")
        errors = {field: table.number(field, minimum=0, open_minimum=True) for field in FIT_FIELDS
                  if table.has(field)}
        table.done()
    citation = entry.citation("reference", references)
    ref = references[citation.cite]
    source = {"authors": ref.authors, "title": ref.title, "year": str(ref.year), "arxiv": ref.arxiv,
              "where": citation.where}
    fit = Fit(key, name, **constants, source=source, standard_errors=errors, notes=entry.texts("notes"))
    entry.done()
    return fit


def allocate(compute, fit):
    """The compute-optimal N and D for `compute` FLOPs under `fit`: floats, with the
    predicted loss and tokens per parameter."""
    compute = exact_number(compute, "compute")
    frontier = derive_allocation()
    values = {**fit.values, COMPUTE: compute}
    n = sympy.N(frontier.n_opt.xreplace(values), 30)
    d = sympy.N(frontier.d_opt.xreplace(values), 30)
    loss = sympy.N(frontier.loss.xreplace({**values, N_PARAMS: n, N_TOKENS: d}), 30)
    return {"compute": compute, "n_opt": float(n), "d_opt": float(d), "tokens_per_param": float(d / n),
            "loss": float(loss), "a": float(frontier.a.xreplace(values)), "b": float(frontier.b.xreplace(values)),
            "g": float(sympy.N(frontier.g.xreplace(values), 30))}
