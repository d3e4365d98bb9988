"""The formula library: `formulas/*.yaml` loaded into frozen, validated objects.

Each file may hold `symbols`, `references`, `masks` and `formulas` sections (see
formulas/README.md). Every expression is parsed by `expr.parse` against the declared
symbols, every citation is checked against the bibliography, and a formula name may
appear only once in the whole library.
"""

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import sympy

from . import expr
from .errors import FormulaError

# Components in display order. A formula adds to exactly one of them.
COMPONENTS = (
    "embedding", "attention_projections", "attention_core", "mlp", "router",
    "experts", "shared_experts", "norms", "lm_head", "mtp", "nonmatmul",
)
KERNELS = ("eager", "flash")
SECTIONS = ("symbols", "references", "masks", "formulas")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# sympy gives these names a meaning of its own; a symbol must not shadow them
_RESERVED = {"e", "i", "n", "s", "o", "q", "beta", "gamma", "pi", "zeta", "lambda"}


@dataclass(frozen=True)
class SymbolInfo:
    name: str
    latex: str
    kind: str
    description: str
    symbol: sympy.Symbol


@dataclass(frozen=True)
class Reference:
    key: str
    authors: str
    title: str
    year: int
    arxiv: str = ""
    url: str = ""

    @property
    def link(self):
        return f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else self.url


@dataclass(frozen=True)
class Citation:
    cite: str
    where: str

    def __str__(self):
        return f"{self.cite}, {self.where}"


@dataclass(frozen=True)
class Mask:
    name: str
    keys: sympy.Expr
    total: sympy.Expr
    description: str
    reference: Citation
    source: str


@dataclass(frozen=True)
class Formula:
    name: str
    component: str
    forward: sympy.Expr
    backward: dict  # kernel -> expression
    params: sympy.Expr
    active_params: sympy.Expr  # what one token touches (MoE: top_k of n_experts)
    description: str
    omits: str
    reference: Citation
    source: str


class Entries(dict):
    """A section of the library: a missing entry is a FormulaError naming it, not a KeyError
    (a file given with --formulas can replace the bundled file that defines it)."""

    def __init__(self, kind, entries):
        super().__init__(entries)
        self.kind = kind

    def __missing__(self, name):
        raise FormulaError(None, f"{self.kind} {name!r}", "missing from the formula library, and this model "
                           "needs it (a file given with --formulas may have replaced the one that defines it)")


@dataclass(frozen=True)
class Library:
    symbols: dict
    references: dict
    masks: dict
    formulas: dict
    root: object = field(default=None, compare=False, repr=False)  # data.DataRoot the library was read from

    def symbol(self, name):
        return self.symbols[name].symbol

    def latex_names(self):
        """sympy.latex(..., symbol_names=...) mapping, so symbols print as papers write them."""
        return {info.symbol: info.latex for info in self.symbols.values()}


def load_library(extra_dirs=()):
    """The library of the data root: the bundled files plus the files in `extra_dirs` (a
    file with a bundled file's name replaces it; see data.py)."""
    from . import data
    return _load(data.root(extra_dirs))


@lru_cache(maxsize=8)
def _load(root):
    documents = [(Path(file), data) for file, data in root.documents() if set(data) & set(SECTIONS)]
    symbols = {}
    for file, data in documents:
        for i, entry in _entries(file, data, "symbols"):
            info = _symbol(file, f"symbols[{i}]", entry)
            if info.name in symbols:
                raise FormulaError(file, f"symbols[{i}].name", f"duplicate symbol {info.name!r}")
            symbols[info.name] = info
    names = {name: info.symbol for name, info in symbols.items()}

    references = {}
    for file, data in documents:
        for i, entry in _entries(file, data, "references"):
            ref = _reference(file, f"references[{i}]", entry)
            if ref.key in references:
                raise FormulaError(file, f"references[{i}].key", f"duplicate reference {ref.key!r}")
            references[ref.key] = ref

    masks, formulas = {}, {}
    for file, data in documents:
        for i, entry in _entries(file, data, "masks"):
            mask = _mask(file, f"masks[{i}]", entry, names, references)
            if mask.name in masks:
                raise FormulaError(file, f"masks[{i}].name", f"duplicate mask {mask.name!r}")
            masks[mask.name] = mask
        for i, entry in _entries(file, data, "formulas"):
            formula = _formula(file, f"formulas[{i}]", entry, names, references)
            if formula.name in formulas:
                other = formulas[formula.name].source
                raise FormulaError(file, f"formulas[{i}].name", f"duplicate formula {formula.name!r} (also in {other})")
            formulas[formula.name] = formula
    return Library(Entries("symbol", symbols), Entries("reference", references), Entries("mask", masks),
                   Entries("formula", formulas), root)


