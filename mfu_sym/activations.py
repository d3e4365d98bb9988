"""Activation memory as the implementation stores it: the bytes of the tensors autograd
saves for backward, per layer kind, from the saved-tensor facts of
formulas/activations.yaml (activations_data.py).

    bytes of a tensor = elements x scale x width / split
        scale   batch * seq_len / cp per token, seq_len / cp per position, 1 per layer
        width   act_bits / 8, or 4 (fp32), 8 (int64), 4 (int32), 1 (bool)
        split   tp (heads, d_ff, vocabulary), tp under sequence parallelism only
                (d_model-wide tensors), or 1

A layer of a kind saves the tensors of its groups that exist on its attention path
(eager; fused: SDPA without a mask or FlashAttention; fused_masked: SDPA given a mask,
transformers' sliding-window layers), whose conditions hold (norm, MLP and expert
kinds, rotary, a narrow activation dtype, attention dropout) and that its recompute mode
keeps. Once per forward: the token ids, the rotary tables, the final norm and the loss.
Counted exactly against transformers by tests/crosscheck/test_activations.py.
"""

from dataclasses import dataclass

import sympy

from . import kinds, stack
from .errors import UsageError

KERNELS = ("eager", "sdpa", "flash")


@dataclass(frozen=True)
class Item:
    tensor: str
    group: str
    where: str  # the layer kind, or "model" (once per forward)
    count: sympy.Expr  # layers of that kind (1 for the model's tensors)
    bytes: sympy.Expr  # per layer (or per forward): an expression over the model's and run's symbols


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(None, name, f"{value!r} is not a positive integer")
    return value


