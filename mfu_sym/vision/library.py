"""The vision part of the data root (formulas/vision.yaml): symbols, per-input formulas,
quantities and family facts, read once into frozen objects and checked at load.

Every expression goes through the safe parser (`expr.parse`) against the declared vision
symbols; every citation is checked against the bibliography.
"""

from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

import sympy

from .. import bibliography
from ..definitions import Citation, Entry, section_entries
from ..errors import FormulaError

COMPONENTS = ("patch_embedding", "attention_projections", "attention_core", "mlp", "norms", "projector")
KERNELS = ("eager", "flash")
RULES = ("resize_square", "llama4_tiles", "smart_resize", "split_tiles")
_RESERVED = {"e", "i", "n", "s", "o", "q", "beta", "gamma", "pi", "zeta", "lambda"}


@dataclass(frozen=True)
class VisionFormula:
    name: str
    component: str
    forward: sympy.Expr
    backward: MappingProxyType  # kernel -> expression
    backward_frozen_input: sympy.Expr  # the backward when the input needs no gradient (frozen encoder)
    params: sympy.Expr
    description: str
    omits: str
    reference: Citation


@dataclass(frozen=True)
class Quantity:
    name: str
    value: sympy.Expr
    description: str
    reference: Citation


@dataclass(frozen=True)
class Family:
    model_type: str
    config_class: str
    vision_class: str
    source: str
    reference: Citation
    vision_defaults: MappingProxyType
    absent_vision: MappingProxyType  # the vision config used when the file gives none (None: the class defaults)
    outer_defaults: MappingProxyType
    text_hidden_default: int
    processor: MappingProxyType
    processor_source: str
    decoder: str  # composite | text_config | the model_type its text_config is read as


@dataclass(frozen=True)
class VisionLibrary:
    symbols: MappingProxyType  # name -> sympy.Symbol
    latex: MappingProxyType  # Symbol -> LaTeX
    formulas: MappingProxyType
    quantities: MappingProxyType
    families: MappingProxyType

    def symbol(self, name):
        return self.symbols[name]


def load(extra_dirs=()):
    from .. import data
    return _load(data.root(extra_dirs))


@lru_cache(maxsize=8)
def _load(root):
    from .. import expr
    from ..library import parse_memo
    with expr.memoized(parse_memo(root, "vision")):  # its formulas, kept from the last run
        return _read(root)


def _read(root):
    references = bibliography.collect([(path, doc) for path, doc in root.documents()])
    symbols, latex = {}, {}
    for path, section in root.sections("vision_symbols"):
        for entry in section_entries(path, "vision_symbols", section):
            name = entry.name()
            if name in _RESERVED or name in symbols:
                entry.fail("name", f"{name!r} is reserved or declared twice")
            symbols[name] = sympy.Symbol(name, positive=True, integer=True)
            latex[symbols[name]] = entry.text("latex")
            entry.text("description")
            entry.done()
    formulas = {}
    for path, section in root.sections("vision_formulas"):
        for entry in section_entries(path, "vision_formulas", section):
            formula = _formula(entry, symbols, references)
            if formula.name in formulas:
                entry.fail("name", f"duplicate vision formula {formula.name!r}")
            formulas[formula.name] = formula
    quantities = {}
    for path, section in root.sections("vision_quantities"):
        for entry in section_entries(path, "vision_quantities", section):
            quantity = Quantity(entry.name(), entry.expression("value", symbols), entry.text("description"),
                                entry.citation("reference", references))
            entry.done()
            quantities[quantity.name] = quantity
    families = {}
    for path, section in root.sections("vision_families"):
        if not isinstance(section, dict):
            raise FormulaError(path, "vision_families", "expected a mapping of model_type -> family")
        for model_type, value in section.items():
            families[model_type] = _family(Entry(path, f"vision_families.{model_type}", value), model_type,
                                           references)
    return VisionLibrary(MappingProxyType(symbols), MappingProxyType(latex), MappingProxyType(formulas),
                         MappingProxyType(quantities), MappingProxyType(families))


def _formula(entry, symbols, references):
    name = entry.name()
    zero = sympy.Integer(0)
    forward = entry.expression("forward", symbols, zero)
    if not entry.has("backward"):
        backward = {k: 2 * forward for k in KERNELS}
    elif isinstance(entry.get("backward"), dict):
        by_kernel = entry.entry("backward")
        backward = {k: by_kernel.expression(k if k in by_kernel.value else "eager", symbols) for k in KERNELS}
        by_kernel.done()
    else:
        value = entry.expression("backward", symbols)
        backward = {k: value for k in KERNELS}
    frozen = entry.expression("backward_frozen_input", symbols, backward["eager"])
    formula = VisionFormula(name=name, component=entry.choice("component", COMPONENTS), forward=forward,
                            backward=MappingProxyType(backward), backward_frozen_input=frozen, params=entry.expression("params", symbols, zero),
                            description=entry.text("description"), omits=entry.text("omits", ""),
                            reference=entry.citation("reference", references))
    entry.done()
    return formula


def _mapping(entry, key, default=None):
    value = entry.get(key, default)
    if not isinstance(value, dict):
        entry.fail(key, "expected a mapping")
    return MappingProxyType(dict(value))


def _family(entry, model_type, references):
    processor = _mapping(entry, "processor")
    if processor.get("rule") not in RULES:
        entry.fail("processor.rule", f"{processor.get('rule')!r} (expected one of {', '.join(RULES)})")
    absent = entry.get("absent_vision", None)
    family = Family(model_type=model_type, config_class=entry.text("class"), vision_class=entry.text("vision_class"),
                    source=entry.text("source"), reference=entry.citation("reference", references),
                    vision_defaults=_mapping(entry, "vision_defaults"),
                    absent_vision=None if absent is None else _mapping(entry, "absent_vision"),
                    outer_defaults=_mapping(entry, "outer_defaults", {}),
                    text_hidden_default=entry.integer("text_hidden_default", minimum=1), processor=processor,
                    processor_source=entry.text("processor_source"), decoder=entry.name("decoder"))
    entry.done()
    return family
