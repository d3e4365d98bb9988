"""What autograd saves for backward in one training forward of a transformers model:
the bytes of the distinct tensors the saved-tensor hooks see, and an itemisation by the
autograd node that saved them.

A tensor saved twice (q, k and v all save the same normed input; a view saves its base)
counts once: tensors are keyed by their storage and a storage counts with all its bytes
(a view of part of a storage keeps the whole storage alive). Parameters and buffers are
not activations and are left out. A saved tensor is what the hooks are handed: 0-dim
Python scalars that autograd wraps (`x * 0.125`) never reach them.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from dataclasses import dataclass, field

import torch
from transformers import AutoConfig, AutoModelForCausalLM

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def build(config, *, attn_implementation, dtype="fp32", dropout=0.0, seed=0, checkpointing=None):
    """A transformers causal LM from a config dict, random weights, in training mode
    (so dropout, where the config gives it, is live); `checkpointing` True or False turns
    on gradient checkpointing of every decoder layer, reentrant or not."""
    cfg = dict(config)
    model_type = cfg.pop("model_type")
    hf_config = AutoConfig.for_model(model_type, **cfg)
    hf_config.use_cache = False
    if dropout:
        hf_config.attention_dropout = dropout
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(hf_config, attn_implementation=attn_implementation,
                                             dtype=DTYPES[dtype])
    if checkpointing is not None:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": checkpointing})
    model.train()
    return model


@dataclass
class Saved:
    total: int
    by_node: dict = field(default_factory=dict)  # node name -> bytes first saved by it
    shapes: list = field(default_factory=list)  # (node, shape, dtype, bytes) in saving order


def _node_name():
    # the autograd node being built is not known to the pack hook; the op that ran last
    # is, through the dispatcher's profiler-free record below
    return _LAST_OP[0]


_LAST_OP = ["?"]


class _OpNames(torch.utils._python_dispatch.TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        _LAST_OP[0] = func.overloadpacket.__name__
        return func(*args, **(kwargs or {}))


def saved_bytes(model, *, batch, seq_len, seed=0):
    """Run one forward with labels (the loss included) and return what autograd holds for
    backward at its end.

    The hooks keep only weak references: a tensor saved by a node of a branch the
    forward then discards (DeepSeek's group selection: top-k indices nothing
    differentiates through) dies with that node, and its memory may be reused by a later
    saved tensor, so storages are compared only among the tensors still alive at the end,
    when none can share an address."""
    excluded = {t.untyped_storage().data_ptr() for t in list(model.parameters()) + list(model.buffers())}
    packed = []

    def pack(tensor):
        packed.append((weakref.ref(tensor), _node_name()))
        return tensor

    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, model.config.get_text_config().vocab_size, (batch, seq_len), generator=generator)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), _OpNames():
        output = model(input_ids=ids, labels=ids, use_cache=False)
    sizes, by_node, shapes = {}, defaultdict(int), []
    for ref, node in packed:
        tensor = ref()
        if tensor is None:
            continue
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key in excluded or key in sizes:
            continue
        sizes[key] = storage.nbytes()
        by_node[node] += storage.nbytes()
        shapes.append((node, tuple(tensor.shape), str(tensor.dtype).removeprefix("torch."), storage.nbytes()))
    return Saved(sum(sizes.values()), dict(by_node), shapes), output
