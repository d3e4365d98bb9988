"""Traced modules grouped into the formula library's components, by the names
transformers gives them (self_attn / attn, mlp, linear_attn, mixer, lm_head, and the
children of MoE and attention blocks). Whatever no name maps stays in `other`, so the
components always add up to the total."""

from __future__ import annotations

import re

import sympy

# (path pattern, class-name pattern) per kind; either matching decides (Nemotron-H calls
# every layer's block `mixer`, whatever it is, so the class name must speak too)
_RULES = (
    ("linear_attention", re.compile(r"(^|\.)(linear_attn|linear_attention)$"),
     re.compile(r"(GatedDeltaNet|DeltaAttention|LightningAttention)$")),
    ("ssm", re.compile(r"(^|\.)(mamba|short_conv)$"), re.compile(r"Mamba\d?Mixer$|Mamba\d?Layer$|ShortConv$")),
    ("shared_experts", re.compile(r"(^|\.)shared_mlp$"), re.compile(r"^$")),  # Granite MoE shared: beside the MoE
    ("mlp", re.compile(r"(^|\.)(mlp|mlps\.\d+|feed_forward|block_sparse_moe)$"),  # LongCat-Flash: mlps.0
     re.compile(r"(MLP|MoE|Moe|SparseMoeBlock|FeedForward)$")),
    ("attention", re.compile(r"(^|\.)(self_attn|attn|attention)(\.\d+)?$"), re.compile(r"Attention\d?$")),
)
_LM_HEAD = re.compile(r"^(lm_head|output)$")
# children of a MoE block, by component
_MOE_PARTS = {"gate": "router", "router": "router", "experts": "experts", "shared_expert": "shared_experts",
              "shared_experts": "shared_experts", "shared_expert_gate": "shared_experts",
              "shared_mlp": "shared_experts",
              # Nemotron-H's latent MoE: the projections into and out of the experts' latent
              # width run for every token, a dense part of the block (the library's `mlp`)
              "fc1_latent_proj": "mlp", "fc2_latent_proj": "mlp"}
# children of an attention module that are not its projections
_ATTENTION_PARTS = {"indexer": "indexer"}  # DeepSeek-V3.2's lightning indexer

ORDER = ("attention_projections", "attention_core", "indexer", "linear_attention", "ssm", "mlp", "router",
         "experts", "shared_experts", "lm_head", "other")


def _children(by_module, path):
    prefix = path + "."
    return {p[len(prefix):]: v for p, v in by_module.items()
            if p.startswith(prefix) and "." not in p[len(prefix):]}


def _leaves(by_module, path, skip=()):
    """Modules under `path` with FLOPs and no FLOP-bearing module under them (outside the
    children named in `skip`)."""
    prefix = path + "."
    inside = [p for p in by_module if p.startswith(prefix)
              and not any(p == prefix + name or p.startswith(prefix + name + ".") for name in skip)]
    return {p: by_module[p] for p in inside if not any(q.startswith(p + ".") for q in inside)}


def _has_moe_sibling(by_module, path, classes):
    """Whether a MoE block (a feed-forward module with a router or experts) sits beside `path`."""
    if "." not in path:
        return False
    parent = path.rsplit(".", 1)[0]
    siblings = [f"{parent}.{child}" for child in _children(by_module, parent)]
    return any(kind_of(p, classes.get(p, "")) == "mlp" and set(_children(by_module, p)) & {"gate", "experts", "router"}
               for p in siblings)


def _inside_mapped(path, mapped):
    return any(path.startswith(m + ".") for m in mapped)


def kind_of(path: str, cls: str) -> str | None:
    if _LM_HEAD.match(path):
        return "lm_head"
    for kind, by_path, by_class in _RULES:
        if by_path.search(path) or by_class.search(cls):
            return kind
    return None


def components(by_module: dict[str, sympy.Expr], classes: dict[str, str]) -> dict[str, sympy.Expr]:
    """{component: FLOPs} from per-module FLOPs (parents include their children) and each
    module's class name; the outermost module a rule matches decides, and `other` is what
    no rule claimed."""
    zero = sympy.Integer(0)
    out = {name: zero for name in ORDER}
    mapped: list[str] = []
    for path in sorted(by_module, key=lambda p: p.count(".")):
        if path == "" or _inside_mapped(path, mapped):
            continue
        flops = by_module[path]
        children = _children(by_module, path)
        kind = kind_of(path, classes.get(path, ""))
        if kind is None:
            continue
        if kind == "shared_experts" and not _has_moe_sibling(by_module, path, classes):
            kind = "mlp"  # Granite-4.0-H without experts: its shared MLP is the layer's MLP
        if kind == "mlp" and set(children) & {"gate", "experts", "router"}:
            for child, value in children.items():
                out[_MOE_PARTS.get(child, "experts")] += value
            out["experts"] += flops - sum(children.values(), zero)  # the combine (0 when counted right)
        elif kind == "attention":
            # projections: the leaf modules inside (q/k/v/o, however nested: BERT keeps them
            # in `self` and `output`); the core is what the attention modules run themselves
            parts = zero
            for child, value in children.items():
                if child in _ATTENTION_PARTS:
                    out[_ATTENTION_PARTS[child]] += value
                    parts += value
            for leaf, value in _leaves(by_module, path, skip=tuple(_ATTENTION_PARTS)).items():
                out["attention_projections"] += value
                parts += value
            out["attention_core"] += flops - parts
        else:
            out[kind] += flops
        mapped.append(path)
    total = by_module.get("", zero)
    out["other"] = sympy.expand(total - sum((v for k, v in out.items() if k != "other"), zero))
    return {name: sympy.expand(value) for name, value in out.items() if sympy.expand(value) != 0}
