"""Bytes: dtype sizes, KV-cache elements, and training memory per device.

The facts and formulas live in `memory.yaml` (beside this module; its header documents
the format): dtype widths with their sources, the elements a layer caches per position,
optimizer states, ZeRO stages, and Korthikanti et al.'s activation memory (arXiv:2205.05198
§4-5, Table 2). This module loads and checks them, and composes training memory per
device as sympy expressions over the model's symbols:

    weights      weight_bits / 8 * shard(weights)
    gradients    grad_bits / 8   * shard(gradients)
    optimizer    K               * shard(optimizer)     K = states * state_bits / 8 (+ 4 master)
    activations  layers_held * per-layer bytes (recompute mode, tp, sequence parallelism)

where shard(x) is ceiling(N / (tp * pp)), or ceiling(N / (tp * pp * dp)) when the ZeRO
stage partitions x. With bf16 and Adam that is ZeRO's 16 bytes per parameter.

    >>> m = TrainingMemory(mfu_sym.load("examples/llama3_8b.yaml"), optimizer="adam")
    >>> m.report(seq_len=4096, batch=1)["total"]      # exact bytes per device
"""

from dataclasses import dataclass

import sympy

from . import expr
from .errors import FormulaError, UsageError
from .expr import to_sympy

MEMORY_SECTIONS = ("dtypes", "kv_cache", "master_weights", "optimizers", "zero", "shards", "training", "activations")
PARTS = ("weights", "gradients", "optimizer")
RECOMPUTE = ("none", "selective", "full")
ZERO_STAGES = (0, 1, 2, 3)


# ------------------------------------------------------------------ data

@dataclass(frozen=True)
class DType:
    name: str
    bits: int
    aliases: tuple
    description: str
    reference: object  # library.Citation

    @property
    def bytes(self):
        """Bytes per element, exact (1/2 for 4-bit formats)."""
        return sympy.Rational(self.bits, 8)


@dataclass(frozen=True)
class KVCache:
    name: str
    cores: tuple  # attention-core formula names whose layers cache this way
    elements: sympy.Expr  # per position per layer
    description: str
    reference: object


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
    dtypes: dict
    aliases: dict  # spelling -> canonical name
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
    shard: sympy.Symbol  # the placeholder of `training`

    def dtype(self, name, field="dtype"):
        """The DType called `name` (canonical name or alias, case-insensitive)."""
        key = str(name).strip().lower()
        key = self.aliases.get(key, key)
        if key not in self.dtypes:
            raise UsageError(None, field, f"unknown dtype {name!r} (expected one of: {', '.join(self.dtypes)})")
        return self.dtypes[key]

    def optimizer(self, name):
        key = str(name).strip().lower()
        if key not in self.optimizers:
            raise UsageError(None, "optimizer",
                             f"unknown optimizer {name!r} (expected one of: {', '.join(self.optimizers)})")
        return self.optimizers[key]

    def kv_for_core(self, core_name):
        for entry in self.kv_cache:
            if core_name in entry.cores:
                return entry
        raise FormulaError(None, "kv_cache", f"no entry caches the layers of attention core {core_name!r}")


_LOADED = {}  # id(library) -> (library, ByteData); the library is kept so its id stays unique


def load_data(library=None):
    """The memory sections of the data root (formulas/memory.yaml), checked against
    `library` (default: the bundled formula library) and read from its data root."""
    from .library import load_library
    library = library or load_library()
    cached = _LOADED.get(id(library))
    if cached is None or cached[0] is not library:
        sections = {name: library.root.section(name) for name in MEMORY_SECTIONS}
        paths = {path for path, _ in sections.values()}
        path = paths.pop() if len(paths) == 1 else "formulas"
        cached = (library, _Reader(path, library).load({k: v for k, (_, v) in sections.items()}))
        _LOADED[id(library)] = cached
    return cached[1]


