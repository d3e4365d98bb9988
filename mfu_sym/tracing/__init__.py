"""`mfu_sym.trace`: any PyTorch model to exact closed-form FLOPs in the run's sizes.

    >>> t = mfu_sym.trace("examples/hf/llama3_8b/config.json")
    >>> t.forward()            # 2*batch*seq_len**2*... : what torch executes, per step
    >>> t.evaluate(t.training(), seq_len=8192, batch=1)

Needs the `[trace]` extra (torch, transformers for config.json models); the rest of
mfu-sym works without it. Nothing is allocated and nothing is downloaded: the model is
built on fake tensors and run at symbolic sizes (symbolic.py) under FlopCounterMode with
its traps corrected (counter.py).
"""