class SavedActivations:
    """The `implementation` activation model of a Model under a run's parallelism."""

    def __init__(self, model, data, *, kernel="eager", act_bits=16, recompute="none", tp=1, cp=1, ep=1,
                 sequence_parallel=False, dropout=False):
        if kernel not in KERNELS:
            raise UsageError(None, "kernel", f"{kernel!r} (expected one of {', '.join(KERNELS)})")
        self.model, self.data, self.kernel, self.recompute = model, data, kernel, recompute
        self.act_bits, self.dropout, self.sequence_parallel = act_bits, bool(dropout), bool(sequence_parallel)
        self.tp, self.cp, self.ep = (_positive_int(v, n) for v, n in ((tp, "tp"), (cp, "cp"), (ep, "ep")))
        arch = model.arch
        if arch.n_kv_heads and arch.n_kv_heads % self.tp:
            raise UsageError(None, "tp", f"tensor-parallel degree ({self.tp}) must divide n_kv_heads "
                                         f"({arch.n_kv_heads}) (Megatron-LM: num_query_groups % tp == 0)")
        if self.ep > 1 and not arch.n_experts:
            raise UsageError(None, "ep", f"expert-parallel degree ({self.ep}) given, but the model has no experts")
        if arch.n_experts and arch.n_experts % self.ep:
            raise UsageError(None, "ep", f"expert-parallel degree ({self.ep}) must divide n_experts "
                                         f"({arch.n_experts})")
        sym = model.library.symbol
        self.symbols = {name: sym(name) for name in ("tp", "cp", "ep", "act_bits")}
        self.unmodelled = self._unmodelled()

    # ---- what the model has ------------------------------------------------------------
    def _unmodelled(self):
        """Why this model's activations are not modelled (empty: they are): layer kinds
        without saved-tensor facts, and layer features the facts do not describe."""
        arch, known = self.model.arch, self.data.kinds
        kinds_ = [kind for part in ("mixer", "ffn") for kind in stack.counts(arch.layers, part)
                  if kind != "none" and kind not in known]
        out = [f"{', '.join(dict.fromkeys(kinds_))} layers"] if kinds_ else []
        if arch.norm_placement != "pre":
            out.append(f"norm_placement {arch.norm_placement}")
        if arch.qk_norm not in ("none", "per_head"):
            out.append(f"qk_norm {arch.qk_norm}")
        out += [f"{name} {value}" for name, value in arch.features if value != kinds.FEATURES[name].default]
        if arch.mla and self.kernel != "eager":
            out.append(f"mla layers with the {self.kernel} kernel (d_qk != d_v: transformers pads V for "
                       "FlashAttention and CPU SDPA falls back to its math kernel; only eager is modelled)")
        return tuple(dict.fromkeys(out))

    def _conditions(self):
        arch = self.model.arch
        return {
            "rmsnorm": arch.norm == "rmsnorm", "layernorm": arch.norm != "rmsnorm",
            "gated_mlp": arch.mlp == "gated", "plain_mlp": arch.mlp == "plain",
            "gated_experts": arch.expert_mlp == "gated", "plain_experts": arch.expert_mlp == "plain",
            "shared_experts": bool(arch.d_shared), "shared_expert_gate": bool(arch.shared_expert_gate),
            "rotary": arch.position_embedding == "none" and bool(arch.n_heads) and not arch.mla,
            "mla_rotary": arch.mla, "q_lora": bool(arch.q_lora_rank), "wide": self.act_bits >= 32,
            "qk_norm": arch.qk_norm == "per_head",
            "learned_positions": arch.position_embedding == "learned",
            "narrow": self.act_bits < 32, "dropout": self.dropout, "no_dropout": not self.dropout,
        }

    def _path(self, kind):
        return "eager" if self.kernel == "eager" else "fused"

    def _layer_tensors(self, group, kind, mode):
        """(tensor, bytes) a layer of `kind` saves of `group`. transformers gives SDPA a
        sliding-window layer's mask only when the window cuts (seq_len >= window: its
        masking_utils skips the mask for kv_length < sliding_window), so those layers
        take the masked path as a Piecewise in seq_len."""
        if not (self.kernel == "sdpa" and kind == "sliding_attention"):
            return [(t, self.tensor_bytes(t)) for t in self._saved(group, self._path(kind), mode)]
        masked, plain = self._saved(group, "fused_masked", mode), self._saved(group, "fused", mode)
        sym = self.model.library.symbol
        cut = sympy.Ge(self.model.seq_len, sym("window"))
        out = []
        for tensor in masked + [t for t in plain if t not in masked]:
            b = self.tensor_bytes(tensor)
            if tensor in masked and tensor not in plain:
                b = sympy.Piecewise((b, cut), (0, True))
            elif tensor not in masked:
                b = sympy.Piecewise((0, cut), (b, True))
            out.append((tensor, b))
        return out

    # ---- bytes ------------------------------------------------------------------------
    def tensor_bytes(self, tensor):
        """The bytes one layer (or one forward) saves of `tensor`, symbolic."""
        s, model = self.symbols, self.model
        scale = {"per_token": model.batch * model.seq_len / s["cp"], "per_position": model.seq_len / s["cp"],
                 "per_layer": sympy.Integer(1), "per_forward": sympy.Integer(1)}[tensor.scale]
        split = {"tp": s["tp"], "sequence": s["tp"] if self.sequence_parallel else 1, "none": 1}[tensor.split]
        return tensor.elements * scale * self.data.widths[tensor.width] / split

    def _saved(self, group, path, modes):
        holds = self._conditions()
        return [t for t in self.data.group(group)
                if path in t.paths and all(holds[c] for c in t.when) and modes & set(t.kept)]

    def items(self):
        """Every saved tensor as an Item: per layer kind (count = its layers), then once per
        forward (count 1). Under full recomputation a layer keeps its input only."""
        if self.unmodelled:
            return []
        arch, groups, out = self.model.arch, self.data.kinds, []
        mode = {self.recompute}
        if self.recompute == "full":
            for tensor in self._saved("checkpoint", "eager", mode):
                out.append(Item(tensor.name, tensor.group, "layer", sympy.Integer(arch.n_layers),
                                self.tensor_bytes(tensor)))
        else:
            for part in ("mixer", "ffn"):
                for kind, count in stack.counts(arch.layers, part).items():
                    for group in groups.get(kind, ()):
                        for tensor, bytes_ in self._layer_tensors(group, kind, mode):
                            out.append(Item(tensor.name, tensor.group, kind, sympy.Integer(count), bytes_))
        for group in groups["model"]:
            for tensor in self._saved(group, "eager", {"none", "selective", "full"}):
                out.append(Item(tensor.name, tensor.group, "model", sympy.Integer(1), self.tensor_bytes(tensor)))
        return out

    def expression(self, layers_held, pp):
        """Bytes on the first pipeline stage: layers_held layers of the stack's average
        layer, and the once-per-forward tensors (with pp > 1 the embedding side only,
        for pp micro-batches: the final norm and loss are on the last stage)."""
        n_layers = sympy.Integer(self.model.arch.n_layers)
        layer = sum((i.count * i.bytes for i in self.items() if i.where != "model"), sympy.Integer(0))
        total = layers_held * layer / n_layers
        for item in self.items():
            if item.where == "model":
                if pp == 1:
                    total += item.bytes
                elif item.group == "embedding":
                    total += pp * item.bytes
        return total
