"""Packed documents: the cost of a sequence that holds several documents under a
document mask (each document attends only to itself; varlen kernels run each one as its
own sequence, `cu_seqlens`).

Every count the engine makes for one sequence of `seq_len` tokens is a function C(s) of
its length. A pack of documents L_1 .. L_m (Σ L_i <= S, the rest padding) costs Σ C(L_i):
the linear terms bill the real tokens Σ L_i, attention the per-document sums (Σ L_i(L_i+1)/2
for a causal mask, a window inside each document), a chunked scan restarts in each
document. Three ways to say what a pack holds (`parse`):

  pack          the documents of every pack, in the order given: `1024,3072,4096`,
                `512x16` (16 documents of 512); what is left of S is padding, reported
                apart (it runs as one more document when the kernel is given padded
                `cu_seqlens`; it is not model work)
  lengths file  a sample of the corpus' document lengths (one integer per line, a JSON
                list, `length,count` rows or a JSON object {length: count}): documents
                drawn from it fill each pack; a document longer than S is cut into
                floor(L/S) pieces of S and the remainder, as a packer does. The cost per
                pack is the renewal expectation S · Σ n C(L) / Σ n L, an exact fraction
  distribution  `exponential:mean=1024`, `uniform:min=128,max=8192`,
                `lognormal:mu=6.5,sigma=1.1` (of ln L): continuous document lengths,
                conditioned on L <= S (the mass above S is reported), filling each pack:
                S · E[C(L) | L <= S] / E[L | L <= S], in closed form from the
                distribution's partial moments (exact sympy: exp, erf)

The token-weighted mean length E[L²]/E[L] (Megatron's Σs²/Σs) is reported beside: for a
causal mask attention per token is 2·h·d·(E[L²]/E[L] + 1) per layer.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

import sympy

from .errors import ConfigError, UsageError

MAX_DOCUMENTS = 10**7          # documents in a pack or rows in a lengths file
MAX_LENGTH = 10**12            # tokens in one document
DISTRIBUTIONS = {"exponential": ("mean",), "uniform": ("min", "max"), "lognormal": ("mu", "sigma")}
# the parameters as symbols, for the closed forms (names that say what they are)
PARAMETER_SYMBOLS = {"mean": sympy.Symbol("mean_length", positive=True),
                     "min": sympy.Symbol("min_length", nonnegative=True),
                     "max": sympy.Symbol("max_length", positive=True),
                     "mu": sympy.Symbol("log_mu", real=True), "sigma": sympy.Symbol("log_sigma", positive=True)}
_PACK = re.compile(r"^\s*\d[\d_]*\s*(x\s*\d[\d_]*\s*)?(,\s*\d[\d_]*\s*(x\s*\d[\d_]*\s*)?)*$", re.ASCII)
_NUMBERS = re.compile(r"^[\d\s,x+\-._eE]+$", re.ASCII)  # meant as lengths, though not well formed


@dataclass(frozen=True)
class Documents:
    """What each pack of S tokens holds. `lengths` is ((length, count), ...) for a pack or a
    lengths file; `distribution` (name, {parameter: exact number}) for a distribution."""

    kind: str                   # "pack", "sample" (a lengths file) or "distribution"
    spec: str
    lengths: tuple = ()
    distribution: tuple = ()

    # ---- the pack ---------------------------------------------------------------------
    def check(self, pack_len):
        """A pack's documents must fit in it."""
        if self.kind == "pack" and self.tokens(pack_len) > pack_len:
            raise UsageError(None, "documents", f"the documents hold {self.tokens(pack_len):,} tokens, more than "
                                                f"the sequence length {pack_len:,} they are packed into")

    def pieces(self, pack_len):
        """((length, count), ...) of the documents as they sit in packs: a lengths file's
        documents longer than the pack cut into pieces of the pack length."""
        if self.kind != "sample":
            return self.lengths
        out = {}
        for length, count in self.lengths:
            whole, rest = divmod(length, pack_len)
            if whole:
                out[pack_len] = out.get(pack_len, 0) + whole * count
            if rest:
                out[rest] = out.get(rest, 0) + count
        return tuple(sorted(out.items()))

    def tokens(self, pack_len):
        """Real (document) tokens per pack: a lengths file or a distribution fills it."""
        if self.kind == "pack":
            return sum(length * count for length, count in self.lengths)
        return pack_len

    def padding(self, pack_len):
        return pack_len - self.tokens(pack_len)

    def per_pack(self, cost, seq_len, pack_len):
        """The cost of one pack: `cost`, a count for one sequence as an expression in the
        symbol `seq_len` alone, summed over the documents (an expectation for a lengths
        file or a distribution)."""
        pack_len = int(pack_len)
        if self.kind == "distribution":
            return _expected(cost, seq_len, pack_len, *self.distribution)
        pieces = self.pieces(pack_len)
        total = sum((count * _at(cost, seq_len, length) for length, count in pieces), sympy.Integer(0))
        if self.kind == "pack":
            return total
        return pack_len * total / sum(length * count for length, count in pieces)

    def closed_form(self, cost, seq_len):
        """The expected cost per token of a pack, as an expression in `seq_len` (the pack
        length S) and the distribution's parameters as symbols (PARAMETER_SYMBOLS): a
        sympy expression like every other count. None unless this is a distribution and
        the per-document cost is one polynomial in the length (no window, no chunked scan).
        A uniform distribution's form assumes its support lies within the pack (max <= S)."""
        if self.kind != "distribution":
            return None
        length = sympy.Symbol("L", positive=True)
        polynomial = cost.xreplace({seq_len: length})
        if not polynomial.is_polynomial(length) or polynomial.free_symbols - {length}:
            return None
        name = self.distribution[0]
        params = {key: PARAMETER_SYMBOLS[key] for key in DISTRIBUTIONS[name]}
        moment = _moments(name, params, symbolic=True)
        pack = sympy.Symbol(seq_len.name, positive=True)
        terms = sympy.Poly(sympy.expand(polynomial), length).terms()
        total = sum((coefficient * moment(k, pack) for (k,), coefficient in terms), sympy.Integer(0))
        return sympy.cancel(sympy.powsimp(total / moment(1, pack))).xreplace({pack: seq_len})

    def padding_cost(self, cost, seq_len, pack_len):
        """What the padding costs when it runs as one more document (0 without padding)."""
        padding = self.padding(int(pack_len))
        return _at(cost, seq_len, padding) if padding else sympy.Integer(0)

    def summary(self, pack_len):
        """Facts about the documents of a pack: how many, real tokens, padding, mean and
        token-weighted mean length (E[L²]/E[L]); for a distribution, the mass above S."""
        pack_len = int(pack_len)
        out = {"spec": self.spec, "kind": self.kind, "tokens_per_pack": sympy.Integer(self.tokens(pack_len)),
               "padding_per_pack": sympy.Integer(self.padding(pack_len))}
        if self.kind == "distribution":
            name, params = self.distribution
            moment = _moments(name, params)
            m0, m1, m2 = (moment(k, sympy.Integer(pack_len)) for k in (0, 1, 2))
            out.update({"documents_per_pack": pack_len * m0 / m1, "mean_length": m1 / m0,
                        "token_weighted_length": m2 / m1, "mass_above_seq_len": 1 - m0})
            return out
        pieces = self.pieces(pack_len)
        count = sum(n for _, n in pieces)
        tokens = sum(length * n for length, n in pieces)
        squares = sum(length * length * n for length, n in pieces)
        out.update({"documents_per_pack": sympy.Integer(count) if self.kind == "pack"
                    else sympy.Rational(pack_len * count, tokens),
                    "mean_length": sympy.Rational(tokens, count),
                    "token_weighted_length": sympy.Rational(squares, tokens)})
        return out

    def describe(self):
        """What the spec means, in a few words, for the text output."""
        return {"pack": "the documents of every pack",
                "sample": "document lengths sampled from a file, filling every pack (longer ones cut)",
                "distribution": "document lengths from a distribution, conditioned on L <= seq_len, filling "
                                "every pack"}[self.kind]


