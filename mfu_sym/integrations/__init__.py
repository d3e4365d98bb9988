"""MFU in training loops: thin layers over `mfu_sym.MFUMeter` for the usual trainers.

- `mfu_sym.integrations.trainer.MFUCallback`: a `transformers.TrainerCallback`;
- `mfu_sym.integrations.lightning.MFUCallback`: a `lightning.pytorch.Callback`;
- a plain PyTorch loop needs no integration: `MFUMeter.update` (examples/train_loop.py).

Each submodule imports its framework; this package imports none of them (nor torch), so
`import mfu_sym.integrations` is cheap and works without them. What the callbacks share
(counting a step's tokens by padded length, the interval's FLOPs over its time, the
values they log) is in `interval.py`, framework-free.

Conventions (both callbacks):

- tokens: every token the model runs, padding included (input_ids.numel(), summed over
  the micro-batches of gradient accumulation and over all processes); the model computes
  the padded positions, so the FLOPs of the step are those of its padded shape. Each
  micro-batch costs its rows at its own padded length (the last dimension of input_ids):
  per-token FLOPs depend on the sequence length through attention.
- time: the optimizer step, from its first micro-batch's start to the end of the
  optimizer update, the accelerator synchronized at both ends (timing="step"); or the
  wall clock from one step's end to the next (timing="wall": data loading, logging,
  evaluation and checkpointing included).
- averaging: over the steps since the last log, total FLOPs / total time (never a mean of
  per-step ratios, which weighs a short step like a long one).
"""

__all__ = ["interval"]
