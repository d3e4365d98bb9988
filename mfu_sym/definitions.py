"""Reading definitions from data files: one helper for every loader (pint's pattern).

A data file is plain mappings and lists. Each loader walks its section with `Entry`,
which reads one mapping field by field: required or optional, of the right type, in
range, a name, a choice, an expression in the library's symbols, a citation. Anything
else is an error that names FILE: WHERE.FIELD and says what was expected; fields the
loader never asked for are an error too (`done()`), so a misspelt key never passes
silently. Loaders then build frozen dataclasses from the values: definitions are
validated once, at load.

A citation has one shape everywhere: {cite: KEY, where: TEXT}, KEY a reference of the
bibliography (the `references` sections of the formula library).
"""

import math
import re
from dataclasses import dataclass

from .errors import FormulaError

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MISSING = object()


@dataclass(frozen=True)
class Citation:
    cite: str
    where: str

    def __str__(self):
        return f"{self.cite}, {self.where}"


class Entry:
    """One mapping of a data file, read field by field."""

    def __init__(self, file, where, value, error=FormulaError, what="a mapping"):
        self.file, self.where, self.error = file, where, error
        if not isinstance(value, dict):
            self.fail(None, f"expected {what}, got {_kind(value)}")
        self.value = value
        self.asked = set()

    # ---- errors ---------------------------------------------------------------------
    def path(self, key):
        return ".".join(str(p) for p in (self.where, key) if p not in (None, ""))

    def fail(self, key, message):
        raise self.error(self.file, self.path(key) or None, message)

    def done(self):
        """Every field was read: an unknown one is an error naming it."""
        unknown = [k for k in self.value if k not in self.asked]
        if unknown:
            self.fail(str(unknown[0]), f"unknown field (expected one of {', '.join(sorted(self.asked))})")

    # ---- fields ---------------------------------------------------------------------
    def get(self, key, default=_MISSING):
        """The raw value (null counts as missing); missing without a default is an error."""
        self.asked.add(key)
        value = self.value.get(key)
        if value is None:
            if default is _MISSING:
                self.fail(key, "missing")
            return default
        return value

    def has(self, key):
        self.asked.add(key)
        return self.value.get(key) is not None

    def text(self, key, default=_MISSING):
        value = self.get(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"{_short(value)} is not text" if not isinstance(value, str) else "empty (expected text)")
        return value

    def name(self, key="name"):
        value = self.text(key)
        if not _NAME.match(value):
            self.fail(key, f"{value!r} is not a valid name (expected [a-z][a-z0-9_]*)")
        return value

    def integer(self, key, minimum=None, maximum=None, default=_MISSING):
        value = self.get(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"{_short(value)} is not an integer")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.fail(key, f"{value} is out of range (expected {_range(minimum, maximum)})")
        return value

    def number(self, key, minimum=None, maximum=None, default=_MISSING, open_minimum=False):
        """A finite real number (an int or a float) in range."""
        value = self.get(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(key, f"{_short(value)} is not a finite number")
        low_bad = minimum is not None and (value <= minimum if open_minimum else value < minimum)
        if low_bad or (maximum is not None and value > maximum):
            lower = f"> {minimum}" if open_minimum else None
            self.fail(key, f"{value} is out of range (expected {lower or _range(minimum, maximum)}"
                           + (f", <= {maximum}" if lower and maximum is not None else "") + ")")
        return value

    def flag(self, key, default=_MISSING):
        value = self.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"{_short(value)} is not true or false")
        return value

    def choice(self, key, choices, default=_MISSING):
        value = self.get(key, default)
        if value not in choices:
            self.fail(key, f"{_short(value)} (expected one of {', '.join(map(str, choices))})")
        return value

    def items(self, key, default=_MISSING):
        """A list field: its elements."""
        value = self.get(key, default)
        if not isinstance(value, list):
            self.fail(key, f"expected a list, got {_kind(value)}")
        return value

    def texts(self, key, default=()):
        values = self.items(key, list(default))
        for i, value in enumerate(values):
            if not isinstance(value, str) or not value.strip():
                self.fail(f"{key}[{i}]", f"{_short(value)} is not text")
        return tuple(values)

    def entry(self, key, what="a mapping"):
        """A mapping field, as an Entry of its own."""
        return Entry(self.file, self.path(key), self.get(key), self.error, what)

    def entries(self, key, default=_MISSING):
        """A list of mappings, each as an Entry."""
        return [Entry(self.file, f"{self.path(key)}[{i}]", value, self.error)
                for i, value in enumerate(self.items(key, default))]

    def expression(self, key, names, default=_MISSING):
        """Formula text parsed by the safe parser against `names`."""
        from . import expr
        value = self.get(key, default)
        if value is default and default is not _MISSING:
            return value
        return expr.parse(value, names, source=self.file, field=self.path(key))

    def citation(self, key, references):
        """{cite: KEY, where: TEXT}, KEY in `references` (the bibliography)."""
        ref = self.entry(key, "a citation {cite: KEY, where: section}")
        cite = ref.text("cite")
        where = ref.text("where")
        ref.done()
        if cite not in references:
            ref.fail("cite", f"unknown reference {cite!r} (expected a key of the bibliography, "
                             "formulas/references.yaml)")
        return Citation(cite, where)


def section_entries(file, name, value, error=FormulaError):
    """A section that is a list of mappings, each as an Entry."""
    if not isinstance(value, list):
        raise error(file, name, f"expected a list, got {_kind(value)}")
    return [Entry(file, f"{name}[{i}]", item, error) for i, item in enumerate(value)]


def _range(minimum, maximum):
    if minimum is not None and maximum is not None:
        return f"{minimum} to {maximum}"
    return f">= {minimum}" if minimum is not None else f"<= {maximum}"


def _kind(value):
    kinds = {list: "a list", dict: "a mapping", str: "text", int: "a number", float: "a number", bool: "a boolean"}
    return kinds.get(type(value), "nothing" if value is None else type(value).__name__)


def _short(value):
    text = repr(value)
    return text if len(text) <= 50 else text[:47] + "..."
