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

from . import bibliography, cache
from .bibliography import Reference  # library.Reference
from .definitions import Citation, section_entries  # noqa: F401  (Citation: library.Citation)
from .errors import FormulaError

# Components in display order. A formula adds to exactly one of them.
COMPONENTS = (
    "embedding", "attention_projections", "attention_core", "indexer", "linear_attention", "ssm", "mlp",
    "router", "experts", "shared_experts", "norms", "lm_head", "mtp", "nonmatmul",
)
KERNELS = ("eager", "flash")
SECTIONS = ("symbols", "references", "masks", "formulas")
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
    per: str = "token"  # "token": forward/backward for one token, in keys; "sequence": for a sequence, in seq_len
    decode: sympy.Expr = None  # forward FLOPs of one decode-step token (with a cache), in keys
    backward_references: tuple = ()  # (kernel, Citation): the source of that kernel's backward

    @property
    def decode_forward(self):
        """What one decode step costs: `decode`, else (a per-token formula) its forward."""
        return self.forward if self.decode is None else self.decode


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
    """The library of `root`: from the start-up cache (cache.py) when it holds these files'
    bytes, else parsed, checked and stored."""
    key = _cache_key(root)
    if key is not None:
        library = _from_cache(cache.load("library", key), root)
        if library is not None:
            return library
    library = _parse(root)
    if key is not None:
        payload = _to_cache(library)
        if payload is not None:
            cache.store("library", key, payload)
    return library


def _parse(root):
    documents = [(Path(file), data) for file, data in root.documents() if set(data) & set(SECTIONS)]
    symbols = _collect(documents, "symbols", lambda e: _symbol(e), "symbol")
    names = {name: info.symbol for name, info in symbols.items()}
    references = bibliography.collect(documents)
    masks = _collect(documents, "masks", lambda e: _mask(e, names, references), "mask")
    formulas = _collect(documents, "formulas", lambda e: _formula(e, names, references), "formula")
    return Library(Entries("symbol", symbols), Entries("reference", references), Entries("mask", masks),
                   Entries("formula", formulas), root)


def _collect(documents, section, build, kind, key="name"):
    """name -> definition for one section across the library's files; a name defined
    twice is an error naming both files."""
    out, where = {}, {}
    for file, data in documents:
        if section not in data:
            continue
        for entry in section_entries(file, section, data[section]):
            definition = build(entry)
            name = getattr(definition, key)
            if name in out:
                entry.fail(key, f"duplicate {kind} {name!r} (also in {where[name]})")
            out[name], where[name] = definition, file
    return out


# A symbol's LaTeX goes into math mode as it is: letters, digits, sub/superscripts, braces
# and a few commands; nothing that reads files or defines macros.
_LATEX = re.compile(r"^(?:[A-Za-z0-9_^{}' ,.]|\\(?:mathrm|mathit|mathbf|text|operatorname|alpha|beta|gamma|"
                    r"delta|epsilon|eta|theta|kappa|lambda|mu|nu|pi|rho|sigma|tau|phi|chi|psi|omega|ell|Delta|"
                    r"Sigma)(?![A-Za-z]))+$")


def _symbol(entry):
    name = entry.name()
    if name in _RESERVED:
        entry.fail("name", f"{name!r} collides with a name sympy gives meaning to")
    latex = entry.text("latex")
    if not _LATEX.match(latex):
        entry.fail("latex", f"{latex[:60]!r} is not allowed (expected letters, digits, _ ^ {{ }}, and "
                            r"commands such as \mathrm or \kappa)")
    info = SymbolInfo(name=name, latex=latex, kind=entry.choice("kind", ("architecture", "run", "position")),
                      description=entry.text("description"), symbol=sympy.Symbol(name, positive=True, integer=True))
    entry.done()
    return info


def _mask(entry, names, references):
    mask = Mask(name=entry.name(), keys=entry.expression("keys", names), total=entry.expression("total", names),
                description=entry.text("description"), reference=entry.citation("reference", references),
                source=str(entry.file))
    entry.done()
    return mask


