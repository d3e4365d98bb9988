"""The saved-tensor facts behind the `implementation` activation model (formulas/
activations.yaml: its header documents the format): per layer kind, the tensors autograd
saves for backward in the transformers implementation, each with its elements, storage
width, tensor-parallel split, the attention paths and conditions under which it exists,
the recompute modes that keep it, and its sources. Checked at load.
"""

from dataclasses import dataclass

import sympy

from .definitions import Entry
from .errors import FormulaError

SECTION = "saved_activations"
WIDTHS = ("act", "fp32", "int64", "int32", "bool")
SPLITS = ("tp", "sequence", "none")
PATHS = ("eager", "fused", "fused_masked")
RECOMPUTE = ("none", "selective", "full")
CONDITIONS = ("rmsnorm", "layernorm", "gated_mlp", "plain_mlp", "gated_experts", "plain_experts", "shared_experts",
              "shared_expert_gate", "rotary", "mla_rotary", "learned_positions", "q_lora", "qk_norm", "narrow", "wide",
              "dropout", "no_dropout")
# how a tensor's elements scale with the run: per_token x tokens, per_position x positions
SCALES = ("per_token", "per_position", "per_layer", "per_forward")
SPECIAL_KINDS = ("model", "checkpoint")


@dataclass(frozen=True)
class SavedTensor:
    name: str
    group: str
    scale: str  # one of SCALES
    elements: sympy.Expr  # per token / position / layer / forward
    width: str
    split: str
    paths: tuple
    when: tuple
    kept: tuple
    saved_by: str
    source: str


@dataclass(frozen=True)
class SavedData:
    widths: dict  # width -> bytes per element (an expression in act_bits)
    kinds: dict  # kind -> groups (plus "model" and "checkpoint")
    tensors: tuple  # SavedTensor, in file order
    description: str
    omits: str
    reference: object  # what each op saves (derivatives.yaml)
    implementation_reference: object  # which ops the implementation runs
    parallel_reference: object  # how the parallel splits shard them
    assumptions: dict  # tp, cp, ep, pp -> text

    def group(self, name):
        return [t for t in self.tensors if t.group == name]


def read(library):
    """The saved_activations section of the library's data root, checked."""
    root, refs = library.root, library.references
    names = {name: info.symbol for name, info in library.symbols.items()}
    path, value = root.section(SECTION)
    top = Entry(path, SECTION, value)
    w = top.entry("widths")
    widths = {key: w.expression(key, names) for key in WIDTHS}
    w.done()
    k = top.entry("kinds")
    kinds = {}
    for kind in list(k.value):
        kinds[kind] = k.texts(kind)
    k.done()
    for special in SPECIAL_KINDS:
        if special not in kinds:
            k.fail(special, "missing")
    tensors = tuple(_tensor(entry, names) for entry in top.entries("tensors"))
    groups = {t.group for t in tensors}
    for kind, listed in kinds.items():
        for group in listed:
            if group not in groups:
                k.fail(kind, f"unknown group {group!r} (no tensor has it)")
    seen = set()
    for t in tensors:
        if t.name in seen:
            raise FormulaError(path, f"{SECTION}.tensors", f"tensor {t.name!r} given twice")
        seen.add(t.name)
    a = top.entry("assumptions")
    assumptions = {key: a.text(key) for key in ("tp", "cp", "ep", "pp")}
    a.done()
    data = SavedData(widths=widths, kinds=kinds, tensors=tensors, description=top.text("description"),
                     omits=top.text("omits"), reference=top.citation("reference", refs),
                     implementation_reference=top.citation("implementation_reference", refs),
                     parallel_reference=top.citation("parallel_reference", refs), assumptions=assumptions)
    top.done()
    return data


def _tensor(entry, names):
    scales = [s for s in SCALES if entry.has(s)]
    if len(scales) != 1:
        entry.fail(None, f"expected exactly one of {', '.join(SCALES)}")
    paths = entry.texts("paths", PATHS)
    when = entry.texts("when", ())
    kept = entry.texts("kept", ("none", "selective"))
    for field, values, allowed in (("paths", paths, PATHS), ("when", when, CONDITIONS), ("kept", kept, RECOMPUTE)):
        for value in values:
            if value not in allowed:
                entry.fail(field, f"{value!r} (expected some of {', '.join(allowed)})")
    tensor = SavedTensor(
        name=entry.name(), group=entry.name("group"), scale=scales[0], elements=entry.expression(scales[0], names),
        width=entry.choice("width", WIDTHS), split=entry.choice("split", SPLITS), paths=paths, when=when, kept=kept,
        saved_by=entry.text("saved_by"), source=entry.text("source"))
    entry.done()
    return tensor
