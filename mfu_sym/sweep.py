"""Fast sweeps: a model's expressions compiled once to numpy, evaluated over many
configurations in chunks, exactly, in constant memory.

The run's sizes (seq_len, batch) are plain variables of the closed forms. An
architecture size is not: changing n_layers changes how many layers slide or route, and
changing d_model changes a default head width. So each distinct architecture of the
grid is read again from the model file with that size (loader.ModelSource.rebuild),
validated as loading would, and the points are grouped by the terms their model has;
each group is compiled once (compiled.py: exact int64, Python integers only for the
elements past it). The grid is then walked in chunks of rows, in its own order, so a
sweep of 10^7 points never holds more than a chunk.
"""

from math import prod

import numpy as np

from .errors import MfuSymError, UsageError
from .compiled import Compiled, Wide

MAX_POINTS = 10**7  # rows of a grid, and values of one name (streamed: memory does not grow with rows)
CHUNK = 65536  # rows evaluated (and written) at a time
MAX_ARCHITECTURES = 100_000  # distinct architectures a sweep re-reads (each is validated)
RUN = ("seq_len", "batch")
_PER_SEQUENCE = "training_per_sequence"  # evaluated for training_per_token, not a column
# symbols that are counted from the layer pattern, not set in a file
DERIVED = {"n_window_layers": "the number of sliding-window layers", "n_moe_layers": "the number of MoE layers"}


def parse_values(text, name):
    """'1024', '512,1024,2048' or 'START:STOP[:STEP]' (STOP included, as users expect of a
    sweep) into a sequence of positive integers (a range stays a range). The count is
    checked before anything is built."""
    text = str(text).strip()
    usage = (f"{text!r} is not a list (1,2,4) or a range (START:STOP[:STEP]) of integers"
             if len(text) < 80 else "not a list (1,2,4) or a range (START:STOP[:STEP]) of integers")
    parts = text.split(":") if ":" in text else text.split(",")
    if len(text) > 100_000 or any(len(p.strip()) > 20 for p in parts):
        raise UsageError(None, name, usage + " (numbers of at most 20 digits)")
    try:
        numbers = [int(p) for p in parts if p.strip() or ":" in text]
    except ValueError:
        raise UsageError(None, name, usage) from None
    if ":" in text:
        if len(numbers) not in (2, 3):
            raise UsageError(None, name, usage)
        start, stop = numbers[0], numbers[1]
        step = numbers[2] if len(numbers) == 3 else 1
        if step <= 0:
            raise UsageError(None, name, f"{text!r}: the step must be positive")
        if stop < start:
            raise UsageError(None, name, f"{text!r}: STOP is below START")
        count = (stop - start) // step + 1
        if count > MAX_POINTS:
            raise UsageError(None, name, f"{text!r} has {count:,} values (at most {MAX_POINTS:,})")
        values = range(start, stop + 1, step)
    else:
        values = numbers
    if not values:
        raise UsageError(None, name, "no values")
    if min(values) <= 0:
        raise UsageError(None, name, f"{text!r}: every value must be a positive integer")
    if len(values) > MAX_POINTS:
        raise UsageError(None, name, f"{len(values):,} values (at most {MAX_POINTS:,})")
    if max(values) >= 2**62:
        raise UsageError(None, name, f"{max(values)} is too large (at most {2**62 - 1:,})")
    return values


def sweepable(model):
    """The names a sweep of `model` may vary: the run's sizes, and every architecture
    size its expressions use that its model file sets."""
    used = (model.params() + model.training()).free_symbols
    names = [s.name for s in sorted(used, key=lambda s: s.name) if s.name not in RUN]
    origin = model.arch.origin
    return list(RUN) + [n for n in names if n not in DERIVED and origin is not None and origin.key_of(n)]


