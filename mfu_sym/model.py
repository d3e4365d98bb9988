"""Composition: an Architecture plus the formula library becomes a Model whose FLOPs and
parameters are exact sympy expressions.

Each formula gives the cost of one token at position t in one layer (or once per model).
A Term multiplies a formula by how many times the model has it (n_layers, the number of
sliding-window layers, 1) and, for costs that depend on position, names the mask that
says how many keys the query at t sees. Then:

  per position    formula with keys -> mask.keys(t)
  per sequence    a * seq_len + b * mask.total, where formula = a + b * keys
  per step        batch * per sequence
  per token       per step / (batch * seq_len)
"""

import functools
import math

import sympy
from sympy.core.mul import _keep_coeff

from .errors import FormulaError, UsageError
from .cost import at_position, position_sum, token_cost
from .compose import Term, compose
from .library import COMPONENTS, load_library
from .spec import Architecture

from .expr import to_sympy

from .conventions import Conventions  # noqa: F401  (re-exported: model.Conventions)
from .exact import exact_positive


SEQ_LEN_ORIGINS = {"given": "given", "model file": "the model file's seq_len",
                   "context": "max_position_embeddings: the model's longest context, not a run's length"}


def _shown(value):
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _count(value, expected):
    """A count is a whole number; an expectation over routing (Term.expected) an exact fraction."""
    return value.is_Integer or (expected and value.is_Rational)


