"""MFU in a PyTorch Lightning run: a `lightning.pytorch.Callback`.

    import lightning.pytorch as pl
    from mfu_sym.integrations.lightning import MFUCallback

    trainer = pl.Trainer(callbacks=[MFUCallback(hardware="h100", dtype="bf16")], ...)
    trainer.fit(module, loader)   # mfu, hfu and tflops_per_device reach the loggers

What it measures (see also mfu_sym.integrations):

- the model: `model=` (a path, dict, PretrainedConfig or mfu_sym Model), else the
  LightningModule's `config`, else the one transformers model inside it (a submodule
  with a PretrainedConfig as `.config`); several different ones are refused.
- tokens: each training batch's input ids, padding included (rows at the padded length):
  `inputs(batch)` returns them (a tensor, or its shape); by default the batch itself when
  it is a tensor, its "input_ids" when it is a mapping, its first item when a sequence.
  Summed over gradient accumulation and over processes.
- devices: `gpus`, default trainer.world_size.
- HFU: with activation checkpointing on every decoder layer of a transformers model inside
  the module and no recompute chosen, recompute "full" (as the transformers callback).
- time: from the first batch of an optimizer step (on_train_batch_start) to the end of
  the batch whose optimizer step ran (on_train_batch_end), the accelerator synchronized
  at both; timing="wall": from one step's end to the next.
- logging: `pl_module.log_dict` at the steps where Lightning writes to its loggers
  (every trainer.log_every_n_steps optimizer steps), each value the total FLOPs / total
  time of the steps since the previous write.
"""

import time

import lightning.pytorch as pl

from ..errors import UsageError
from .interval import (
    Interval,
    checkpointing,
    device_of,
    reduce_over_processes,
    synchronize,
)


def _is_config(value):
    return callable(getattr(value, "to_dict", None)) and isinstance(getattr(value, "model_type", None), str)


def find_config(module):
    """The transformers config of a LightningModule: its own `config`, else the one model
    with a config inside it (None when there is none)."""
    own = getattr(module, "config", None)
    if _is_config(own):
        return own
    found = []
    for name, sub in module.named_modules():
        config = getattr(sub, "config", None)
        if (_is_config(config) and not any(config is c for _, c in found)
                and not any(name.startswith(prefix + ".") for prefix, _ in found)):
            found.append((name, config))
    if len(found) > 1:
        raise UsageError(type(module).__name__, "config", f"holds several models with a config "
                                                          f"({', '.join(n for n, _ in found)}): pass "
                                                          "model=... to MFUCallback to say which one trains")
    return found[0][1] if found else None


def batch_inputs(batch):
    """The input ids of a batch: a tensor, a mapping's "input_ids", a sequence's first item."""
    if hasattr(batch, "shape"):
        return batch
    if isinstance(batch, dict) or hasattr(batch, "keys"):
        return batch.get("input_ids") if hasattr(batch, "get") else None
    if isinstance(batch, (list, tuple)) and batch:
        return batch[0] if hasattr(batch[0], "shape") else None
    return None


class MFUCallback(pl.Callback):
    """Logs `mfu`, `hfu` and `tflops_per_device` (achieved model TFLOP/s per device) in a
    Lightning run.

    `hardware`, `dtype`, `sparse`: the peak; `preset` and switches: the conventions;
    `gpus`: devices (default the world size); `model`: what to count instead of the
    module's config; `inputs`: batch -> input ids; `timing`: "step" or "wall". Bad values
    raise mfu_sym errors here; the model is read at on_fit_start. `history` lists every
    logged interval with its measured tokens and seconds."""

    def __init__(self, hardware, dtype="bf16", preset=None, *, gpus=None, sparse=False, model=None,
                 inputs=None, timing="step", formulas=(), **switches):
        if inputs is not None and not callable(inputs):
            raise UsageError(None, "inputs", f"{inputs!r} (expected a function of the batch returning its input ids)")
        self.interval = Interval(hardware, dtype, gpus=gpus, preset=preset, sparse=sparse, model=model,
                                 timing=timing, formulas=formulas, **switches)
        self.inputs = inputs or batch_inputs
        self._device = None
        self._start = None
        self._last_end = None
        self._stepped = False
        self._distributed = False

    @property
    def history(self):
        return self.interval.history

    def on_fit_start(self, trainer, pl_module):
        config = find_config(pl_module) if self.interval.source is None else None
        self.interval.bind(config, world_size=trainer.world_size, checkpointing=checkpointing(pl_module),
                           name=type(pl_module).__name__)
        self._device = device_of(pl_module)
        self._distributed = trainer.world_size > 1
        synchronize(self._device)
        self._last_end = time.perf_counter()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if not self.interval.in_step:
            synchronize(self._device)
            self._start = time.perf_counter()
            self.interval.begin_step()
            self._stepped = False
        ids = self.inputs(batch)
        shape = tuple(getattr(ids, "shape", ids if isinstance(ids, (tuple, list)) else ()))
        if not shape or not all(isinstance(n, int) and n > 0 for n in shape):
            raise UsageError(None, "inputs", f"the batch gave no input ids (got {type(ids).__name__}; expected a "
                                             "tensor of token ids: pass inputs=lambda batch: ... to MFUCallback)")
        rows = 1
        for n in shape[:-1]:
            rows *= n
        self.interval.count(rows, shape[-1])

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self._stepped = True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if not self._stepped:
            return   # gradient accumulation: the step goes on
        self._stepped = False
        synchronize(self._device)
        now = time.perf_counter()
        start = self._start if self.interval.timing == "step" else self._last_end
        if not self.interval.end_step(max(now - start, 1e-12)):
            return
        self._last_end = now
        connector = getattr(trainer, "_logger_connector", None)
        if not getattr(connector, "should_update_logs", True):
            return
        reduce = (lambda values, seconds: reduce_over_processes(values, seconds, self._device)) \
            if self._distributed else None
        values = self.interval.flush(trainer.global_step, reduce)  # steps done, this one included
        if values:
            # float64 tensors: a Python float would be logged as float32 (7 digits)
            import torch
            pl_module.log_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()},
                               on_step=True, on_epoch=False, batch_size=1)
