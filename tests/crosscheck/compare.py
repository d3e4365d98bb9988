"""Shared comparison: mfu-sym's counts against a FlopCounterMode measurement."""

import json
import re

import mfu_sym

# transformers names the attention module self_attn (most) or attn (GPT-2), the MLP mlp.
_ATTENTION = re.compile(r"(^|\.)(self_attn|attn)(\.\d+)?$")  # LongCat-Flash: self_attn.0, self_attn.1
_MLP = re.compile(r"(^|\.)(mlp|mlps\.\d+)$")  # LongCat-Flash: mlps.0, mlps.1
# Gated DeltaNet layers (Qwen3-Next, Qwen3.5, OLMo Hybrid): every matmul is linear_attention.
_LINEAR_ATTENTION = re.compile(r"(^|\.)linear_attn$")
# Children of a MoE block, by mfu-sym component.
_MOE_PARTS = {"gate": "router", "experts": "experts", "shared_expert": "shared_experts",
              "shared_experts": "shared_experts", "shared_expert_gate": "shared_experts",
              "shared_mlp": "shared_experts", "router": "router"}  # Hunyuan; LongCat-Flash
# Children of an attention module that are not its projections, by mfu-sym component.
_ATTENTION_PARTS = {"indexer": "indexer"}  # DeepSeek-V3.2's lightning indexer


def _children(by_module, path):
    prefix = path + "."
    return {p[len(prefix):]: v for p, v in by_module.items() if p.startswith(prefix) and "." not in p[len(prefix):]}


def torch_components(by_module, mtp_prefix=None):
    """FlopCounterMode's per-module totals grouped into mfu-sym's components."""
    out = {"attention_projections": 0, "attention_core": 0, "mlp": 0, "router": 0, "experts": 0,
           "shared_experts": 0, "lm_head": by_module.get("lm_head", 0), "linear_attention": 0, "indexer": 0}
    for path, flops in by_module.items():
        if _MLP.search(path):
            children = _children(by_module, path)
            if set(children) & {"gate", "experts"}:
                for child, value in children.items():
                    out[_MOE_PARTS[child]] += value
                out["experts"] += flops - sum(children.values())  # combine arithmetic (0 when counted right)
            else:
                out["mlp"] += flops
        elif _LINEAR_ATTENTION.search(path):
            out["linear_attention"] += flops
        elif _ATTENTION.search(path):
            children = _children(by_module, path)
            for child, value in children.items():
                out[_ATTENTION_PARTS.get(child, "attention_projections")] += value
            out["attention_core"] += flops - sum(children.values())
    return out


def engine(config, tmp_path, **conventions):
    path = tmp_path / "config.json"
    from transformers import PretrainedConfig
    # as transformers writes a config: inf (Mamba-2's time_step_limit) as {"__float__": "Infinity"}
    path.write_text(json.dumps(PretrainedConfig._encode_special_floats(config)))
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
