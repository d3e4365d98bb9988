"""Packed documents against what transformers executes: a pack of documents under a
document mask is what a varlen kernel runs as separate sequences (`cu_seqlens`), so the
engine's count of the pack must equal the sum of FlopCounterMode's counts of each document
run alone (the block-diagonal batch), per component, forward and backward; the padding,
reported apart, equals one more such run. FlopCounterMode computes every score square,
so the engine counts with the torch preset's full mask."""

import pytest

from .compare import engine, torch_components
from .reference import measure
from .test_dense import SMALL as DENSE
from .test_gdn import SMALL as GDN, TORCH as GDN_TORCH
from .test_moe import SMALL as MOE

CASES = {
    # (config, documents of a pack, pack length, engine conventions)
    "llama-gqa-bias": (DENSE["llama-gqa-bias"], [5, 16, 3], 32, {}),
    "mistral-window": (DENSE["mistral-window"], [9, 4, 7], 24, {}),        # windows of 6 inside documents
    "gemma2-alternating": (DENSE["gemma2-alternating"], [11, 3], 16, {}),
    "gpt2-biases": (DENSE["gpt2-biases"], [7, 7, 2], 20, {}),
    "qwen3_next": (GDN["qwen3_next"], [70, 5], 80, {"variants": GDN_TORCH}),  # a chunked scan per document
}
CASES.update({name: (config, [6, 2, 9], 20, {}) for name, config in list(MOE.items())[:2]})


def _summed(config, lengths):
    """FlopCounterMode's forward and backward, total and by component, of each document run alone."""
    total = {"forward": 0, "backward": 0}
    components = {"forward": {}, "backward": {}}
    for length in lengths:
        measured = measure(config, batch=1, seq_len=length)
        for phase in total:
            total[phase] += getattr(measured, phase)
            for name, value in torch_components(measured.by_module[phase]).items():
                components[phase][name] = components[phase].get(name, 0) + value
    return total, components


@pytest.mark.parametrize("name", list(CASES))
def test_pack_equals_its_documents_run_alone(tmp_path, name):
    config, lengths, pack_len, conventions = CASES[name]
    model = engine(config, tmp_path, preset="torch", **conventions)
    report = model.report(seq_len=pack_len, batch=1, documents=",".join(map(str, lengths)))
    total, components = _summed(config, lengths)
    flops = report["flops"]
    assert (flops["forward"], flops["backward"]) == (total["forward"], total["backward"])
    for phase in ("forward", "backward"):
        ours = {c: flops["components"].get(c, {}).get(phase, 0) for c in components[phase]}
        assert ours == components[phase], phase
    padding = pack_len - sum(lengths)
    if padding:
        alone, _ = _summed(config, [padding])
        assert report["documents"]["padding_flops"]["forward"] == alone["forward"]
        assert report["documents"]["padding_flops"]["backward"] == alone["backward"]
