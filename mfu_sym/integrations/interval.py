"""What the training-loop callbacks share, with no framework imported: the steps of a
logging interval, their tokens by padded length, and MFU / HFU over the interval.

The FLOPs per token come from `mfu_sym.MFUMeter` (compiled once; floats per step, no
sympy); the interval's MFU is its total model FLOPs over its total time:

    MFU = sum over micro-batches (tokens x model FLOPs per token at their padded length)
          / (seconds x devices x peak)

which, for steps of one sequence length, is exactly what `mfu-sym mfu MODEL --seq-len L
--gpus G --tokens-per-sec TOKENS/SECONDS` reports.
"""

import warnings

from ..errors import UsageError

TIMINGS = ("step", "wall")
KEYS = ("mfu", "hfu", "tflops_per_device")  # what the callbacks log


def _is_model(value):
    from ..model import Model
    return isinstance(value, Model)


class Interval:
    """MFU over the steps since the last flush, for a callback.

    `hardware`, `dtype`, `sparse`: the peak (validated at construction: an unknown name
    raises HardwareError here, not at the first log). `gpus`: the devices the run uses
    (None: the framework's world size, given to `bind`). `model`: a path, dict,
    PretrainedConfig or mfu_sym Model that replaces the trained model's own config
    (None: read the model's `config` in `bind`). `preset`, `formulas` and `switches`
    (mask=..., recompute=...): the counting conventions, as for `mfu_sym.load`.
    `timing`: "step" or "wall" (see mfu_sym.integrations)."""

    def __init__(self, hardware, dtype="bf16", *, gpus=None, preset=None, sparse=False, model=None,
                 timing="step", formulas=(), **switches):
        from ..conventions import Conventions
        from ..library import load_library
        from ..mfu import positive
        from ..peaks import choose_peak
        if timing not in TIMINGS:
            raise UsageError(None, "timing", f"{timing!r} (expected one of {', '.join(TIMINGS)})")
        if gpus is not None:
            positive(gpus, "gpus", integer=True)
        self.peak = choose_peak(hardware, dtype, sparse)
        self.library = load_library(formulas)
        self.preset = preset or "exact"
        self.formulas = formulas
        self.switches = switches
        # the conventions, checked now (an unknown preset or switch fails at construction)
        self.conventions = Conventions.from_preset(self.preset, root=self.library.root, **switches)
        self.source = model
        self.gpus = int(gpus) if gpus is not None else None
        self.timing = timing
        self.model = None
        self.meter = None
        self.history = []   # one entry per flush: the measured tokens and seconds with the values
        self._given = set()
        self._reset()
        self._step = None

    # ------------------------------------------------------------ set-up

    def bind(self, config=None, world_size=1, checkpointing=None, name="model"):
        """Load the model to count: this Interval's `model` if given, else `config` (the
        trained model's config; None when the model has none). `world_size` gives the
        devices when `gpus` was not. `checkpointing`: the recompute mode the framework
        runs ("full" when every decoder layer's forward runs again in the backward); HFU
        counts it unless a recompute was chosen (switch or preset). MFU never counts it."""
        from ..loader import load
        if self.gpus is None:
            self.gpus = int(world_size)
        source = self.source if self.source is not None else config
        if source is None:
            raise UsageError(name, "config", "the model has no config (expected a transformers model, whose "
                                             ".config mfu-sym reads; or pass model=PATH, a dict or a "
                                             "PretrainedConfig to MFUCallback)")
        if _is_model(source):
            self.model = source
            return self.model
        switches = dict(self.switches)
        if (checkpointing not in (None, "none") and "recompute" not in switches
                and getattr(self.conventions, "recompute", "none") == "none"):
            switches["recompute"] = checkpointing
        self.model = load(source, preset=self.preset, formulas=self.formulas, **switches)
        return self.model

    def _meter(self, seq_len):
        if self.meter is None:
            from ..mfu import MFUMeter
            if self.model is None:
                raise UsageError(None, "model", "no model bound (call bind first)")
            self.meter = MFUMeter(self.model, self.peak.device, dtype=self.peak.dtype, gpus=self.gpus,
                                  seq_len=seq_len, sparse=self.peak.sparse, registry=None)
        return self.meter

    # ------------------------------------------------------------ counting

    def _reset(self):
        self.steps = 0
        self.seconds = 0.0
        self.tokens = {}    # padded length -> tokens (rows x length) of the interval, this process

    def begin_step(self):
        """A new optimizer step: its micro-batches are counted until `end_step`."""
        self._step = {}

    @property
    def in_step(self):
        return self._step is not None

    def count(self, rows, length):
        """A micro-batch of `rows` sequences padded to `length` tokens (this process)."""
        if self._step is None:
            return
        self._step[length] = self._step.get(length, 0) + rows * length

    def end_step(self, seconds):
        """Close the step begun last, which took `seconds`; False when none was begun."""
        step, self._step = self._step, None
        if step is None:
            return False
        if not step:
            raise UsageError(None, "tokens", "the training step ran no forward with input_ids (expected a "
                                             "language model called with input_ids or inputs_embeds)")
        for length, tokens in step.items():
            self.tokens[length] = self.tokens.get(length, 0) + tokens
        self.seconds += seconds
        self.steps += 1
        return True

    # ------------------------------------------------------------ results

    def flush(self, step=None, reduce=None):
        """MFU, HFU and achieved TFLOP/s per device over the steps since the last flush,
        as {key: float} (empty when no step was completed); then start a new interval.
        `reduce(values, seconds)`, when several processes train, returns the sums of
        `values` (model FLOPs, hardware FLOPs, tokens) over them and their longest time."""
        if not self.steps:
            return {}
        flops = hardware = 0.0
        for length, tokens in sorted(self.tokens.items()):
            model_flops, hardware_flops = self._meter(length).flops_per_token_at(length)
            flops += tokens * model_flops
            hardware += tokens * hardware_flops
        tokens, seconds = sum(self.tokens.values()), self.seconds
        lengths = dict(self.tokens)
        if reduce is not None:
            (flops, hardware, tokens), seconds = reduce((flops, hardware, float(tokens)), seconds)
            tokens = round(tokens)
        denominator = seconds * self.gpus * self.peak.flops
        values = {"mfu": flops / denominator, "hfu": hardware / denominator,
                  "tflops_per_device": flops / (seconds * self.gpus) / 1e12}
        self._warn(values["mfu"], values["hfu"], step)
        self.history.append({"step": step, "steps": self.steps, "tokens": tokens, "seconds": seconds,
                             "seq_len": next(iter(lengths)) if len(lengths) == 1 else None,
                             "tokens_by_seq_len": lengths, "gpus": self.gpus, **values})
        self._reset()
        return values

    def _warn(self, mfu, hfu, step):
        """The CLI's warnings about a result (above 100%, implausibly low), each kind once."""
        from ..mfu import MFUWarning, result_warnings
        for kind, text in result_warnings(mfu, hfu):
            if kind not in self._given:
                self._given.add(kind)
                where = f"step {step}: " if step is not None else ""
                warnings.warn(where + text, MFUWarning, stacklevel=4)