def _at(cost, seq_len, length):
    """A per-sequence count at a length: an empty sequence costs nothing."""
    return cost.xreplace({seq_len: sympy.Integer(length)}) if length else sympy.Integer(0)


# ---------------------------------------------------------------- parsing

def parse(spec, source=None):
    """A Documents from its text: a list of lengths, a distribution or a lengths file."""
    if isinstance(spec, Documents):
        return spec
    if isinstance(spec, (list, tuple)):
        return _pack([_length(v, "documents") for v in spec], ", ".join(map(str, spec)))
    if not isinstance(spec, str) or not spec.strip():
        raise UsageError(source, "documents", f"{spec!r} (expected lengths such as 1024,3072,4096, a distribution "
                                              "such as exponential:mean=1024, or a file of lengths)")
    text = spec.strip()
    if _PACK.match(text):
        lengths = []
        for item in text.split(","):
            length, _, times = item.partition("x")
            length = _length(length.strip().replace("_", ""), "documents")
            times = _length(times.strip().replace("_", ""), "documents") if times else 1
            if len(lengths) + times > MAX_DOCUMENTS:
                raise UsageError(source, "documents", f"more than {MAX_DOCUMENTS:,} documents in a pack")
            lengths.append((length, times))
        return _pack_counted(lengths, text)
    name, colon, rest = text.partition(":")
    if colon and name.strip().lower() in DISTRIBUTIONS:
        return _distribution(name.strip().lower(), rest, text)
    if colon and re.fullmatch(r"[A-Za-z_]+", name.strip()) and not Path(text).exists():
        raise UsageError(source, "documents", f"unknown distribution {name.strip()!r} (expected one of "
                                              f"{', '.join(DISTRIBUTIONS)})")
    if _NUMBERS.match(text) and not Path(text).exists():
        raise UsageError(source, "documents", f"{text[:60]!r} is not a list of document lengths (expected positive "
                                              "integers such as 1024,3072,4096, or 512x16 for 16 of 512)")
    return read_lengths(text)