def _check_size(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(None, name, f"{value!r} is not a positive integer")


def _kept(method):
    """A method of one optional component whose expression a Model computes once and
    keeps: a Model is not changed once built (its architecture, conventions and terms are
    frozen), and commands ask for the same expressions many times."""
    name = method.__name__

    @functools.wraps(method)
    def kept(self, component=None):
        key = (name, component)
        try:
            return self._kept[key]
        except KeyError:
            value = self._kept[key] = method(self, component)
            return value
        except TypeError:  # an unhashable component: not one of COMPONENTS, _select says so
            return method(self, component)
    return kept


class Model:
    """Symbolic FLOPs and parameters of one architecture under one set of conventions.
    Immutable by convention: its expressions are computed once and kept (`_kept`)."""

    def __init__(self, arch: Architecture, conventions=None, library=None):
        self._kept, self._costs = {}, {}
        self.arch = arch
        self.library = library or load_library()
        conventions = conventions or Conventions.from_preset("exact", root=self.library.root)
        # the disputed terms this model has, each with the choice in force (describe() lists them)
        self.conventions = conventions.resolved(self.variants_read(arch), tied=arch.tied_embeddings)
        sym = self.library.symbol
        self.seq_len, self.batch, self.t = sym("seq_len"), sym("batch"), sym("t")
        self._keys = sym("keys")
        self.values = {sym(name): sympy.Integer(v) for name, v in arch.values().items()}
        terms = tuple(compose(arch, self.library, self.conventions))
        # MTP modules are always composed (their size is reported), counted only on request
        self.mtp_terms = tuple(t for t in terms if t.kind == "mtp")
        self.terms = terms if self.conventions.mtp else tuple(t for t in terms if t.kind != "mtp")
        self._check_terms()

    @staticmethod
    def variants_read(arch):
        """Names of the convention variants the model's blocks read."""
        return sorted({name for block in arch.blocks()
                       for name in block.variants + (block.variants_for(arch) if block.variants_for else ())})

    def _check_terms(self):
        """Every formula the model uses, at its sizes: parameters a non-negative integer,
        FLOPs finite. A formula (a custom one, say) that breaks this is named."""
        for term in self.mtp_terms + tuple(t for t in self.terms if t.kind != "mtp"):
            formula = term.formula
            for what, expression in (("params", formula.params), ("active_params", formula.active_params)):
                value = (term.count * expression).xreplace(self.values)
                if not (_count(value, term.expected and what == "active_params") and value >= 0):
                    raise FormulaError(formula.source, f"formula {formula.name}.{what}",
                                       f"evaluates to {_shown(value)} at this model's sizes "
                                       "(expected a non-negative integer: a count)")
            for what, expression in [("forward", formula.forward)] + [
                    (f"backward.{k}", v) for k, v in formula.backward.items()]:
                value = (term.count * expression).xreplace(self.values)
                if value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
                    raise FormulaError(formula.source, f"formula {formula.name}.{what}",
                                       "is not finite at this model's sizes (a division by zero?)")

    def _check_run(self, values):
        """Every term's FLOPs for one step of the run: non-negative integers."""
        for term in self.terms:
            for phase in ("forward", "backward"):
                value = (self.batch * self._cost(term, phase)).xreplace(values)
                if not (_count(value, term.expected) and value >= 0):
                    run = f"seq_len {values[self.seq_len]}, batch {values[self.batch]}"
                    raise FormulaError(term.formula.source, f"formula {term.formula.name}.{phase}",
                                       f"gives {_shown(value)} FLOPs for one step ({run}) (expected a "
                                       "non-negative integer: a count)")

    # ---- symbolic building blocks -------------------------------------------------
    @property
    def components(self):
        present = {term.kind for term in self.terms}
        return [c for c in COMPONENTS if c in present]

    def _select(self, component):
        if component is not None and component not in COMPONENTS:
            raise UsageError(None, "component", f"{component!r} (expected one of {', '.join(COMPONENTS)})")
        terms = self.mtp_terms if component == "mtp" else self.terms
        return [term for term in terms if component in (None, term.kind)]

    @_kept
    def params(self, component=None):
        return sympy.Add(*[t.count * t.formula.params for t in self._select(component)])

    @_kept
    def active_params(self, component=None):
        """Parameters one token touches: routed experts count top_k of n_experts."""
        return sympy.Add(*[t.count * t.formula.active_params for t in self._select(component)])

    def _cost(self, term, phase):
        """FLOPs of one term (all its places) for one sequence in a phase, under the
        conventions: the one cost rule, summed over positions 1..seq_len. Kept per term
        (the term itself is kept beside it, so that its id is not reused)."""
        kept = self._costs.get((id(term), phase))
        if kept is not None and kept[0] is term:
            return kept[1]
        cost, per = token_cost(term, phase, self.conventions)
        value = term.count * position_sum(cost, per, term.mask, 0, self.seq_len, self._keys, self.seq_len)
        self._costs[id(term), phase] = (term, value)
        return value

    @_kept
    def forward(self, component=None):
        """Forward FLOPs of one sequence of seq_len tokens."""
        return sympy.Add(*[self._cost(t, "forward") for t in self._select(component)])

    @_kept
    def backward(self, component=None):
        return sympy.Add(*[self._cost(t, "backward") for t in self._select(component)])

    @_kept
    def training(self, component=None):
        """Training FLOPs of a sequence as the convention counts them: forward + backward
        (what MFU counts), plus recomputation only where the convention counts it."""
        total = self.forward(component) + self.backward(component)
        return total + self.recompute(component) if self.conventions.count_recompute else total

    def training_by_formula(self):
        """formula name -> its training FLOPs per sequence (forward + backward, all its
        places), in the order the terms come: the finest split of training()."""
        out = {}
        for term in self.terms:
            cost = self._cost(term, "forward") + self._cost(term, "backward")
            out[term.formula.name] = out.get(term.formula.name, sympy.Integer(0)) + cost
        return out

    @_kept
    def recompute(self, component=None):
        """Extra forward FLOPs that activation recomputation executes (for HFU): none; the
        attention core (selective, Korthikanti et al. 2022 §4); or every layer's forward
        (full: all but the embedding and the LM head)."""
        mode = self.conventions.recompute
        if mode == "none":
            return sympy.Integer(0)
        if mode == "selective":
            if component not in (None, "attention_core"):
                return sympy.Integer(0)
            core = self.forward("attention_core")
            if self.conventions.selective_cost == "training":  # Korthikanti Eq. 8
                core += self.backward("attention_core")
            return core
        if component in ("embedding", "lm_head"):
            return sympy.Integer(0)
        if component is None:
            return self.forward() - self.forward("embedding") - self.forward("lm_head")
        return self.forward(component)

    @_kept
    def hardware_training(self, component=None):
        """Hardware FLOPs: forward, backward and recomputation (what HFU counts)."""
        return self.forward(component) + self.backward(component) + self.recompute(component)

    def forward_at(self, position=None, component=None):
        """Forward FLOPs of the token at `position` (default: the symbol t), under the
        same conventions as `forward()`: summed over t = 1..seq_len it gives forward()
        for position-exact masks."""
        position = self.t if position is None else sympy.Integer(position)
        return sympy.Add(*[term.count * at_position(*token_cost(term, "forward", self.conventions), term.mask,
                                                     position, self._keys, self.t, self.seq_len)
                           for term in self._select(component)])

    def breakdown(self, component=None):
        """Every term: its formula, component, how many the model has (the count, e.g.
        n_layers) and the forward FLOPs and parameters of ONE of them (one layer's
        worth), per sequence. Sum of count x forward = forward()."""
        rows = []
        for term in self._select(component):
            single = Term(term.formula, sympy.Integer(1), term.mask, term.component, term.flops)
            rows.append({"formula": term.formula.name, "component": term.kind, "count": term.count,
                         "forward": self._cost(single, "forward"), "backward": self._cost(single, "backward"),
                         "params": term.formula.params, "mask": term.mask.name if term.mask else None})
        return rows

    def param_counts(self):
        """The contract's parameter figures, symbolic. non_embedding excludes the
        embedding tables and an untied LM head; active is what one token touches."""
        total = self.params()
        embedding, lm_head = self.params("embedding"), self.params("lm_head")
        return {"total": total, "embedding": embedding, "lm_head": lm_head,
                "non_embedding": total - embedding - lm_head, "active": self.active_params()}

    # ---- numbers -------------------------------------------------------------------
    def run_length(self, seq_len=None, context_ok=False):
        """(sequence length, where it came from): the argument; else the model file's
        `seq_len`; else, only where `context_ok`, the longest context the model supports
        (a config.json's max_position_embeddings), which is not a run's length and is
        reported as such. Anything else is an error asking for --seq-len."""
        if seq_len is not None:
            return seq_len, "given"
        if self.arch.seq_len:
            return self.arch.seq_len, "model file"
        if context_ok and self.arch.context_len:
            return self.arch.context_len, "context"
        hint = (f" (the model's longest context is {self.arch.context_len:,}, not a run length)"
                if self.arch.context_len else "")
        raise UsageError(None, "seq_len", "no sequence length: give --seq-len, or seq_len in the model file" + hint)

    def run_values(self, seq_len=None, batch=None, context_ok=False):
        seq_len, _ = self.run_length(seq_len, context_ok)
        batch = batch if batch is not None else self.arch.batch
        for name, value in (("seq_len", seq_len), ("batch", batch)):
            _check_size(value, name)
        return {self.seq_len: sympy.Integer(seq_len), self.batch: sympy.Integer(batch)}

    def evaluate(self, expression, seq_len=None, batch=None):
        """`expression` at this model's sizes (and the run's, where it uses them): an exact
        number. Not finite (a division by zero) is an error."""
        expression = to_sympy(expression)
        run = self.run_values(seq_len, batch) if expression.has(self.seq_len, self.batch) else {}
        value = expression.xreplace({**self.values, **run})
        if value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            raise UsageError(None, "expression", f"{_shown(expression)} is not finite at this model's sizes")
        return value

    def capacity(self, capacity_factor, seq_len=None, batch=None):
        """Expert FLOPs that hardware executes when every expert has a fixed number of
        slots, ceil(C * tokens * top_k / n_experts) per MoE layer and step (GShard,
        Switch): padded slots are computed, overflowing tokens dropped. Exact numbers for
        one step; `capacity_factor` is exact (give a Rational or decimal text)."""
        if not self.arch.n_experts:
            raise UsageError(None, "capacity_factor", "the model has no experts")
        if any(term.expected for term in self.terms):
            raise UsageError(None, "capacity_factor", "the model's routed-expert FLOPs are an expectation over "
                             "routing (zero-computation experts): expert slots under a capacity factor are not modelled")
        factor = exact_positive(capacity_factor, "capacity_factor")
        run = self.run_values(seq_len, batch)
        values = {**self.values, **run}
        tokens = run[self.seq_len] * run[self.batch]
        n_experts, top_k = self.arch.n_experts, self.arch.top_k
        slots = sympy.ceiling(factor * tokens * top_k / n_experts)
        routed = [t for t in self.terms if t.formula.component == "experts"]
        per_slot = sum((t.count * t.formula.forward / self.library.symbol("top_k") for t in routed), sympy.Integer(0))
        per_slot = per_slot.xreplace(values)  # forward FLOPs of one token in one expert, all MoE layers
        executed = n_experts * slots * per_slot
        model = tokens * top_k * per_slot
        return {
            "capacity_factor": factor, "tokens": tokens, "slots_per_expert": slots,
            "dropped_assignments": max(tokens * top_k - n_experts * slots, sympy.Integer(0)),
            "padded_slots": max(n_experts * slots - tokens * top_k, sympy.Integer(0)),
            "experts_forward_model": model, "experts_forward_executed": executed,
            "experts_training_executed": 3 * executed,
        }

    def compile(self, expression, *names):
        """`expression` as a fast, exact numpy function of the named symbols (the other
        symbols take this model's values): `f = m.compile(m.training(), "seq_len");
        f(np.arange(1, 10**6))`. Integers stay exact (int64, or Python ints on overflow)."""
        from .compiled import Compiled
        symbols = [self.library.symbol(name) for name in names]
        fixed = {k: v for k, v in self.values.items() if k not in symbols}
        return Compiled(to_sympy(expression).xreplace(fixed), symbols)

    def packing(self, documents, seq_len):
        """The Documents of `documents` (a spec: see documents.parse), checked against the
        model and the pack length: None when no documents are given."""
        if documents is None:
            return None
        from . import documents as docs, stack
        packed = docs.parse(documents)
        if stack.count_of(self.arch.layers, "mixer", "chunked_attention"):
            raise UsageError(None, "documents", "the model has chunked-attention layers, whose chunks start at "
                                                "fixed positions of the pack, not at each document: a document's "
                                                "cost depends on where it sits (not modelled)")
        packed.check(int(seq_len))
        return packed

    def per_step(self, expression, values, documents=None):
        """A per-sequence count times the batch at the run's values; with documents, each
        sequence is a pack of them: the count summed over its documents."""
        expression = to_sympy(expression)
        if documents is None:
            return (self.batch * expression).xreplace(values)
        per_sequence = expression.xreplace({k: v for k, v in values.items() if k != self.seq_len})
        return values[self.batch] * documents.per_pack(per_sequence, self.seq_len, values[self.seq_len])

    def report(self, seq_len=None, batch=None, capacity_factor=None, context_ok=False, documents=None):
        """Everything `mfu-sym derive --format json` prints, as exact sympy numbers.
        Without `seq_len` (and without one in the model file) it is an error, unless
        `context_ok`: then the run is the model's longest context, and `run.seq_len_from`
        and the notes say so. `documents` packs each sequence with documents (see
        documents.parse): counts are summed per document, tokens are the real ones."""
        run = self.run_values(seq_len, batch, context_ok)
        origin = self.run_length(seq_len, context_ok)[1]
        values = {**self.values, **run}
        packed = self.packing(documents, run[self.seq_len])
        if packed is not None and capacity_factor is not None:
            raise UsageError(None, "capacity_factor", "expert capacity is not modelled for packed documents")
        tokens = run[self.batch] * (packed.tokens(run[self.seq_len]) if packed else run[self.seq_len])

        def at(expression):
            return to_sympy(expression).xreplace(values)

        def step(expression):
            return self.per_step(expression, values, packed)

        self._check_run(values)
        components = {}
        for name in self.components:
            components[name] = {
                "forward": step(self.forward(name)),
                "backward": step(self.backward(name)),
                "params": at(self.params(name)),
            }
        forward = sum((c["forward"] for c in components.values()), sympy.Integer(0))
        backward = sum((c["backward"] for c in components.values()), sympy.Integer(0))
        report = {
            "model": self.arch.name,
            "run": {"seq_len": run[self.seq_len], "batch": run[self.batch], "tokens": tokens,
                    "seq_len_from": SEQ_LEN_ORIGINS[origin]},
            "notes": list(self.notes(origin)),
            "params": {k: at(v) for k, v in self.param_counts().items()},
            "flops": {
                "forward": forward, "backward": backward, "training": forward + backward,
                "per_token": {"forward": forward / tokens, "training": (forward + backward) / tokens},
                "per_sequence": {"forward": forward / run[self.batch],
                                 "training": (forward + backward) / run[self.batch]},
                "components": components,
            },
            "formulas": {name: self.formula(name) for name in self.components},
            "conventions": self.conventions.describe(),
        }
        flops_block = report["flops"]
        flops_block["recompute"] = step(self.recompute())
        flops_block["hardware_training"] = step(self.hardware_training())
        if self.conventions.count_recompute:
            flops_block["training"] = forward + backward + flops_block["recompute"]
            flops_block["per_token"]["training"] = flops_block["training"] / tokens
            flops_block["per_sequence"]["training"] = flops_block["training"] / run[self.batch]
        if self.mtp_terms:
            report["mtp"] = {
                "counted": self.conventions.mtp,
                "params": at(self.params("mtp")),
                "forward": step(self.forward("mtp")),
                "training": step(self.training("mtp")),
            }
        if packed is not None:
            length = run[self.seq_len]
            summary = packed.summary(length)
            padding = {phase: run[self.batch] * packed.padding_cost(
                (getattr(self, phase)()).xreplace(self.values), self.seq_len, length)
                for phase in ("forward", "backward")}
            report["documents"] = {**summary, "padding_flops": {**padding, "training": sum(padding.values())},
                                   "description": packed.describe()}
            forms = {name: packed.closed_form(self.forward(name).xreplace(self.values), self.seq_len)
                     for name in ("attention_core", None) if name is None or name in self.components}
            if all(form is not None for form in forms.values()):
                report["documents"]["per_token_forward"] = {name or "total": form for name, form in forms.items()}
            report["notes"].append(self.documents_note(packed))
        if capacity_factor is not None:
            cap = self.capacity(capacity_factor, seq_len, batch)
            hardware = forward + backward + cap["experts_training_executed"] - 3 * cap["experts_forward_model"]
            report["capacity"] = {**cap, "training_hardware": hardware}
        return report

    @staticmethod
    def documents_note(packed):
        """How packed documents are counted."""
        note = ("documents: each sequence is a pack of documents under a document mask; every count is summed "
                "per document (attention within each document, linear terms on the real tokens); per-token "
                "figures are per real token")
        if packed.kind == "pack":
            note += "; padding is not model work and is reported apart (as one more document)"
        else:
            note += "; the figures are expectations over the document lengths (the pack filled by documents)"
        return note

    def notes(self, origin="given"):
        """What the reader should know about these numbers beyond the conventions."""
        notes = list(self.arch.notes)
        if origin == "context":
            notes.insert(0, f"seq_len {self.arch.context_len:,} is the model's longest context "
                            "(max_position_embeddings), not the length of a training run: give --seq-len")
        return notes

    @_kept
    def formula(self, component=None):
        """Per-sequence forward FLOPs, collected in seq_len: the form the CLI prints."""
        return collect_in(self.forward(component), self.seq_len)

    def _repr_latex_(self):
        names = self.library.latex_names()
        rows = [r"\mathrm{%s} &= %s" % (c.replace("_", r"\_"), sympy.latex(self.formula(c), symbol_names=names))
                for c in self.components if self.forward(c) != 0]
        return r"$\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}$"


def collect_in(expression, symbol):
    """A canonical, readable form: expanded, collected in powers of `symbol`, each
    coefficient with its common factor taken out (`readable`); applied piece by piece to
    a Piecewise."""
    expression = sympy.piecewise_fold(to_sympy(expression))
    if isinstance(expression, sympy.Piecewise):
        return sympy.Piecewise(*[(_collected(e, symbol), c) for e, c in expression.args])
    return _collected(expression, symbol)


def _collected(expression, symbol):
    # evaluate=False: collect's own rebuild would apply func to every factor of every term
    collected = sympy.collect(sympy.expand(expression), symbol, evaluate=False)
    return sympy.Add(*[power * readable(coefficient) for power, coefficient in collected.items()])


def readable(coefficient):
    """`coefficient` with its common factor taken out, as sympy.factor writes it but without
    factoring the polynomial that remains (which costs 10-100x more and changes no formula of
    the library): the numbers' gcd (over the denominators' lcm), each base to its least power
    over the terms (a base missing from a term counts as power 0, so that a/h + b is written
    (a + b*h)/h), and the sign that makes the rest's leading coefficient positive
    (-2*w*(w - 1), not 2*w*(1 - w)). A term that is not a product of powers (a sum inside a
    power, a fractional power) leaves the coefficient to sympy.factor."""
    terms = sympy.Add.make_args(coefficient)
    if len(terms) == 1:
        return coefficient
    parts = [_monomial(term) for term in terms]
    if any(part is None for part in parts):
        return sympy.factor(coefficient)
    numbers = [number for number, _ in parts]
    content = sympy.Rational(functools.reduce(math.gcd, (n.p for n in numbers)),
                             functools.reduce(math.lcm, (n.q for n in numbers)))
    bases = {base: None for _, powers in parts for base in powers}  # in order of appearance
    least = {base: min(powers.get(base, 0) for _, powers in parts) for base in bases}
    common = sympy.Mul(*[base**power for base, power in least.items() if power != 0])
    rest = sympy.Add(*[sympy.Mul(number / content, *[base**(powers.get(base, 0) - least[base]) for base in bases])
                       for number, powers in parts])
    if _may_factor(rest):
        number, rest = sympy.factor(rest).as_coeff_Mul()
        content *= number
    elif any(number < 0 for number in numbers) and _leading_negative(rest):
        content, rest = -content, -rest
    return _keep_coeff(content, common * rest)


FACTOR_TERMS = 16  # a longer sum is left unfactored: factoring it costs up to seconds


def _may_factor(polynomial):
    """Whether sympy.factor could split `polynomial` (a sum with no common factor), cheaply
    decided: not a sum of more than FACTOR_TERMS terms. A multilinear one (every base to
    power 1) splits only into sums of disjoint bases, L*Q with |L|*|Q| terms, each base
    in a multiple of |L| or of |Q| of them: otherwise it cannot split (n_heads*n_layers -
    n_heads*n_swa + n_kv_heads*n_layers - n_kv_heads*n_swa does, as (n_heads +
    n_kv_heads)*(n_layers - n_swa); a sum with a base in one term does not)."""
    terms = sympy.Add.make_args(polynomial)
    if not 4 <= len(terms) <= FACTOR_TERMS:
        return len(terms) in (2, 3) and not _multilinear(terms)
    if not _multilinear(terms):
        return True
    counts = {}
    for term in terms:
        for base in term.as_powers_dict():
            if not base.is_Number:
                counts[base] = counts.get(base, 0) + 1
    n = len(terms)
    return any(all(c % a == 0 or c % (n // a) == 0 for c in counts.values())
               for a in range(2, n) if n % a == 0)


def _multilinear(terms):
    return all(power == 1 or base.is_Number for term in terms for base, power in term.as_powers_dict().items())


def _monomial(term):
    """(number, {base: integer power}) of a product of powers, or None."""
    number, factors = term.as_coeff_mul()
    if not number.is_Rational:
        return None
    powers = {}
    for factor in factors:
        base, power = factor.as_base_exp()
        if not power.is_Integer or base.is_Number or base.has(sympy.Add):
            return None
        powers[base] = powers.get(base, 0) + power
    return number, powers


def _leading_negative(polynomial):
    """Whether the leading coefficient of `polynomial` (lexicographic, in sympy's order of
    its generators, as sympy.factor reads it) is negative."""
    try:
        return sympy.Poly(polynomial).LC() < 0
    except sympy.PolynomialError:
        return False