# ------------------------------------------------------------ torch helpers (imported lazily)

def synchronize(device):
    """Wait for `device`'s queued work (no-op on the CPU), so a wall-clock time covers it."""
    if device is None or device.type in ("cpu", "meta"):
        return
    import torch
    accelerator = getattr(torch, "accelerator", None)
    current = accelerator.current_accelerator() if accelerator is not None and accelerator.is_available() else None
    if current is not None and current.type == device.type:
        accelerator.synchronize(device)
        return
    backend = getattr(torch, device.type, None)
    if backend is not None and callable(getattr(backend, "synchronize", None)):
        backend.synchronize()


def checkpointing(model):
    """"full" when activation checkpointing re-runs every decoder layer of `model` (the
    Trainer's activation_checkpointing, or the model's own activation_checkpointing_enable),
    None when it re-runs none; with every_n_layers > 1 (some layers only), a warning and
    None: no recompute mode counts a share of the layers."""
    try:
        from transformers.modeling_layers import GradientCheckpointingLayer
    except ImportError:  # no transformers, or an older layout: no per-layer flag to read
        return None
    from ..mfu import MFUWarning
    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    on = sum(bool(getattr(m, "gradient_checkpointing", False)) for m in layers)
    if not on:
        return None
    if on == len(layers):
        return "full"
    warnings.warn(f"activation checkpointing re-runs {on} of {len(layers)} decoder layers: HFU leaves that "
                  f"recomputation out (pass recompute=... to MFUCallback to count one)", MFUWarning, stacklevel=4)
    return None


def device_of(module):
    """The device of a torch module's first parameter (None without parameters)."""
    try:
        return next(module.parameters()).device
    except (AttributeError, StopIteration, TypeError):
        return None


def reduce_over_processes(values, seconds, device=None):
    """(the sums of `values` over the torch.distributed processes, the longest `seconds`);
    unchanged in a single process. Every process must call it (a collective)."""
    import torch
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tuple(values), seconds
    if dist.get_backend() != "nccl" or device is None:
        device = torch.device("cpu")
    sums = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(sums, op=dist.ReduceOp.SUM)
    longest = torch.tensor([float(seconds)], dtype=torch.float64, device=device)
    dist.all_reduce(longest, op=dist.ReduceOp.MAX)
    return tuple(sums.tolist()), float(longest.item())