def _length(value, field):
    if isinstance(value, bool):
        raise UsageError(None, field, f"{value!r} is not a document length (a positive integer)")
    try:
        length = int(value) if isinstance(value, (int, str)) else None
    except ValueError:
        length = None
    if length is None or str(value).strip().startswith("+") or length <= 0:
        raise UsageError(None, field, f"{value!r} is not a document length (a positive integer)")
    if length > MAX_LENGTH:
        raise UsageError(None, field, f"{length:,} tokens is out of range (at most {MAX_LENGTH:,})")
    return length


def _pack(lengths, spec):
    return _pack_counted([(length, 1) for length in lengths], spec)


def _pack_counted(pairs, spec, kind="pack"):
    if not pairs:
        raise UsageError(None, "documents", "no documents")
    counts = {}
    for length, count in pairs:
        counts[length] = counts.get(length, 0) + count
    return Documents(kind, spec, tuple(sorted(counts.items())))


def _distribution(name, rest, spec):
    from .exact import exact_number
    params = {}
    for item in rest.split(","):
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq or not key:
            raise UsageError(None, "documents", f"{spec!r}: {item.strip()!r} is not NAME=VALUE "
                                                f"(expected {', '.join(k + '=...' for k in DISTRIBUTIONS[name])})")
        if key not in DISTRIBUTIONS[name]:
            raise UsageError(None, "documents", f"{spec!r}: {name} has no parameter {key!r} "
                                                f"(expected {', '.join(DISTRIBUTIONS[name])})")
        if key in params:
            raise UsageError(None, "documents", f"{spec!r}: {key} given twice")
        params[key] = exact_number(value, f"documents: {name} {key}", positive=key not in ("mu", "min"))
    missing = [k for k in DISTRIBUTIONS[name] if k not in params]
    if missing:
        raise UsageError(None, "documents", f"{spec!r}: {name} needs {', '.join(missing)}")
    if name == "exponential" and params["mean"] < 1:
        raise UsageError(None, "documents", f"{spec!r}: a mean length below one token")
    if name == "uniform" and params["max"] < 1:
        raise UsageError(None, "documents", f"{spec!r}: lengths below one token")
    if name == "uniform" and params["min"] < 0:
        raise UsageError(None, "documents", f"{spec!r}: min {params['min']} is negative")
    if name == "uniform" and params["min"] >= params["max"]:
        raise UsageError(None, "documents", f"{spec!r}: min must be below max")
    if name == "lognormal" and abs(params["mu"]) > 50:
        raise UsageError(None, "documents", f"{spec!r}: mu {params['mu']} is out of range (the mean of ln L: "
                                            "|mu| <= 50)")
    if name == "lognormal" and params["sigma"] > 10:
        raise UsageError(None, "documents", f"{spec!r}: sigma {params['sigma']} is out of range (at most 10)")
    if name != "lognormal" and max(params.values()) > MAX_LENGTH:
        raise UsageError(None, "documents", f"{spec!r}: lengths out of range (at most {MAX_LENGTH:,})")
    return Documents("distribution", spec, distribution=(name, params))