def _entries(file, data, section):
    entries = data.get(section) or []
    if not isinstance(entries, list):
        raise FormulaError(file, section, "expected a list of entries")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise FormulaError(file, f"{section}[{i}]", "expected a mapping")
        yield i, entry


def _require(file, where, entry, key, kind=str):
    if key not in entry or entry[key] is None:
        raise FormulaError(file, f"{where}.{key}", "missing")
    value = entry[key]
    if kind is str and not isinstance(value, str):
        raise FormulaError(file, f"{where}.{key}", f"expected text, got {type(value).__name__}")
    if kind is str and not value.strip():
        raise FormulaError(file, f"{where}.{key}", "empty")
    return value


def _check_keys(file, where, entry, allowed):
    for key in entry:
        if key not in allowed:
            raise FormulaError(file, f"{where}.{key}", f"unknown field (expected one of {', '.join(allowed)})")


def _name(file, where, entry):
    name = _require(file, where, entry, "name")
    if not _NAME.match(name):
        raise FormulaError(file, f"{where}.name", f"{name!r} is not a valid name (expected [a-z][a-z0-9_]*)")
    return name


_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_:-]*$")
# A symbol's LaTeX goes into math mode as it is: letters, digits, sub/superscripts, braces
# and a few commands; nothing that reads files or defines macros.
_LATEX = re.compile(r"^(?:[A-Za-z0-9_^{}' ,.]|\\(?:mathrm|mathit|mathbf|text|operatorname|alpha|beta|gamma|"
                    r"delta|epsilon|eta|theta|kappa|lambda|mu|nu|pi|rho|sigma|tau|phi|chi|psi|omega|ell|Delta|"
                    r"Sigma)(?![A-Za-z]))+$")


def _symbol(file, where, entry):
    _check_keys(file, where, entry, ("name", "latex", "kind", "description"))
    name = _name(file, where, entry)
    latex = _require(file, where, entry, "latex")
    if not _LATEX.match(latex):
        raise FormulaError(file, f"{where}.latex", f"{latex[:60]!r} is not allowed (expected letters, digits, "
                           r"_ ^ { }, and commands such as \mathrm or \kappa)")
    if name in _RESERVED:
        raise FormulaError(file, f"{where}.name", f"{name!r} collides with a name sympy gives meaning to")
    kind = _require(file, where, entry, "kind")
    if kind not in ("architecture", "run", "position"):
        raise FormulaError(file, f"{where}.kind", f"{kind!r} (expected architecture, run or position)")
    return SymbolInfo(
        name=name,
        latex=latex,
        kind=kind,
        description=_require(file, where, entry, "description"),
        symbol=sympy.Symbol(name, positive=True, integer=True),
    )


def _reference(file, where, entry):
    _check_keys(file, where, entry, ("key", "authors", "title", "year", "arxiv", "url"))
    key = _require(file, where, entry, "key")
    if not _KEY.match(key):
        raise FormulaError(file, f"{where}.key", f"{key[:60]!r} is not a citation key (expected letters, digits, _ : -)")
    year = entry.get("year")
    if isinstance(year, bool) or not isinstance(year, int):
        raise FormulaError(file, f"{where}.year", "expected a year such as 2022")
    if not entry.get("arxiv") and not entry.get("url"):
        raise FormulaError(file, f"{where}.arxiv", "missing (a reference needs an arxiv id or a url)")
    url = entry.get("url")
    if url and not (isinstance(url, str) and re.match(r"^https?://[^\s<>\"'`]+$", url)):
        raise FormulaError(file, f"{where}.url", f"{str(url)[:60]!r} is not a web address (expected https://...)")
    arxiv = entry.get("arxiv")
    if arxiv and not re.match(r"^[0-9]{4}\.[0-9]{4,5}(v[0-9]+)?$", str(arxiv)):
        raise FormulaError(file, f"{where}.arxiv", f"{str(arxiv)[:60]!r} is not an arXiv id (expected e.g. 2204.02311)")
    return Reference(key=key, authors=_require(file, where, entry, "authors"),
                     title=_require(file, where, entry, "title"), year=year,
                     arxiv=str(entry.get("arxiv") or ""), url=str(entry.get("url") or ""))