class _Reader:
    def __init__(self, path, library):
        self.path = path
        self.library = library
        self.shard = sympy.Symbol("shard", positive=True, integer=True)
        self.names = {name: info.symbol for name, info in library.symbols.items()}

    def fail(self, where, message):
        raise FormulaError(self.path, where, message)

    def section(self, data, key, kind):
        value = data.get(key)
        if not isinstance(value, kind):
            self.fail(key, f"missing or not a {'list' if kind is list else 'mapping'}")
        return value

    def text(self, entry, key, where):
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{where}.{key}", "missing or empty (expected text)")
        return value

    def integer(self, entry, key, where, minimum=0):
        value = entry.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(f"{where}.{key}", f"{value!r} is not an integer >= {minimum}")
        return value

    def citation(self, ref, where):
        from .library import Citation
        if not isinstance(ref, dict) or "cite" not in ref or "where" not in ref:
            self.fail(where, "missing or malformed (expected {cite: KEY, where: section})")
        if ref["cite"] not in self.library.references:
            self.fail(f"{where}.cite", f"unknown reference {ref['cite']!r} (expected a key of references.yaml)")
        return Citation(str(ref["cite"]), str(ref["where"]))

    def expression(self, text, where, extra=None):
        return expr.parse(text, {**self.names, **(extra or {})}, source=self.path, field=where)

    def load(self, data):
        if not isinstance(data, dict):
            self.fail(None, "expected a mapping of sections")
        dtypes, aliases = {}, {}
        for i, entry in enumerate(self.section(data, "dtypes", list)):
            where = f"dtypes[{i}]"
            name = self.text(entry, "name", where)
            dtype = DType(name, self.integer(entry, "bits", where, 1), tuple(entry.get("aliases") or ()),
                          self.text(entry, "description", where), self.citation(entry.get("reference"), where))
            for spelling in (name,) + dtype.aliases:
                if spelling in aliases:
                    self.fail(where, f"{spelling!r} names two dtypes")
                aliases[spelling] = name
            dtypes[name] = dtype
        kv = []
        for i, entry in enumerate(self.section(data, "kv_cache", list)):
            where = f"kv_cache[{i}]"
            cores = entry.get("cores")
            if not isinstance(cores, list) or not cores:
                self.fail(f"{where}.cores", "expected a list of attention-core formula names")
            for core in cores:
                if core not in self.library.formulas:
                    self.fail(f"{where}.cores", f"unknown formula {core!r}")
            kv.append(KVCache(self.text(entry, "name", where), tuple(cores),
                              self.expression(entry.get("elements"), f"{where}.elements"),
                              self.text(entry, "description", where),
                              self.citation(entry.get("reference"), where)))
        m = self.section(data, "master_weights", dict)
        master = Master(self.integer(m, "bits", "master_weights", 1),
                        self.integer(m, "below_bits", "master_weights", 1),
                        self.text(m, "description", "master_weights"),
                        self.citation(m.get("reference"), "master_weights"))
        optimizers = {}
        for i, entry in enumerate(self.section(data, "optimizers", list)):
            where = f"optimizers[{i}]"
            name = self.text(entry, "name", where)
            optimizers[name] = Optimizer(name, self.integer(entry, "states", where),
                                         self.integer(entry, "state_bits", where, 1),
                                         self.text(entry, "description", where),
                                         self.citation(entry.get("reference"), where))
        zero = {}
        for i, entry in enumerate(self.section(data, "zero", list)):
            where = f"zero[{i}]"
            stage = self.integer(entry, "stage", where)
            parts = tuple(entry.get("partitioned") or ())
            if set(parts) - set(PARTS):
                self.fail(f"{where}.partitioned", f"expected some of {', '.join(PARTS)}")
            zero[stage] = (parts, self.citation(entry.get("reference"), where))
        if tuple(sorted(zero)) != ZERO_STAGES:
            self.fail("zero", f"expected stages {ZERO_STAGES}")
        s = self.section(data, "shards", dict)
        shards = {k: self.expression(s.get(k), f"shards.{k}") for k in ("replicated", "partitioned")}
        t = self.section(data, "training", dict)
        training = {k: self.expression(t.get(k), f"training.{k}", {"shard": self.shard}) for k in PARTS}
        a = self.section(data, "activations", dict)
        activations = {}
        for i, entry in enumerate(self.section(a, "per_layer", list)):
            where = f"activations.per_layer[{i}]"
            mode = entry.get("recompute")
            if mode not in RECOMPUTE or not isinstance(entry.get("sequence_parallel"), bool):
                self.fail(where, f"expected recompute in {RECOMPUTE} and sequence_parallel true or false")
            activations[(mode, entry["sequence_parallel"])] = Activation(
                mode, entry["sequence_parallel"], self.expression(entry.get("bytes"), f"{where}.bytes"),
                self.citation(entry.get("reference"), where))
        missing = [(r, sp) for r in RECOMPUTE for sp in (False, True) if (r, sp) not in activations]
        if missing:
            self.fail("activations.per_layer", f"no entry for {missing[0]}")
        return ByteData(
            dtypes=dtypes, aliases=aliases, kv_cache=tuple(kv), master=master, optimizers=optimizers,
            zero=zero, shards=shards,
            shards_note=(self.text(s, "description", "shards"), self.citation(s.get("reference"), "shards")),
            training=training,
            training_note=(self.text(t, "description", "training"), self.citation(t.get("reference"), "training")),
            layers_held=self.expression(a.get("layers_held"), "activations.layers_held"),
            layers_note=(self.text(a, "layers_description", "activations"),
                         self.citation(a.get("layers_reference"), "activations.layers_reference")),
            activations=activations, activations_omits=self.text(a, "omits", "activations"), shard=self.shard)


