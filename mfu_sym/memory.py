"""Training memory per device: weights, gradients, optimizer states and activations.

The facts are data (formulas/memory.yaml and formulas/dtypes.yaml, read by memory_data.py
and dtypes.py): storage widths, optimizer states, ZeRO stages, and Korthikanti et al.'s
activation memory (arXiv:2205.05198 §4-5, Table 2). This module composes training memory
per device as sympy expressions over the model's symbols:

    weights      weight_bits / 8 * shard(weights)
    gradients    grad_bits / 8   * shard(gradients)
    optimizer    K               * shard(optimizer)     K = states * state_bits / 8 (+ 4 master)
    activations  layers_held * per-layer bytes (recompute mode, tp, sequence parallelism)

where shard(x) is ceiling(N / (tp * pp)), or ceiling(N / (tp * pp * dp)) when the ZeRO
stage partitions x. With bf16 and Adam that is ZeRO's 16 bytes per parameter.

    >>> m = TrainingMemory(mfu_sym.load("examples/llama3_8b.yaml"), optimizer="adam")
    >>> m.report(seq_len=4096, batch=1)["total"]      # exact bytes per device
"""


import sympy

from .errors import FormulaError, UsageError
from .expr import to_sympy

from .memory_data import PARTS, ZERO_STAGES, load_data


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
        # layer kinds the per-layer activation constants do not model (state-space, linear attention)
        from . import stack
        present = [kind for part in ("mixer", "ffn") for kind in stack.counts(arch.layers, part) if kind != "none"]
        self.unmodelled = tuple(k for k in dict.fromkeys(present) if k not in self.data.activations_kinds)

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
        if not self.unmodelled:
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
        for name in PARTS + (() if self.unmodelled else ("activations",)):
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
            "activations_per_layer": None if self.unmodelled else act.bytes.xreplace(values),
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
        if self.unmodelled:
            report["activations_not_modelled"] = (
                f"{', '.join(self.unmodelled)} layers: the per-layer activation constants (Korthikanti et al. "
                "2022) model attention and MLP layers only, so no activation figure is given and the total is "
                "weights, gradients and optimizer states alone (a lower bound)")
            report["assumptions"].insert(0, report["activations_not_modelled"])
        if device is not None:
            capacity = device.memory_bytes
            report["device"] = {"key": device.key, "name": device.name, "memory_bytes": capacity,
                                                "fraction_used": float(sympy.Rational(total, capacity)),
                                "fits": bool(total <= capacity)}
        return report