def _citation(file, where, entry, references):
    ref = entry.get("reference")
    if not isinstance(ref, dict) or "cite" not in ref or "where" not in ref:
        raise FormulaError(file, f"{where}.reference", "missing or malformed (expected {cite: KEY, where: section})")
    if ref["cite"] not in references:
        raise FormulaError(file, f"{where}.reference.cite",
                           f"unknown reference {ref['cite']!r} (expected a key of references.yaml)")
    return Citation(str(ref["cite"]), str(ref["where"]))


def _expression(file, where, entry, key, names, default=None):
    if key not in entry:
        return default
    return expr.parse(entry[key], names, source=file, field=f"{where}.{key}")


def _mask(file, where, entry, names, references):
    _check_keys(file, where, entry, ("name", "keys", "total", "description", "reference"))
    name = _name(file, where, entry)
    for key in ("keys", "total"):
        _require(file, where, entry, key, kind=object)
    return Mask(name=name,
                keys=_expression(file, where, entry, "keys", names),
                total=_expression(file, where, entry, "total", names),
                description=_require(file, where, entry, "description"),
                reference=_citation(file, where, entry, references), source=str(file))


def _formula(file, where, entry, names, references):
    _check_keys(file, where, entry, ("name", "component", "forward", "backward", "params", "active_params",
                                     "description", "omits", "reference"))
    name = _name(file, where, entry)
    where = f"formula {name}"  # errors name the formula, as the checks at a model's sizes do
    component = _require(file, where, entry, "component")
    if component not in COMPONENTS:
        raise FormulaError(file, f"{where}.component", f"{component!r} (expected one of {', '.join(COMPONENTS)})")
    if "forward" not in entry and "params" not in entry:
        raise FormulaError(file, where, "a formula needs forward FLOPs, params, or both")
    zero = sympy.Integer(0)
    forward = _expression(file, where, entry, "forward", names, zero)
    static = {k: v for k, v in names.items() if k not in ("keys", "t")}
    params = _expression(file, where, entry, "params", static, zero)
    active_params = _expression(file, where, entry, "active_params", static, params)
    raw_backward = entry.get("backward")
    if isinstance(raw_backward, dict):
        unknown = set(raw_backward) - set(KERNELS)
        if unknown or not raw_backward:
            raise FormulaError(file, f"{where}.backward", f"expected a mapping with keys {', '.join(KERNELS)}")
        backward = {k: expr.parse(raw_backward.get(k, raw_backward.get("eager")), names,
                                  source=file, field=f"{where}.backward.{k}") for k in KERNELS}
    elif raw_backward is None:
        backward = {k: 2 * forward for k in KERNELS}
    else:
        value = expr.parse(raw_backward, names, source=file, field=f"{where}.backward")
        backward = {k: value for k in KERNELS}
    keys = names.get("keys")
    for label, value in [("forward", forward)] + [(f"backward.{k}", v) for k, v in backward.items()]:
        # Per-sequence totals replace `keys` by the mask's closed-form sum: valid only
        # when the cost is linear in `keys`.
        if keys is not None and sympy.diff(value, keys, 2) != 0:
            raise FormulaError(file, f"{where}.{label}", "must be linear in keys")
    return Formula(name=name, component=component, forward=forward, backward=backward,
                   params=params, active_params=active_params, description=_require(file, where, entry, "description"),
                   omits=str(entry.get("omits") or ""),
                   reference=_citation(file, where, entry, references), source=str(file))