def _formula(entry, names, references):
    name = entry.name()
    entry.where = f"formula {name}"  # errors name the formula, as the checks at a model's sizes do
    component = entry.choice("component", COMPONENTS)
    if not entry.has("forward") and not entry.has("params"):
        entry.fail(None, "a formula needs forward FLOPs, params, or both")
    zero = sympy.Integer(0)
    per = entry.choice("per", ("token", "sequence"), "token")
    static = {k: v for k, v in names.items() if k not in ("keys", "t", "seq_len", "batch")}
    # a per-token cost may depend on the keys its query sees; a per-sequence one on seq_len
    dynamic = {**static, **({"keys": names["keys"]} if per == "token" and "keys" in names else {}),
               **({"seq_len": names["seq_len"]} if per == "sequence" and "seq_len" in names else {})}
    forward = entry.expression("forward", dynamic, zero)
    params = entry.expression("params", static, zero)
    active_params = entry.expression("active_params", static, params)
    backward = _backward(entry, dynamic, forward)
    decode = None
    if entry.has("decode"):
        decode = entry.expression("decode", {**static, **({"keys": names["keys"]} if "keys" in names else {})})
    elif per == "sequence" and forward != 0:
        entry.fail("decode", "missing (a per-sequence formula gives the FLOPs of one decode-step token "
                             "explicitly: the cached form of the computation)")
    keys = names.get("keys")
    for label, value in ([("forward", forward)] + [(f"backward.{k}", v) for k, v in backward.items()]
                         + ([("decode", decode)] if decode is not None else [])):
        # Per-sequence totals replace `keys` by the mask's closed-form sum: valid only
        # when the cost is linear in `keys`.
        if keys is not None and sympy.diff(value, keys, 2) != 0:
            entry.fail(label, "must be linear in keys")
    formula = Formula(name=name, component=component, forward=forward, backward=backward, params=params,
                      active_params=active_params, description=entry.text("description"),
                      omits=entry.text("omits", ""), reference=entry.citation("reference", references),
                      source=str(entry.file), per=per, decode=decode,
                      backward_references=_backward_references(entry, references))
    entry.done()
    return formula


def _backward_references(entry, references):
    """kernel -> citation of the source of that kernel's backward, where it is not the
    formula's own `reference` (FlashAttention's recomputing backward)."""
    if not entry.has("backward_reference"):
        return ()
    raw = entry.get("backward_reference")
    if not isinstance(raw, dict) or not raw or not set(raw) <= set(KERNELS):
        entry.fail("backward_reference", f"expected a mapping with keys {', '.join(KERNELS)} "
                                         "to citations {cite: KEY, where: TEXT}")
    by_kernel = entry.entry("backward_reference")
    out = tuple((kernel, by_kernel.citation(kernel, references)) for kernel in KERNELS if kernel in raw)
    by_kernel.done()
    return out


def _backward(entry, names, forward):
    """kernel -> backward FLOPs: one expression for both kernels, a mapping by kernel
    (a missing kernel takes eager's), or by default 2 x forward."""
    if not entry.has("backward"):
        return {k: 2 * forward for k in KERNELS}
    raw = entry.get("backward")
    if not isinstance(raw, dict):
        value = entry.expression("backward", names)
        return {k: value for k in KERNELS}
    by_kernel = entry.entry("backward")
    if not set(raw) <= set(KERNELS) or not raw:
        entry.fail("backward", f"expected a mapping with keys {', '.join(KERNELS)}")
    out = {}
    for kernel in KERNELS:
        key = kernel if kernel in raw else "eager"
        out[kernel] = by_kernel.expression(key, names)
    by_kernel.done()
    return out


# ------------------------------------------------------------------ the start-up cache

_FIELDS = {  # how each definition's fields are stored: text, an expression, or one of the shapes below
    SymbolInfo: {"name": "text", "latex": "text", "kind": "text", "description": "text", "symbol": "symbol"},
    Mask: {"name": "text", "keys": "expr", "total": "expr", "description": "text", "reference": "citation",
           "source": "text"},
    Formula: {"name": "text", "component": "text", "forward": "expr", "backward": "by_kernel", "params": "expr",
              "active_params": "expr", "description": "text", "omits": "text", "reference": "citation",
              "source": "text", "per": "text", "decode": "expr?", "backward_references": "citations"},
    Reference: {"key": "text", "authors": "text", "title": "text", "year": "year", "arxiv": "text", "url": "text",
                "note": "text"},
}
_SECTIONS = (("symbols", SymbolInfo), ("references", Reference), ("masks", Mask), ("formulas", Formula))