class Sweep:
    """A grid over a model, checked and compiled: `columns`, `total` rows, and `chunks()`
    of them in the grid's order (the last name varies fastest), each {column: array}.
    Counts are int64 arrays, or object arrays of exact Python integers where a value
    passes int64; `training_per_token` is the one float column, a ratio correctly
    rounded from the exact counts. `documents` (a pack: documents.parse) packs every
    sequence of seq_len tokens with those documents: each count is summed over them,
    exactly, and per-token figures are per real token."""

    def __init__(self, model, grid, components=True, documents=None):
        self.model = model
        self.grid = {name: values if isinstance(values, range) else list(values) for name, values in grid.items()}
        self.packed = _pack(documents)
        self.names = list(grid)
        _check_names(model, self.names)
        for name, values in self.grid.items():
            _check_values(name, values)
        self.shape = [len(self.grid[n]) for n in self.names]
        self.total = prod(self.shape)
        if self.total > MAX_POINTS:
            raise UsageError(None, "grid", f"{self.total:,} points (at most {MAX_POINTS:,})")
        self.arch_names = [n for n in self.names if n not in RUN]
        arch_shape = [len(self.grid[n]) for n in self.arch_names]
        if prod(arch_shape) > MAX_ARCHITECTURES:
            raise UsageError(None, "grid", f"{prod(arch_shape):,} architectures (at most {MAX_ARCHITECTURES:,}; "
                                           "seq_len and batch may take millions of values)")
        self.fixed = {}
        if "seq_len" not in self.grid:
            self.fixed["seq_len"] = model.run_length(None, context_ok=True)[0]
        if "batch" not in self.grid:
            self.fixed["batch"] = model.arch.batch
        if self.packed is not None:
            shortest = min(self.grid["seq_len"]) if "seq_len" in self.grid else self.fixed["seq_len"]
            if shortest < self.packed.tokens(0):
                raise UsageError(None, "documents", f"the documents hold {self.packed.tokens(0):,} tokens, more "
                                                    f"than the sequence length {shortest:,} they are packed into")
        self.values = {n: np.arange(v.start, v.stop, v.step, dtype=np.int64) if isinstance(v, range)
                       else np.asarray(v, dtype=np.int64) for n, v in self.grid.items()}
        self.groups, self.group_of = _groups(model, self.grid, self.arch_names, arch_shape)
        outputs = {}
        for group in self.groups:
            group.compile(components, self.packed)
            outputs.update(dict.fromkeys(group.compiled))
        outputs.pop(_PER_SEQUENCE)
        from .library import COMPONENTS
        counts = ["params", "training_per_step", "forward_per_step"]
        if "hardware_training_per_step" in outputs:
            counts.append("hardware_training_per_step")
        self.counts = counts + [f"training_per_step.{c}" for c in COMPONENTS if f"training_per_step.{c}" in outputs]
        self.columns = self.names + counts + ["training_per_token"] + self.counts[len(counts):]

    def bound(self, column):
        """An upper bound on every value of a count column over the whole grid (from the
        grid's corner: the inputs are positive)."""
        if column in self.names:
            return max(self.grid[column])
        maxima = {n: max(v) for n, v in self.grid.items()}
        return max(group.bound(column, maxima, self.fixed) for group in self.groups)

    def chunks(self, size=CHUNK):
        for start in range(0, self.total, size):
            yield self._chunk(np.arange(start, min(start + size, self.total), dtype=np.int64))

    def table(self):
        """Every row at once, {column: array} (Python integers past int64): for a library
        caller's grid."""
        parts = list(self.chunks())
        return {c: _concatenate([p[c] for p in parts]) for c in self.columns}

    def _chunk(self, rows):
        index = np.unravel_index(rows, self.shape) if self.names else ()
        table = {n: self.values[n][index[i]] for i, n in enumerate(self.names)}
        run = {n: table[n] if n in table else np.full(len(rows), self.fixed[n], dtype=np.int64) for n in RUN}
        arch = (np.ravel_multi_index([index[self.names.index(n)] for n in self.arch_names],
                                     [len(self.grid[n]) for n in self.arch_names])
                if self.arch_names else np.zeros(len(rows), dtype=np.int64))
        if len(self.groups) == 1:
            counts = self.groups[0].evaluate(run, arch, slice(None))
        else:  # architectures of several groups: one array per column
            group_of, counts = self.group_of[arch], {}
            for number, group in enumerate(self.groups):
                where = np.flatnonzero(group_of == number)
                for column, value in group.evaluate(run, arch, where).items():
                    value = value.to_object() if isinstance(value, Wide) else value
                    if column not in counts:
                        counts[column] = np.zeros(len(rows), dtype=np.int64)
                    if value.dtype == object and counts[column].dtype != object:
                        counts[column] = counts[column].astype(object)
                    counts[column][where] = value
        for column in self.counts:
            table[column] = counts.get(column, np.zeros(len(rows), dtype=np.int64))
        tokens = run["seq_len"] if self.packed is None else np.full(len(rows), self.packed.tokens(0), np.int64)
        # per-token values repeat across batch: one division for each (architecture, seq_len)
        which = arch * len(self.grid.get("seq_len", (0,))) + (index[self.names.index("seq_len")]
                                                              if "seq_len" in self.names else 0)
        table["training_per_token"] = _ratio(counts[_PER_SEQUENCE], tokens, which)
        return {c: table[c] for c in self.columns}


