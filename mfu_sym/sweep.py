"""Fast sweeps: a model's expressions compiled once to numpy, evaluated over many
configurations at once, exactly.

The run's sizes (seq_len, batch) are plain variables of the closed forms. An
architecture size is not: changing n_layers changes how many layers slide or route, and
changing d_model changes a default head width. So each distinct architecture of the
grid is read again from the model file with that size (loader.ModelSource.rebuild),
validated as loading would, and the points are grouped by the terms their model has;
each group is compiled once (compiled.py: exact int64, Python integers past it) and
evaluated over all its points.
"""

from math import prod

import numpy as np

from .errors import MfuSymError, UsageError
from .compiled import Compiled

MAX_POINTS = 10**7
MAX_ARCHITECTURES = 100_000  # distinct architectures a sweep re-reads (each is validated)
RUN = ("seq_len", "batch")
# symbols that are counted from the layer pattern, not set in a file
DERIVED = {"n_window_layers": "the number of sliding-window layers", "n_moe_layers": "the number of MoE layers"}


def parse_values(text, name):
    """'1024', '512,1024,2048' or 'START:STOP[:STEP]' (STOP included, as users expect of a
    sweep) into a list of positive integers. The count is checked before anything is built."""
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
    return list(values)


def sweepable(model):
    """The names a sweep of `model` may vary: the run's sizes, and every architecture
    size its expressions use that its model file sets."""
    used = (model.params() + model.training()).free_symbols
    names = [s.name for s in sorted(used, key=lambda s: s.name) if s.name not in RUN]
    origin = model.arch.origin
    return list(RUN) + [n for n in names if n not in DERIVED and origin is not None and origin.key_of(n)]


def sweep(model, grid, components=True, documents=None):
    """Rows of a sweep: `grid` maps names (seq_len, batch, d_model, n_layers, ...) to
    lists of values; every combination is evaluated, in the order of `grid` (the last
    name varies fastest). Returns {column: array}. `documents` (a pack: documents.parse)
    packs every sequence of seq_len tokens with those documents: each count is summed over
    them, exactly, and per-token figures are per real token."""
    packed = _pack(documents)
    names = list(grid)
    allowed = sweepable(model)
    for name in names:
        if name not in allowed:
            if name in DERIVED:
                raise UsageError(None, name, f"is {DERIVED[name]}, derived from n_layers and the layer pattern "
                                             "(sweep n_layers)")
            raise UsageError(None, name, f"not a size of this model that a sweep can change (expected one of "
                                         f"{', '.join(allowed)})")
    total = prod(len(v) for v in grid.values())
    if total > MAX_POINTS:
        raise UsageError(None, "grid", f"{total:,} points (at most {MAX_POINTS:,})")
    arch_names = [n for n in names if n not in RUN]
    run_names = [n for n in names if n in RUN]
    arch_shape = [len(grid[n]) for n in arch_names]
    if prod(arch_shape) > MAX_ARCHITECTURES:
        raise UsageError(None, "grid", f"{prod(arch_shape):,} architectures (at most {MAX_ARCHITECTURES:,}; "
                                       "seq_len and batch may take millions of values)")
    run_index = _index([len(grid[n]) for n in run_names])
    run = {n: np.asarray(grid[n], dtype=np.int64)[run_index[i]] for i, n in enumerate(run_names)}
    width = run_index.shape[1]
    if "seq_len" not in run:
        run["seq_len"] = np.full(width, model.run_length(None, context_ok=True)[0], dtype=np.int64)
    if "batch" not in run:
        run["batch"] = np.full(width, model.arch.batch, dtype=np.int64)
    if packed is not None and run["seq_len"].min(initial=packed.tokens(0)) < packed.tokens(0):
        raise UsageError(None, "documents", f"the documents hold {packed.tokens(0):,} tokens, more than the "
                                            f"sequence length {int(run['seq_len'].min()):,} they are packed into")
    arch_index = _index(arch_shape)

    columns = {n: np.empty(total, dtype=np.int64) for n in names}
    outputs = {}
    for group, points in _groups(model, grid, arch_names, arch_index):
        rows = np.array([p for p, _ in points], dtype=np.int64)
        flat = _flat_index(names, arch_names, run_names, grid, arch_index[:, rows], run_index)
        for name in names:
            if name in arch_names:
                values = arch_index[arch_names.index(name), rows]
                columns[name][flat] = np.asarray(grid[name], dtype=np.int64)[values][:, None]
            else:
                columns[name][flat] = run[name][None, :]
        for key, value in _evaluate(group, [v for _, v in points], run, components, packed).items():
            if key not in outputs:
                outputs[key] = np.zeros(total, dtype=np.int64)
            if value.dtype == object and outputs[key].dtype != object:
                outputs[key] = outputs[key].astype(object)
            outputs[key][flat] = value
    seq_len = columns["seq_len"] if "seq_len" in columns else np.full(total, run["seq_len"][0])
    if packed is not None:  # per real token
        seq_len = np.full(total, packed.tokens(0), dtype=np.int64)
    batch = columns["batch"] if "batch" in columns else np.full(total, run["batch"][0])
    training = outputs.pop("training_per_step")
    ordered = {"params": outputs.pop("params"), "training_per_step": training,
               "forward_per_step": outputs.pop("forward_per_step"),
               **({"hardware_training_per_step": outputs.pop("hardware_training_per_step")}
                  if "hardware_training_per_step" in outputs else {}),
               # a ratio, the one float column (exact counts are in the other columns)
               "training_per_token": np.asarray([float(t / (s * b)) for t, s, b in
                                                 zip(training.tolist(), seq_len.tolist(), batch.tolist())])
               if training.dtype == object else training / (seq_len * batch)}
    if components:
        from .library import COMPONENTS
        for name in COMPONENTS:
            if f"training_per_step.{name}" in outputs:
                ordered[f"training_per_step.{name}"] = outputs[f"training_per_step.{name}"]
    return {**columns, **ordered}


