"""Numeric formats: the one dtypes table (formulas/dtypes.yaml), read by storage (bytes
of weights, gradients, the KV cache), by the hardware table (which dtypes a peak can be
given for) and by MFU (which peak is the usual denominator).

    >>> dtypes = load_dtypes()
    >>> dtypes.get("bfloat16").bytes           # 2
    >>> dtypes.get("fp8").low_precision        # True
"""

from dataclasses import dataclass
from functools import lru_cache

from .definitions import section_entries
from .errors import UsageError

RATES = ("tensor", "vector", "integer", "storage")


@dataclass(frozen=True)
class DType:
    name: str
    bits: int
    aliases: tuple
    rate: str            # tensor | vector | integer | storage (see dtypes.yaml)
    sparse: bool         # 2:4 structured sparsity can apply
    low_precision: bool  # not the usual MFU denominator (FP8 and below)
    mfu_reference: bool  # the dtype published MFU divides by (bf16)
    description: str
    reference: object    # definitions.Citation

    @property
    def bytes(self):
        """Bytes per element, exact (1/2 for 4-bit formats)."""
        import sympy
        return sympy.Rational(self.bits, 8)

    @property
    def unit(self):
        """The unit of a peak of this dtype: integer rates are operations, not FLOPs."""
        return "TOPS" if self.rate == "integer" else "TFLOP/s"


@dataclass(frozen=True)
class DTypes:
    """The table: canonical names in file order, and every spelling -> canonical name."""

    by_name: dict
    spellings: dict

    def __iter__(self):
        return iter(self.by_name.values())

    @property
    def names(self):
        return tuple(self.by_name)

    def get(self, name, field="dtype", error=UsageError, source=None):
        """The DType spelled `name` (canonical or alias, case-insensitive, surrounding
        spaces ignored); an unknown spelling is `error(source, field, ...)`."""
        key = self.spellings.get(str(name).strip().lower())
        if key is None:
            raise error(source, field, f"unknown dtype {name!r} (expected one of: {', '.join(self.by_name)})")
        return self.by_name[key]

    def reference_dtype(self):
        return next(d for d in self if d.mfu_reference)


def load_dtypes(root=None):
    """The dtypes of the data root (a dtypes.yaml in a --formulas directory replaces the
    bundled one)."""
    from . import data
    return _load(root or data.root())


@lru_cache(maxsize=8)
def _load(root):
    from .bibliography import references as bibliography
    references = bibliography(root)
    path, entries = root.section("dtypes")
    by_name, spellings = {}, {}
    for entry in section_entries(path, "dtypes", entries):
        name = entry.name()
        dtype = DType(name=name, bits=entry.integer("bits", minimum=1, maximum=256),
                      aliases=tuple(a.lower() for a in entry.texts("aliases")),
                      rate=entry.choice("rate", RATES), sparse=entry.flag("sparse", True),
                      low_precision=entry.flag("low_precision", False),
                      mfu_reference=entry.flag("mfu_reference", False), description=entry.text("description"),
                      reference=entry.citation("reference", references))
        entry.done()
        for spelling in (name,) + dtype.aliases:
            if spelling in spellings:
                entry.fail("aliases", f"{spelling!r} names two dtypes ({spellings[spelling]} and {name})")
            spellings[spelling] = name
        by_name[name] = dtype
    if sum(d.mfu_reference for d in by_name.values()) != 1:
        from .errors import FormulaError
        raise FormulaError(path, "dtypes", "expected exactly one dtype with mfu_reference: true")
    return DTypes(by_name, spellings)
