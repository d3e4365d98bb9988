"""Shared comparison: mfu-sym's counts against a FlopCounterMode measurement."""

import json
import re

import mfu_sym

# Attention modules by family: transformers names them self_attn (most) or attn (GPT-2).
_ATTENTION = re.compile(r"(^|\.)(self_attn|attn)$")
_MLP = re.compile(r"(^|\.)mlp$")


def torch_components(by_module):
    """FlopCounterMode's per-module totals grouped into mfu-sym's components."""
    out = {"attention_projections": 0, "attention_core": 0, "mlp": 0, "lm_head": by_module.get("lm_head", 0)}
    for path, flops in by_module.items():
        if _MLP.search(path):
            out["mlp"] += flops
        elif _ATTENTION.search(path):
            children = sum(v for p, v in by_module.items()
                           if p.startswith(path + ".") and "." not in p[len(path) + 1:])
            out["attention_projections"] += children
            out["attention_core"] += flops - children
    return out


def engine(config, tmp_path, **conventions):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return mfu_sym.load(path, **conventions)


def assert_same(model, measured, *, batch, seq_len, per_component=True):
    report = model.report(seq_len=seq_len, batch=batch)
    flops = report["flops"]
    assert report["params"]["total"] == measured.params, "parameters"
    assert flops["forward"] == measured.forward, "forward FLOPs"
    assert flops["backward"] == measured.backward, "backward FLOPs"
    assert flops["training"] == measured.training, "training FLOPs"
    if not per_component:
        return
    for phase in ("forward", "backward"):
        theirs = torch_components(measured.by_module[phase])
        ours = {name: flops["components"].get(name, {}).get(phase, 0) for name in theirs}
        assert ours == theirs, f"{phase} by component"
