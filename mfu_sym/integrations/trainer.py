"""MFU in a Hugging Face `transformers.Trainer` run: a TrainerCallback.

    from transformers import Trainer
    from mfu_sym.integrations.trainer import MFUCallback

    trainer = Trainer(model=model, args=args, train_dataset=data,
                      callbacks=[MFUCallback(hardware="h100", dtype="bf16")])
    trainer.train()     # each training log gains mfu, hfu and tflops_per_device

What it measures (see also mfu_sym.integrations):

- the model: the Trainer's model's `config` (a PretrainedConfig, read as `mfu_sym.load`
  reads a config.json), under `preset` and switches; or `model=` (a path, dict,
  PretrainedConfig or mfu_sym Model) for a model mfu-sym should count differently.
- tokens: a forward pre-hook on the model counts each micro-batch's input_ids (padding
  included: input_ids.numel(), rows at the padded length), during training steps only
  (evaluation is not counted); summed over gradient accumulation and over processes.
  The Trainer's own `num_input_tokens_seen` is not used: it is off by default, and with
  include_num_input_tokens_seen="non_padding" it leaves padding out.
- devices: `gpus`, default the Trainer's world size (x n_gpu under DataParallel).
- time: on_step_begin (the first micro-batch, after the Trainer fetched the step's
  batches) to on_step_end (after the optimizer and scheduler step), the accelerator
  synchronized at both; timing="wall" times from one step's end to the next instead.
- averaging: at each logging step, total FLOPs / total time of the steps since the
  previous log (with logging_steps=1, the step's own value).
- HFU: with activation (gradient) checkpointing on every decoder layer and no recompute
  chosen, recompute "full" (a share of the layers: a warning, and none).

Order: Trainer.log appends a copy of the logs to state.log_history, then calls on_log on
the callbacks in list order, the reporting integrations (report_to: W&B, TensorBoard, ...)
before callbacks passed to Trainer(callbacks=...). So that the reporters log the values,
the callback moves itself right after DefaultFlowCallback at on_train_begin, and it
writes the values into the log_history entry of the same log as well.
"""

import math
import sys
import time
import warnings

from transformers import TrainerCallback
from transformers.trainer_callback import CallbackHandler, DefaultFlowCallback

from ..errors import UsageError
from .interval import (
    Interval,
    checkpointing,
    device_of,
    reduce_over_processes,
    synchronize,
)


class MFUCallback(TrainerCallback):
    """Adds `mfu`, `hfu` and `tflops_per_device` (achieved model TFLOP/s per device) to
    each training log of a transformers Trainer.

    `hardware`, `dtype`, `sparse`: the peak (`mfu-sym hardware` lists the names); `preset`
    and switches (mask="full", recompute="selective", ...): the counting conventions;
    `gpus`: devices (default the world size); `model`: what to count instead of the
    model's config; `timing`: "step" or "wall". Bad values raise mfu_sym errors here;
    the model's config is read at on_train_begin. `history` lists every logged interval
    with its measured tokens and seconds."""

    def __init__(self, hardware, dtype="bf16", preset=None, *, gpus=None, sparse=False, model=None,
                 timing="step", formulas=(), **switches):
        self.interval = Interval(hardware, dtype, gpus=gpus, preset=preset, sparse=sparse, model=model,
                                 timing=timing, formulas=formulas, **switches)
        self._hook = None
        self._device = None
        self._start = None
        self._last_end = None
        self._distributed = False

    @property
    def history(self):
        return self.interval.history

    # ------------------------------------------------------------ events

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._place_before_reporters()
        if model is None:
            raise UsageError("model", None, "the Trainer gave the callback no model")
        name = type(model).__name__
        self.interval.bind(getattr(model, "config", None), world_size=args.world_size * max(1, args.n_gpu),
                           checkpointing=checkpointing(model), name=name)
        self._remove_hook()
        input_name = getattr(model, "main_input_name", None) or "input_ids"
        self._hook = model.register_forward_pre_hook(self._counter(input_name), with_kwargs=True)
        self._device = device_of(model)
        self._distributed = args.world_size > 1
        synchronize(self._device)
        self._last_end = time.perf_counter()

    def on_step_begin(self, args, state, control, **kwargs):
        synchronize(self._device)
        self._start = time.perf_counter()
        self.interval.begin_step()

    def on_step_end(self, args, state, control, **kwargs):
        synchronize(self._device)
        now = time.perf_counter()
        start = self._start if self.interval.timing == "step" else self._last_end
        if self.interval.end_step(max(now - start, 1e-12)):
            self._last_end = now

    def on_log(self, args, state, control, logs=None, **kwargs):
        # Training logs only (they carry "loss"); evaluation and the final summary are not steps.
        if logs is None or "loss" not in logs:
            return
        values = self.interval.flush(state.global_step, self._reduce if self._distributed else None)
        if not values:
            return
        logs.update(values)
        entry = state.log_history[-1] if state.log_history else None
        if entry is not None and entry.get("step") == state.global_step and "mfu" not in entry:
            entry.update(values)

    def on_train_end(self, args, state, control, **kwargs):
        self._remove_hook()

    # ------------------------------------------------------------ helpers

    def _counter(self, input_name):
        interval = self.interval

        def count(module, args, kwargs):
            if not interval.in_step:
                return
            ids = kwargs.get(input_name)
            if ids is None and args:
                ids = args[0]
            if ids is not None and hasattr(ids, "shape"):
                shape = tuple(ids.shape)
            else:
                embeds = kwargs.get("inputs_embeds")
                if embeds is None:
                    return
                shape = tuple(embeds.shape)[:-1]
            if not shape:
                return
            interval.count(math.prod(shape[:-1]), shape[-1])

        return count

    def _remove_hook(self):
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def _reduce(self, values, seconds):
        return reduce_over_processes(values, seconds, self._device)

    def _place_before_reporters(self):
        """Move this callback right after DefaultFlowCallback in the Trainer's list, so that
        its on_log runs before the reporting integrations'. Called from inside the
        CallbackHandler's loop over that list: moving an item to an earlier index leaves
        the loop's next item unchanged (a later index would skip one, so never)."""
        handler = None
        frame = sys._getframe(1)
        for _ in range(6):
            if frame is None:
                break
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, CallbackHandler) and any(cb is self for cb in candidate.callbacks):
                handler = candidate
                break
            frame = frame.f_back
        if handler is None:
            warnings.warn("MFUCallback could not find the Trainer's callback list: reporting integrations listed "
                          "before it will not log mfu (log_history still has it)", stacklevel=3)
            return
        callbacks = handler.callbacks
        mine = next(i for i, cb in enumerate(callbacks) if cb is self)
        flows = [i for i, cb in enumerate(callbacks) if isinstance(cb, DefaultFlowCallback)]
        target = flows[0] + 1 if flows else 0
        if target < mine:
            callbacks.insert(target, callbacks.pop(mine))