def read_lengths(path):
    """A lengths file: one length per line, `length,count` rows (CSV, TSV or spaces), a
    JSON list of lengths or a JSON object {length: count}."""
    from .files import DataError, decode_json
    file = Path(path)
    if not file.exists():
        raise UsageError(path, "documents", "no such file (expected lengths such as 1024,3072,4096, a "
                                            "distribution such as exponential:mean=1024, or a file of lengths)")
    if not file.is_file():
        raise UsageError(path, "documents", "not a regular file")
    if file.stat().st_size > 512 * 2**20:
        raise UsageError(path, "documents", "larger than 512 MiB")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(path, None, "not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc.strerror or exc}") from None
    stripped = text.lstrip()
    pairs = []
    if file.suffix.lower() == ".json" or stripped[:1] in ("[", "{"):
        try:
            data = decode_json(stripped)
        except (json.JSONDecodeError, DataError, RecursionError) as exc:
            raise ConfigError(path, None, f"invalid JSON: {getattr(exc, 'msg', exc)}") from None
        if isinstance(data, list):
            pairs = [(_length(v, f"item {i}"), 1) for i, v in enumerate(data, 1)]
        elif isinstance(data, dict):
            pairs = [(_length(k, f"key {k!r}"), _count(v, f"key {k!r}")) for k, v in data.items()]
        else:
            raise ConfigError(path, None, "expected a JSON list of lengths or an object {length: count}")
    else:
        for number, line in enumerate(text.splitlines(), 1):
            fields = [f for f in re.split(r"[,\t ]+", line.strip()) if f]
            if not fields or fields[0].startswith("#"):
                continue
            if number == 1 and not fields[0].isdigit():
                continue  # a header
            if len(fields) > 2:
                raise ConfigError(path, f"line {number}", f"{len(fields)} fields (expected a length, or length,count)")
            try:
                pairs.append((_length(fields[0], f"line {number}"),
                              _count(fields[1], f"line {number}") if len(fields) == 2 else 1))
            except UsageError as exc:
                raise ConfigError(path, exc.field, exc.message) from None
            if len(pairs) > MAX_DOCUMENTS:
                raise ConfigError(path, None, f"more than {MAX_DOCUMENTS:,} rows")
    if not pairs:
        raise ConfigError(path, None, "no document lengths")
    return _pack_counted(pairs, str(path), kind="sample")


def _count(value, field):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise UsageError(None, field, f"count {value!r} is not a positive integer")
    try:
        count = int(value)
    except ValueError:
        raise UsageError(None, field, f"count {value!r} is not a positive integer") from None
    if count <= 0 or count > 10**15:
        raise UsageError(None, field, f"count {value!r} is not a positive integer (at most 10^15)")
    return count


# ---------------------------------------------------------------- distributions

