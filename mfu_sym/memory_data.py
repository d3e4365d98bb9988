"""The facts behind `infer` and `memory`, read from the data root (formulas/memory.yaml:
its header documents the format): the elements a layer caches per position, the fp32
master copy, optimizer states, ZeRO stages, the shards of parameters a device holds and
Korthikanti et al.'s activation bytes (arXiv:2205.05198 §4-5, Table 2). Storage widths
come from the dtypes table (dtypes.py). Everything is checked at load, every citation
against the bibliography (definitions.Entry).
"""

from dataclasses import dataclass

import sympy

from . import activations_data
from .definitions import Entry, section_entries
from .errors import FormulaError, UsageError

MEMORY_SECTIONS = ("kv_cache", "master_weights", "optimizers", "zero", "shards", "training", "activations")
PARTS = ("weights", "gradients", "optimizer")
RECOMPUTE = ("none", "selective", "full")
ZERO_STAGES = (0, 1, 2, 3)


@dataclass(frozen=True)
class KVCache:
    name: str
    cores: tuple  # formula names whose layers cache this way
    elements: sympy.Expr  # per position per layer (per_position), or per layer (state)
    description: str
    reference: object
    kind: str = "per_position"  # per_position: grows with the keys held; state: fixed per layer
    held: str = "keys"  # positions held: the keys the layer attends to, or every position (DSA's top-k)


@dataclass(frozen=True)
class Optimizer:
    name: str
    states: int
    state_bits: int
    description: str
    reference: object

    def bytes_per_param(self, weight_bits, master):
        """ZeRO's K: state bytes per parameter, plus the fp32 master copy when kept."""
        master_bytes = sympy.Rational(master.bits, 8) if weight_bits < master.below_bits else 0
        return sympy.Rational(self.states * self.state_bits, 8) + master_bytes


@dataclass(frozen=True)
class Master:
    bits: int
    below_bits: int
    description: str
    reference: object


@dataclass(frozen=True)
class Activation:
    recompute: str
    sequence_parallel: bool
    bytes: sympy.Expr  # per layer
    reference: object


@dataclass(frozen=True)
class ByteData:
    dtypes: object  # dtypes.DTypes
    kv_cache: tuple
    master: Master
    optimizers: dict
    zero: dict  # stage -> (partitioned parts, citation)
    shards: dict  # "replicated" / "partitioned" -> expression
    shards_note: tuple  # (description, citation)
    training: dict  # part -> expression in `shard`
    training_note: tuple
    layers_held: sympy.Expr
    layers_note: tuple
    activations: dict  # (recompute, sequence_parallel) -> Activation
    activations_omits: str
    activations_kinds: tuple  # layer kinds the per-layer constants model
    shard: sympy.Symbol  # the placeholder of `training`
    saved: object = None  # activations_data.SavedData: the `implementation` activation model's facts

    def dtype(self, name, field="dtype"):
        """The DType called `name` (canonical name or alias, case-insensitive)."""
        return self.dtypes.get(name, field)

    def optimizer(self, name):
        key = str(name).strip().lower()
        if key not in self.optimizers:
            raise UsageError(None, "optimizer",
                             f"unknown optimizer {name!r} (expected one of: {', '.join(self.optimizers)})")
        return self.optimizers[key]

    def cache_for(self, formula_name):
        """The cache entry of the layers that use formula `formula_name`, or None."""
        for entry in self.kv_cache:
            if formula_name in entry.cores:
                return entry
        return None


_LOADED = {}  # id(library) -> (library, ByteData); the library is kept so its id stays unique


def load_data(library=None):
    """The memory facts of the library's data root, checked against the library
    (default: the bundled one)."""
    from . import expr
    from .library import load_library, parse_memo
    library = library or load_library()
    cached = _LOADED.get(id(library))
    if cached is None or cached[0] is not library:
        with expr.memoized(parse_memo(library.root, "memory")):  # its formulas, kept from the last run
            cached = (library, _read(library))
        _LOADED[id(library)] = cached
    return cached[1]