def sweep(model, grid, components=True, documents=None):
    """Rows of a sweep: `grid` maps names (seq_len, batch, d_model, n_layers, ...) to
    lists of values; every combination is evaluated, in the order of `grid` (the last
    name varies fastest). Returns {column: array} (see Sweep, which streams them)."""
    return Sweep(model, grid, components, documents).table()


def _check_names(model, names):
    allowed = sweepable(model)
    for name in names:
        if name not in allowed:
            if name in DERIVED:
                raise UsageError(None, name, f"is {DERIVED[name]}, derived from n_layers and the layer pattern "
                                             "(sweep n_layers)")
            raise UsageError(None, name, f"not a size of this model that a sweep can change (expected one of "
                                         f"{', '.join(allowed)})")


def _check_values(name, values):
    """A library caller's grid: positive integers below 2**62, at least one."""
    if not len(values):
        raise UsageError(None, name, "no values")
    if isinstance(values, range):
        values = (values[0], values[-1])
    for value in values:
        if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
            raise UsageError(None, name, f"{value!r} is not an integer")
        if not 0 < value < 2**62:
            raise UsageError(None, name, f"{value!r} is out of range (a positive integer below 2**62)")


def _concatenate(arrays):
    arrays = [a.to_object() if isinstance(a, Wide) else a for a in arrays]
    if any(a.dtype == object for a in arrays):
        arrays = [a.astype(object) for a in arrays]
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)


def _ratio(per_sequence, tokens, which):
    """per_sequence / tokens as float64, correctly rounded. Both under 2**53 divide
    exactly rounded in float64; otherwise each distinct pair (`which` numbers them) is
    divided once in Python, int / int being correctly rounded."""
    if isinstance(per_sequence, np.ndarray) and per_sequence.dtype == np.int64 \
            and (per_sequence.size == 0 or per_sequence.max() < 2**53) and (tokens.size == 0 or tokens.max() < 2**53):
        return per_sequence.astype(np.float64) / tokens.astype(np.float64)
    _, first, inverse = np.unique(which, return_index=True, return_inverse=True)
    if isinstance(per_sequence, Wide):
        per_sequence = per_sequence[first].to_object()
    else:
        per_sequence = per_sequence[first]
    ratios = [p / t for p, t in zip(per_sequence.tolist(), tokens[first].tolist())]
    return np.array(ratios, dtype=np.float64)[inverse.reshape(-1)]


