"""EXAONE 4, Seed-OSS, StarCoder2, StableLM, Gemma, Apertus, Arcee, Helium and Ministral against
what transformers 5.23 executes, counted by FlopCounterMode.

Small models of every family (every branch that changes parameters or FLOPs: biases of
every split, LayerNorm with bias, plain and gated MLPs, xIELU's parameters, post-norms, per-head q/k norms
shared and one per head, parallel attention and MLP, windows from every layer-pattern
form) are exact (0 difference) for parameters, forward, backward and training FLOPs and
component by component, with eager attention (mask=full, eager backward) and SDPA (flash
backward), at sequence lengths below and past every window (11 is no multiple of any
window). A decode step with a DynamicCache is exact too, and the cache transformers
allocates is the engine's. Every config reads the same in the four forms users have it.
Inputs transformers cannot run, or runs differently in its decode cache, are refused, and
the tests show transformers failing on them.

The small models below are checked by test_attention_groups.py (the checks every group of
attention families runs); this module holds this group's own cases."""

import json
from pathlib import Path

import pytest

import mfu_sym
from mfu_sym.errors import ConfigError

from .attention_checks import families_covered, transformers_fails
from .compare import assert_same, engine
from .reference import build_model, count_params, measure, measure_decode

ROOT = Path(__file__).resolve().parents[2]
IDS = {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
BASE = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, vocab_size=96,
            intermediate_size=40, **IDS)
MIXED = ["sliding_attention", "full_attention", "full_attention", "sliding_attention"]

SMALL = {
    # the default pattern (layer 4 full), post-norms, per-head q/k norms, head_dim absent
    "exaone4": {"model_type": "exaone4", **BASE, "sliding_window": 5},
    "exaone4-layer-types": {"model_type": "exaone4", **BASE, "sliding_window": 6, "head_dim": 24,
                            "sliding_window_pattern": "LLLG", "layer_types": MIXED, "tie_word_embeddings": True},
    "exaone4-no-window": {"model_type": "exaone4", **BASE, "sliding_window": None,
                          "layer_types": ["full_attention"] * 4},
    # q/k/v biases without an o_proj bias (the class default), head_dim 24 != 64 / 4
    "seed_oss": {"model_type": "seed_oss", **BASE, "head_dim": 24},
    "seed_oss-every-bias": {"model_type": "seed_oss", **BASE, "head_dim": 16, "attention_out_bias": True,
                            "mlp_bias": True, "tie_word_embeddings": True},
    "seed_oss-no-bias": {"model_type": "seed_oss", **BASE, "head_dim": None, "num_key_value_heads": None,
                         "attention_bias": False},
    # LayerNorm with bias, plain MLP with biases, every layer sliding
    "starcoder2": {"model_type": "starcoder2", **BASE, "sliding_window": 5},
    "starcoder2-no-bias": {"model_type": "starcoder2", **BASE, "use_bias": False, "tie_word_embeddings": False,
                           "head_dim": 24},
    # pre-norm LayerNorms, no biases
    "stablelm": {"model_type": "stablelm", **BASE},
    # one norm before parallel attention and MLP, a LayerNorm per head for q and k, q/k/v biases
    "stablelm-parallel": {"model_type": "stablelm", **BASE, "use_parallel_residual": True, "qk_layernorm": True,
                          "use_qkv_bias": True, "tie_word_embeddings": True},
    "gemma": {"model_type": "gemma", **BASE, "head_dim": 24},
    "gemma-bias-mqa": {"model_type": "gemma", **BASE, "head_dim": 16, "num_key_value_heads": 1,
                       "attention_bias": True, "tie_word_embeddings": False},
    # up -> xIELU (two learnable scalars) -> down, per-head q/k norms, KV heads null
    "apertus": {"model_type": "apertus", **BASE, "num_key_value_heads": None},
    # any other activation has no parameters; every attention bias; head_dim 24
    "apertus-gelu-bias": {"model_type": "apertus", **BASE, "hidden_act": "gelu", "attention_bias": True,
                          "head_dim": 24},
    # up -> ReLU² -> down; head_dim and KV heads null
    "arcee": {"model_type": "arcee", **BASE, "num_key_value_heads": None},
    "arcee-bias": {"model_type": "arcee", **BASE, "head_dim": 24, "attention_bias": True, "mlp_bias": True},
    # q/k/v biases only
    "helium": {"model_type": "helium", **BASE, "head_dim": 16},
    "helium-bias": {"model_type": "helium", **BASE, "head_dim": 16, "attention_bias": True, "mlp_bias": True,
                    "tie_word_embeddings": True},
    # every layer sliding (the __post_init__ default), or per layer_types
    "ministral": {"model_type": "ministral", **BASE, "head_dim": 16, "sliding_window": 5},
    "ministral-layer-types": {"model_type": "ministral", **BASE, "head_dim": 24, "sliding_window": 6,
                              "layer_types": MIXED},
}
WINDOWED = [name for name, config in SMALL.items() if config.get("sliding_window")]


def test_every_family_is_covered():
    """Every family of formulas/hf_families_attnb.yaml has small models here."""
    families_covered(SMALL, "hf_families_attnb.yaml")


# ------------------------------------------------------------------ refused, and why