def dtype(name, field="dtype", library=None):
    """The storage dtype called `name`: `dtype("bfloat16").bytes == 2`."""
    return load_data(library).dtype(name, field)


# ------------------------------------------------------------------ training memory

def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(None, name, f"{value!r} is not a positive integer")
    return value


class TrainingMemory:
    """Training memory per device of a Model: weights, gradients, optimizer states and
    activations, symbolic and exact. The recompute mode is the model's convention
    (`Conventions.recompute`); `batch` is the micro-batch one device runs."""

    def __init__(self, model, *, dtype="bf16", grad_dtype=None, optimizer="adam",
                 tp=1, pp=1, dp=1, zero=0, sequence_parallel=False):
        self.model = model
        self.data = load_data(model.library)
        self.weight_dtype = self.data.dtype(dtype, "dtype")
        self.grad_dtype = self.data.dtype(grad_dtype if grad_dtype is not None else dtype, "grad_dtype")
        self.optimizer = self.data.optimizer(optimizer)
        self.tp, self.pp, self.dp = (_positive_int(v, n) for v, n in ((tp, "tp"), (pp, "pp"), (dp, "dp")))
        if isinstance(zero, bool) or zero not in ZERO_STAGES:
            raise UsageError(None, "zero", f"{zero!r} (expected a ZeRO stage: 0, 1, 2 or 3)")
        self.zero = zero
        self.sequence_parallel = bool(sequence_parallel)
        arch = model.arch
        if arch.n_heads % self.tp:
            raise UsageError(None, "tp", f"tensor-parallel degree ({self.tp}) must divide n_heads ({arch.n_heads})")
        if self.pp > arch.n_layers:
            raise UsageError(None, "pp", f"pipeline-parallel degree ({self.pp}) exceeds n_layers ({arch.n_layers})")
        self.recompute = model.conventions.recompute
        sym = model.library.symbol
        self.symbols = {name: sym(name) for name in
                        ("n_params", "weight_bits", "grad_bits", "optimizer_bytes", "tp", "pp", "dp")}
        self.k = self.optimizer.bytes_per_param(self.weight_dtype.bits, self.data.master)

    # ---- symbolic -------------------------------------------------------------------
    def partitioned(self, part):
        return part in self.data.zero[self.zero][0]

    def formulas(self):
        """Bytes per device by part, over N (n_params) and the run's symbols: the compact
        form the CLI prints."""
        d = self.data
        out = {}
        for part in PARTS:
            shard = d.shards["partitioned" if self.partitioned(part) else "replicated"]
            out[part] = d.training[part].xreplace({d.shard: shard})
        per_layer = d.activations[(self.recompute, self.sequence_parallel)].bytes
        out["activations"] = d.layers_held * per_layer
        out["total"] = sympy.Add(*out.values())
        return out

    def expressions(self):
        """The same with N replaced by the model's parameter count: sympy expressions over
        the architecture's symbols."""
        params = self.model.params()
        return {k: v.xreplace({self.symbols["n_params"]: params}) for k, v in self.formulas().items()}

    def run_values(self, seq_len=None, batch=None):
        values = dict(self.model.values)
        values.update(self.model.run_values(seq_len, batch))
        s = self.symbols
        values.update({s["tp"]: sympy.Integer(self.tp), s["pp"]: sympy.Integer(self.pp),
                       s["dp"]: sympy.Integer(self.dp),
                       s["weight_bits"]: sympy.Integer(self.weight_dtype.bits),
                       s["grad_bits"]: sympy.Integer(self.grad_dtype.bits),
                       s["optimizer_bytes"]: to_sympy(self.k),
                       s["n_params"]: self.model.params().xreplace(self.model.values)})
        return values

    # ---- numbers --------------------------------------------------------------------
    def report(self, seq_len=None, batch=None, device=None):
        """Exact bytes per device. Each part is rounded up to a whole byte (packed 4-bit
        weights, or a tensor-parallel split that does not divide) and says so."""
        values = self.run_values(seq_len, batch)
        formulas = self.formulas()
        parts, rounded = {}, []
        for name in PARTS + ("activations",):
            exact = formulas[name].xreplace(values)
            if not exact.is_Rational:
                raise FormulaError(None, name, f"did not evaluate to a number: {exact}")
            parts[name] = sympy.ceiling(exact)
            if parts[name] != exact:
                rounded.append(name)
        total = sum(parts.values(), sympy.Integer(0))
        d, model = self.data, self.model
        n_params = values[self.symbols["n_params"]]
        act = d.activations[(self.recompute, self.sequence_parallel)]
        report = {
            "model": model.arch.name,
            "run": {"seq_len": int(values[model.seq_len]), "micro_batch": int(values[model.batch]),
                    "tokens_per_micro_batch": int(values[model.seq_len] * values[model.batch])},
            "parallelism": {"tp": self.tp, "pp": self.pp, "dp": self.dp, "zero": self.zero,
                            "sequence_parallel": self.sequence_parallel, "devices": self.tp * self.pp * self.dp},
            "precision": {"weights": self.weight_dtype.name, "gradients": self.grad_dtype.name,
                          "optimizer": self.optimizer.name, "optimizer_bytes_per_param": self.k,
                          "master_weights": self.weight_dtype.bits < d.master.below_bits,
                          "bytes_per_param": (sympy.Rational(self.weight_dtype.bits + self.grad_dtype.bits, 8)
                                              + self.k)},
            "params": {"total": n_params,
                       "per_device": {p: d.shards["partitioned" if self.partitioned(p) else "replicated"]
                                      .xreplace(values) for p in PARTS}},
            "bytes": {**parts, "total": total},
            "rounded_up": rounded,
            "recompute": self.recompute,
            "layers_held": d.layers_held.xreplace(values),
            "activations_per_layer": act.bytes.xreplace(values),
            "formulas": {k: str(v) for k, v in formulas.items()},
            "references": {
                "weights_gradients_optimizer": str(d.training_note[1]),
                "optimizer": str(self.optimizer.reference),
                "master_weights": str(d.master.reference),
                "zero": str(d.zero[self.zero][1]),
                "shards": str(d.shards_note[1]),
                "activations": str(act.reference),
                "layers_held": str(d.layers_note[1]),
            },
            "assumptions": [d.shards_note[0].strip(), d.layers_note[0].strip(), d.activations_omits.strip(),
                            "Fixed overheads (CUDA context, allocator fragmentation, communication buffers) "
                            "are not counted."],
        }
        if device is not None:
            capacity = device.memory_bytes
            report["device"] = {"key": device.key, "name": device.name, "memory_bytes": capacity,
                                                "fraction_used": float(sympy.Rational(total, capacity)),
                                "fits": bool(total <= capacity)}
        return report