def _cache_key(root):
    data_key = root.key()
    if data_key is None:
        return None
    return cache.digest([data_key, f"sympy {sympy.__version__}"]
                        + cache.sources("library", "expr", "definitions", "bibliography"))


def parse_memo(root, section):
    """The start-up cache's memo (cache.ParseMemo) of the formula text parsed in `section`
    of `root` outside the library (memory facts, presets, vision), or None when there is
    no cache; use it in `expr.memoized`."""
    key = _cache_key(root)
    return None if key is None else cache.ParseMemo(cache.digest([key, section]))


def _to_cache(library):
    """The library as plain data (cache.py), or None where it holds something the cache
    does not store."""
    encode = cache.Encoder()

    def field(shape, value):
        if shape in ("expr", "symbol"):
            return encode(value)
        if shape == "expr?":
            return None if value is None else encode(value)
        if shape == "citation":
            return [value.cite, value.where]
        if shape == "citations":
            return [[kernel, c.cite, c.where] for kernel, c in value]
        if shape == "by_kernel":
            return [[kernel, encode(e)] for kernel, e in value.items()]
        return value

    try:
        sections = {name: [{f: field(shape, getattr(item, f)) for f, shape in _FIELDS[cls].items()}
                           for item in getattr(library, name).values()] for name, cls in _SECTIONS}
    except cache.Unusable:
        return None
    return {"nodes": encode.nodes, **sections}


def _from_cache(payload, root):
    """The Library a payload of _to_cache describes, or None where it is anything else."""
    try:
        nodes = cache.decode(payload["nodes"])
        sections = {name: _entries(payload[name], cls, nodes) for name, cls in _SECTIONS}
        if set(payload) != {"nodes", *sections}:
            return None
    except Exception:  # a cache file not written by this version: parse the files
        return None
    return Library(Entries("symbol", sections["symbols"]), Entries("reference", sections["references"]),
                   Entries("mask", sections["masks"]), Entries("formula", sections["formulas"]), root)


def _entries(items, cls, nodes):
    def text(value):
        if type(value) is not str:
            raise cache.Unusable("text")
        return value

    def expression(index):
        if type(index) is not int or not 0 <= index < len(nodes) or not isinstance(nodes[index], sympy.Expr):
            raise cache.Unusable("expression")
        return nodes[index]

    def citation(cite, where):
        return Citation(text(cite), text(where))

    def field(shape, value):
        if shape == "text":
            return text(value)
        if shape == "expr":
            return expression(value)
        if shape == "expr?":
            return None if value is None else expression(value)
        if shape == "symbol":
            symbol = expression(value)
            if type(symbol) is not sympy.Symbol:
                raise cache.Unusable("symbol")
            return symbol
        if shape == "year":
            if value is not None and type(value) is not int:
                raise cache.Unusable("year")
            return value
        if shape == "citation":
            return citation(*value)
        if shape == "citations":
            return tuple((text(kernel), citation(cite, where)) for kernel, cite, where in value)
        if shape == "by_kernel":
            out = {text(kernel): expression(e) for kernel, e in value}
            if tuple(out) != KERNELS:
                raise cache.Unusable("backward")
            return out
        raise cache.Unusable(shape)

    fields = _FIELDS[cls]
    out = {}
    if type(items) is not list:
        raise cache.Unusable(cls.__name__)
    for item in items:
        if type(item) is not dict or set(item) != set(fields):
            raise cache.Unusable(cls.__name__)
        definition = cls(**{f: field(shape, item[f]) for f, shape in fields.items()})
        name = definition.key if cls is Reference else definition.name
        if name in out:
            raise cache.Unusable("duplicate")
        out[name] = definition
    return out