REFUSED = {
    # __post_init__ computes layer_types modulo a pattern it set to 0
    "exaone4-null-window": ({"model_type": "exaone4", **BASE, "sliding_window": None}, "sliding_window"),
    # (i + 1) % "LLLG"
    "exaone4-text-pattern": ({"model_type": "exaone4", **BASE, "sliding_window": 4,
                              "sliding_window_pattern": "LLLG"}, "sliding_window_pattern"),
    "exaone4-sliding-null-window": ({"model_type": "exaone4", **BASE, "sliding_window": None, "layer_types": MIXED},
                                    "sliding_window"),
    # both masks are built at every forward
    "ministral-null-window": ({"model_type": "ministral", **BASE, "head_dim": 16, "sliding_window": None},
                              "sliding_window"),
    "ministral-null-head-dim": ({"model_type": "ministral", **BASE, "sliding_window": 4}, "head_dim"),
    "gemma-null-head-dim": ({"model_type": "gemma", **BASE, "head_dim": None}, "head_dim"),
    "helium-null-head-dim": ({"model_type": "helium", **BASE, "head_dim": None}, "head_dim"),
    # o_proj takes hidden_size inputs
    "helium-wide-heads": ({"model_type": "helium", **BASE, "head_dim": 24}, "head_dim"),
    "stablelm-indivisible": ({"model_type": "stablelm", **BASE, "num_attention_heads": 6,
                              "num_key_value_heads": 6}, "num_attention_heads"),
    "arcee-indivisible": ({"model_type": "arcee", **BASE, "num_attention_heads": 6, "num_key_value_heads": 6,
                           "head_dim": 16}, "num_attention_heads"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_what_transformers_cannot_run_is_refused(tmp_path, name):
    config, field = REFUSED[name]
    transformers_fails(config)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError) as error:
        mfu_sym.load(path)
    assert error.value.field == field or str(error.value.field).startswith(field)


@pytest.mark.parametrize("model_type, extra", [
    ("gemma", {"head_dim": 16}), ("seed_oss", {}), ("helium", {"head_dim": 16}), ("arcee", {}),
    ("stablelm", {}), ("starcoder2", {}),
])
def test_a_window_the_attention_never_reads_still_windows_the_decode_cache(tmp_path, model_type, extra):
    """Why a stray window key is refused where the attention reads none (StarCoder2:
    layer_types, which the cache follows and the attention does not): training FLOPs are
    unchanged, but transformers' DynamicCache keeps window - 1 positions, so the decode
    step attends to fewer keys."""
    config = {"model_type": model_type, **BASE, **extra}
    stray = {**config, "sliding_window": 4}
    if model_type == "starcoder2":
        config, stray = stray, {**stray, "layer_types": ["full_attention"] * 4}
    assert measure(config, batch=1, seq_len=9).forward == measure(stray, batch=1, seq_len=9).forward
    first, second = (measure_decode(c, batch=1, context=9) for c in (config, stray))
    assert first.forward != second.forward
    path = tmp_path / "config.json"
    path.write_text(json.dumps(stray))
    with pytest.raises(ConfigError, match="decode cache"):
        mfu_sym.load(path)


def test_an_o_proj_bias_alone_is_refused(tmp_path):
    """Seed-OSS with attention_out_bias but no q/k/v biases: not a choice of attention_bias."""
    config = {"model_type": "seed_oss", **BASE, "head_dim": 16, "attention_bias": False, "attention_out_bias": True}
    model = build_model(config, attn_implementation="eager", device="meta")
    assert model.model.layers[0].self_attn.o_proj.bias is not None
    assert model.model.layers[0].self_attn.q_proj.bias is None
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="o_proj bias without") as error:
        mfu_sym.load(path)
    assert error.value.field == "attention_out_bias"


def test_gemma_bidirectional_attention_is_refused(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "gemma", **BASE, "head_dim": 16, "use_bidirectional_attention": True}))
    with pytest.raises(ConfigError) as error:
        mfu_sym.load(path)
    assert error.value.field == "use_bidirectional_attention"


# ------------------------------------------------------------------ the flagships at full size

FULL_SIZE = [  # (examples/hf dir, sequence length, batch): shapes only, on the meta device
    ("helium_1_preview_2b", 4096, 1),
    ("stablelm_2_1_6b_chat", 4096, 1),
    ("starcoder2_15b", 5000, 1),  # past its 4096 window, no multiple of it
]


@pytest.mark.parametrize("name, seq_len, batch", FULL_SIZE)
def test_flagships_at_full_size(tmp_path, name, seq_len, batch):
    config = json.loads((ROOT / "examples" / "hf" / name / "config.json").read_text())
    measured = measure(config, batch=batch, seq_len=seq_len, attn_implementation="eager", device="meta")
    model = engine(config, tmp_path, mask="full", attention_kernel="eager")
    assert_same(model, measured, batch=batch, seq_len=seq_len)


def test_apertus_prelu_has_a_parameter_per_mlp_and_is_refused(tmp_path):
    """Why hidden_act prelu is refused: ACT2FN's nn.PReLU carries one learnable slope in
    each ApertusMLP, which no feed-forward kind counts."""
    gelu, prelu = ({"model_type": "apertus", **BASE, "hidden_act": act} for act in ("gelu", "prelu"))
    counts = [count_params(build_model(c, attn_implementation="eager", device="meta")) for c in (gelu, prelu)]
    assert counts[1] - counts[0] == BASE["num_hidden_layers"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(prelu))
    with pytest.raises(ConfigError, match="learnable parameter"):
        mfu_sym.load(path)