class _Group:
    """Architectures of the grid whose models have the same terms: one Model, its
    expressions compiled once, and each architecture's symbol values."""

    def __init__(self, model):
        self.model = model
        self.symbols = sorted({s for s in (model.params() + model.training()).free_symbols if s.name not in RUN},
                              key=lambda s: s.name)
        self.rows = []  # each architecture's symbol values, in order of first appearance

    def add(self, values):
        self.rows.append([values[s.name] for s in self.symbols])
        return len(self.rows) - 1

    def compile(self, components, packed):
        model = self.model
        self.table = np.asarray(self.rows, dtype=np.int64).reshape(len(self.rows), len(self.symbols))
        variables = [model.seq_len, model.batch] + self.symbols

        def compiled(expression):
            if packed is not None and expression.has(model.seq_len):
                expression = sum((count * expression.xreplace({model.seq_len: length})
                                  for length, count in packed.lengths), 0)
            return Compiled(expression, variables)

        batch = model.batch
        self.compiled = {"params": compiled(model.params()),
                         "training_per_step": compiled(batch * model.training()),
                         "forward_per_step": compiled(batch * model.forward())}
        if model.conventions.recompute != "none":  # hardware FLOPs (HFU): with recomputation
            self.compiled["hardware_training_per_step"] = compiled(batch * model.hardware_training())
        if components:
            for name in model.components:
                self.compiled[f"training_per_step.{name}"] = compiled(batch * model.training(name))
        self.compiled[_PER_SEQUENCE] = compiled(model.training())  # for training_per_token

    def evaluate(self, run, arch, where):
        """{column: int64 array, Wide or object array} at the rows `where` of a chunk."""
        local = self.local[arch[where]]
        inputs = [run["seq_len"][where], run["batch"][where]] + [self.table[local, i] for i in range(len(self.symbols))]
        corner = [int(a.max()) if a.size else 1 for a in inputs]  # every input is positive: the grid is checked
        return {column: f.checked(inputs, corner) for column, f in self.compiled.items()}

    def bound(self, column, maxima, fixed):
        if column not in self.compiled:
            return 0
        corner = [maxima.get(n, fixed.get(n)) for n in RUN] + [int(self.table[:, i].max())
                                                              for i in range(len(self.symbols))]
        return self.compiled[column].bound(corner)


def _groups(model, grid, arch_names, arch_shape):
    """The grid's architectures, each read again from its file, grouped by the terms their
    models have: ([_Group, ...], group number of each architecture)."""
    from .compose import compose
    from .model import Model
    architectures = prod(arch_shape)
    if not arch_names:
        group = _Group(model)
        group.local = np.array([group.add(model.arch.values())], dtype=np.int64)
        return [group], np.zeros(1, dtype=np.int64)
    origin = model.arch.origin
    groups, group_of, local = {}, np.empty(architectures, dtype=np.int64), np.empty(architectures, dtype=np.int64)
    index = np.indices(arch_shape).reshape(len(arch_shape), -1)
    for point in range(architectures):
        sizes = {n: grid[n][index[i, point]] for i, n in enumerate(arch_names)}
        try:
            arch = origin.rebuild(sizes)
        except MfuSymError as exc:
            where = ", ".join(f"{k} {v}" for k, v in sizes.items())
            raise UsageError(exc.source, exc.field, f"{exc.message} (at {where})") from None
        terms = tuple((t.formula.name, t.count, t.mask.name if t.mask else None, t.kind, t.flops)
                      for t in compose(arch, model.library, model.conventions))
        values = arch.values()
        key = (terms, tuple(sorted(values)))
        if key not in groups:
            groups[key] = (len(groups), _Group(Model(arch, model.conventions, model.library)))
        group_of[point], group = groups[key]
        local[point] = group.add(values)
    groups = [group for _, group in groups.values()]
    for number, group in enumerate(groups):
        group.local = np.where(group_of == number, local, 0)
    return groups, group_of


def _pack(documents):
    """The Documents of a sweep: a pack (exact integers); a file of lengths or a
    distribution gives expectations (fractions, reals), which a sweep's integer columns
    cannot hold."""
    if documents is None:
        return None
    from .documents import parse
    packed = parse(documents)
    if packed.kind != "pack":
        raise UsageError(None, "documents", "a sweep takes the documents of a pack (lengths such as 1024,3072): a "
                                            "file of lengths or a distribution gives expectations, not the exact "
                                            "integers a sweep's columns hold (use derive)")
    return packed