def _index(shape):
    """Every multi-index of `shape`, as an array (dimensions, points), last fastest."""
    if not shape:
        return np.zeros((0, 1), dtype=np.int64)
    return np.indices(shape).reshape(len(shape), -1)


def _groups(model, grid, arch_names, arch_index):
    """[(Model, [(point, {symbol name: value}), ...]), ...]: the grid's architectures, each
    read again from its file, grouped by the terms their models have."""
    from .compose import compose
    from .model import Model
    if not arch_names:
        return [(model, [(0, model.arch.values())])]
    origin = model.arch.origin
    groups = {}
    for point in range(arch_index.shape[1]):
        sizes = {n: grid[n][arch_index[i, point]] for i, n in enumerate(arch_names)}
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
            groups[key] = (Model(arch, model.conventions, model.library), [])
        groups[key][1].append((point, values))
    return list(groups.values())


def _flat_index(names, arch_names, run_names, grid, arch_index, run_index):
    """Positions in the grid (in `names` order) of every (architecture, run point) pair:
    an array of shape (architectures, run points)."""
    shape = (arch_index.shape[1], run_index.shape[1])
    parts = [np.broadcast_to(arch_index[arch_names.index(n)][:, None] if n in arch_names
                             else run_index[run_names.index(n)][None, :], shape) for n in names]
    if not names:
        return np.zeros(shape, dtype=np.int64)
    return np.ravel_multi_index(parts, [len(grid[n]) for n in names])


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


def _evaluate(model, values, run, components, packed=None):
    """One group's outputs: arrays of shape (architectures, run points). With a pack of
    documents, each per-sequence count is summed over its documents (seq_len is then the
    pack's length, which only bounds them)."""
    symbols = sorted({s for s in (model.params() + model.training()).free_symbols if s.name not in RUN},
                     key=lambda s: s.name)
    variables = [model.seq_len, model.batch] + symbols
    arrays = [run["seq_len"][None, :], run["batch"][None, :]]
    arrays += [np.asarray([v[s.name] for v in values], dtype=np.int64)[:, None] for s in symbols]
    shape = (len(values), run["seq_len"].shape[0])

    def evaluate(expression):
        if packed is not None and expression.has(model.seq_len):
            expression = sum((count * expression.xreplace({model.seq_len: length})
                              for length, count in packed.lengths), 0)
        return np.broadcast_to(Compiled(expression, variables)(*arrays), shape)

    batch = model.batch
    table = {"params": evaluate(model.params()),
             "training_per_step": evaluate(batch * model.training()),
             "forward_per_step": evaluate(batch * model.forward())}
    if model.conventions.recompute != "none":  # hardware FLOPs (HFU): with recomputation
        table["hardware_training_per_step"] = evaluate(batch * model.hardware_training())
    if components:
        for name in model.components:
            table[f"training_per_step.{name}"] = evaluate(batch * model.training(name))
    return table