def _moments(name, params, symbolic=False):
    """M(k, x) = ∫_0^x L^k p(L) dL, the k-th partial moment of the distribution, exact.
    `symbolic`: parameters are symbols, and a uniform distribution's support is taken to
    lie below x."""
    if name == "exponential":
        mu = params["mean"]

        def moment(k, x):  # mu^k * lowergamma(k + 1, x / mu), written out for integer k
            z = x / mu
            tail = sympy.exp(-z) * sum(z**i / sympy.factorial(i) for i in range(k + 1))
            return mu**k * sympy.factorial(k) * (1 - tail)
        return moment
    if name == "uniform":
        low, high = params["min"], params["max"]

        def moment(k, x):
            x = high if symbolic else min(max(x, low), high)
            return (x**(k + 1) - low**(k + 1)) / ((k + 1) * (high - low))
        return moment
    mu, sigma = params["mu"], params["sigma"]

    def moment(k, x):  # exp(k mu + k² sigma² / 2) Phi((ln x - mu - k sigma²) / sigma)
        if x.is_number and x <= 0:
            return sympy.Integer(0)
        z = (sympy.log(x) - mu - k * sigma**2) / sigma
        return sympy.exp(k * mu + k**2 * sigma**2 / 2) * (1 + sympy.erf(z / sympy.sqrt(2))) / 2
    return moment


def _expected(cost, seq_len, pack_len, name, params):
    """pack_len · E[C(L) | L <= S] / E[L | L <= S] for a per-sequence count C that is a
    polynomial in L on each of finitely many intervals (windows are; a chunked scan's
    ceiling is not)."""
    length = sympy.Symbol("L", positive=True)
    cost = cost.xreplace({seq_len: length})
    if cost.has(sympy.floor, sympy.ceiling, sympy.Mod):
        raise UsageError(None, "documents", "this model's cost per document steps with its length (a chunked "
                                            "scan's ceiling(L / chunk)): a distribution has no closed form for it; "
                                            "give the documents' lengths or a file of lengths")
    moment = _moments(name, params)
    total = sympy.Integer(0)
    edges = _breakpoints(cost, length, pack_len)
    for low, high in zip(edges, edges[1:]):
        piece = _piece(cost, length, (low + high) / 2)
        polynomial = sympy.Poly(sympy.expand(piece), length)
        for (k,), coefficient in polynomial.terms():
            total += coefficient * (moment(k, high) - moment(k, low))
    tokens = moment(1, sympy.Integer(pack_len))
    return sympy.cancel(pack_len * total / tokens)  # exp(-S/mu) cancels from the linear terms


def _breakpoints(cost, length, pack_len):
    """0, the lengths where a piece of the cost changes (a window), and the pack length."""
    cost = sympy.piecewise_fold(cost.rewrite(sympy.Piecewise))
    points = {sympy.Integer(0), sympy.Integer(pack_len)}
    for relation in cost.atoms(sympy.Rel):
        for root in sympy.solve(relation.lhs - relation.rhs, length):
            if root.is_Rational and 0 < root < pack_len:
                points.add(root)
    return sorted(points)


def _piece(cost, length, point):
    """The polynomial the cost is around `point`."""
    cost = sympy.piecewise_fold(cost.rewrite(sympy.Piecewise))
    if not isinstance(cost, sympy.Piecewise):
        return cost
    for value, condition in cost.args:
        if condition.xreplace({length: point}) == sympy.true:
            return _piece(value, length, point)
    raise UsageError(None, "documents", f"no piece of the cost holds at length {point}")


# ---------------------------------------------------------------- a run's documents, for the outputs

def tokens_per_pack(report):
    """Real tokens in one sequence of the run: seq_len, or a pack's document tokens."""
    return int(report["documents"]["tokens_per_pack"]) if "documents" in report else int(report["run"]["seq_len"])


def documents_run(report):
    """The packed documents of a run, for the output (None without)."""
    if "documents" not in report:
        return None
    docs = report["documents"]
    return {"spec": docs["spec"], "kind": docs["kind"], "tokens_per_pack": int(docs["tokens_per_pack"]),
            "padding_per_pack": int(docs["padding_per_pack"])}