def dtype(name, field="dtype", library=None):
    """The storage dtype called `name`: `dtype("bfloat16").bytes == 2`."""
    return load_data(library).dtype(name, field)


def _read(library):
    from .dtypes import load_dtypes
    root, refs = library.root, library.references
    names = {name: info.symbol for name, info in library.symbols.items()}
    shard = sympy.Symbol("shard", positive=True, integer=True)
    sections = {name: root.section(name) for name in MEMORY_SECTIONS if name != "kv_cache"}

    def mapping(name):
        path, value = sections[name]
        return Entry(path, name, value)

    def listed(name):
        path, value = sections[name]
        return section_entries(path, name, value)

    kv = []
    # the caches of other mixers may sit beside their formulas: every file's kv_cache counts
    cache_entries = [entry for path, value in root.sections("kv_cache") for entry in section_entries(path, "kv_cache", value)]
    for entry in cache_entries:
        cores = entry.texts("cores")
        for core in cores:
            if core not in library.formulas:
                entry.fail("cores", f"unknown formula {core!r}")
        kv.append(KVCache(entry.text("name"), cores, entry.expression("elements", names),
                          entry.text("description"), entry.citation("reference", refs),
                          entry.choice("kind", ("per_position", "state"), "per_position"),
                          entry.choice("held", ("keys", "all"), "keys")))
        entry.done()
    m = mapping("master_weights")
    master = Master(m.integer("bits", minimum=1), m.integer("below_bits", minimum=1), m.text("description"),
                    m.citation("reference", refs))
    m.done()
    optimizers = {}
    for entry in listed("optimizers"):
        name = entry.text("name")
        optimizers[name] = Optimizer(name, entry.integer("states", minimum=0), entry.integer("state_bits", minimum=1),
                                     entry.text("description"), entry.citation("reference", refs))
        entry.done()
    zero = {}
    for entry in listed("zero"):
        parts = entry.texts("partitioned", ())
        if set(parts) - set(PARTS):
            entry.fail("partitioned", f"expected some of {', '.join(PARTS)}")
        zero[entry.integer("stage", minimum=0)] = (parts, entry.citation("reference", refs))
        entry.done()
    if tuple(sorted(zero)) != ZERO_STAGES:
        raise FormulaError(sections["zero"][0], "zero", f"expected stages {ZERO_STAGES}")
    s = mapping("shards")
    shards = {k: s.expression(k, names) for k in ("replicated", "partitioned")}
    shards_note = (s.text("description"), s.citation("reference", refs))
    s.done()
    t = mapping("training")
    training = {k: t.expression(k, {**names, "shard": shard}) for k in PARTS}
    training_note = (t.text("description"), t.citation("reference", refs))
    t.done()
    a = mapping("activations")
    activations = {}
    for entry in a.entries("per_layer"):
        mode, parallel = entry.choice("recompute", RECOMPUTE), entry.flag("sequence_parallel")
        activations[(mode, parallel)] = Activation(mode, parallel, entry.expression("bytes", names),
                                                   entry.citation("reference", refs))
        entry.done()
    missing = [(r, sp) for r in RECOMPUTE for sp in (False, True) if (r, sp) not in activations]
    if missing:
        a.fail("per_layer", f"no entry for {missing[0]}")
    data = ByteData(
        dtypes=load_dtypes(root), kv_cache=tuple(kv), master=master, optimizers=optimizers, zero=zero,
        shards=shards, shards_note=shards_note, training=training, training_note=training_note,
        layers_held=a.expression("layers_held", names),
        layers_note=(a.text("layers_description"), a.citation("layers_reference", refs)),
        activations=activations, activations_omits=a.text("omits"), shard=shard,
        activations_kinds=tuple(a.texts("applies_to")), saved=activations_data.read(library))
    a.done()
    return data
