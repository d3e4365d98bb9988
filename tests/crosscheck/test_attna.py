"""GLM, GLM-4, OLMo 3, SmolLM3, Cohere, Cohere 2, Granite, ERNIE 4.5 and Hunyuan dense
against what transformers 5.23 executes, counted by FlopCounterMode.

Small models of every family (every branch that changes parameters or FLOPs: biases,
q/k norms of three shapes, 2 / 4 / 1 norms a layer, parallel attention and MLP, windows
from every layer-pattern form, NoPE layers, muP multipliers) are exact (0 difference)
for parameters, forward, backward and training FLOPs and component by component, with
eager attention (mask=full, eager backward) and SDPA (flash backward), at sequence lengths
below and past every window (11 is no multiple of any window). A decode step with a
DynamicCache is exact too, and the cache transformers allocates is the engine's. Every
config reads the same in the four forms users have it. Inputs transformers cannot run,
or runs differently per attention kernel, are refused, and the tests show transformers
failing on them.

The small models below are checked by test_attention_groups.py (the checks every group of
attention families runs); this module holds this group's own cases."""

import json

import pytest

import mfu_sym
from mfu_sym.errors import ConfigError

from .attention_checks import families_covered, transformers_fails
from .compare import assert_same, engine
from .reference import build_model, measure, measure_decode
from .test_config_fidelity import _keys_per_layer

# token ids inside the tiny vocabularies (GLM's default pad id 151329 is not)
IDS = {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
BASE = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, vocab_size=96,
            intermediate_size=40, **IDS)

SMALL = {
    # q/k/v biases without an o_proj bias, head_dim 24 != 64 / 4, fused gate_up_proj
    "glm": {"model_type": "glm", **BASE, "head_dim": 24},
    "glm-no-bias-mqa": {"model_type": "glm", **BASE, "num_key_value_heads": 1, "head_dim": 16,
                        "attention_bias": False, "tie_word_embeddings": True},
    # GLM plus post-attention and post-MLP norms: 4 a layer
    "glm4": {"model_type": "glm4", **BASE, "head_dim": 24},
    # the default pattern (layer 4 full), post-norms, full-width q/k norms
    "olmo3": {"model_type": "olmo3", **BASE, "sliding_window": 5},
    "olmo3-layer-types": {"model_type": "olmo3", **BASE, "num_key_value_heads": None, "sliding_window": 4,
                          "attention_bias": True,
                          "layer_types": ["full_attention", "sliding_attention", "full_attention",
                                          "sliding_attention"]},
    # NoPE every 4th layer, no windows (SmolLM3-3B's form)
    "smollm3": {"model_type": "smollm3", **BASE},
    # windows on the NoPE layers (no_rope_layers given), biases
    "smollm3-windows": {"model_type": "smollm3", **BASE, "use_sliding_window": True, "sliding_window": 5,
                        "no_rope_layers": [1, 0, 1, 0], "attention_bias": True, "mlp_bias": True,
                        "tie_word_embeddings": False},
    # windows per layer_types
    "smollm3-layer-types": {"model_type": "smollm3", **BASE, "use_sliding_window": True, "sliding_window": 6,
                            "layer_types": ["sliding_attention", "full_attention", "full_attention",
                                            "sliding_attention"]},
    # parallel attention + MLP after one LayerNorm without bias, tied
    "cohere": {"model_type": "cohere", **BASE},
    # q/k LayerNorms per head with per-head scales, every bias
    "cohere-qk-norm": {"model_type": "cohere", **BASE, "use_qk_norm": True, "attention_bias": True},
    # 3 sliding : 1 full from sliding_window_pattern (a keyword argument)
    "cohere2": {"model_type": "cohere2", **BASE, "sliding_window": 5},
    "cohere2-pattern": {"model_type": "cohere2", **BASE, "num_hidden_layers": 5, "sliding_window": 4,
                        "sliding_window_pattern": 2, "attention_bias": True},
    "cohere2-layer-types": {"model_type": "cohere2", **BASE, "sliding_window": 6, "tie_word_embeddings": False,
                            "layer_types": ["full_attention", "sliding_attention", "sliding_attention",
                                            "full_attention"]},
    # muP multipliers (scalars) and every bias
    "granite": {"model_type": "granite", **BASE, "attention_bias": True, "mlp_bias": True,
                "embedding_multiplier": 12.0, "residual_multiplier": 0.22, "attention_multiplier": 0.0078125,
                "logits_scaling": 8.0},
    # one use_bias for every projection; head_dim null -> hidden / heads
    "ernie4_5": {"model_type": "ernie4_5", **BASE, "head_dim": None, "use_bias": True},
    "ernie4_5-head-dim": {"model_type": "ernie4_5", **BASE, "head_dim": 24, "tie_word_embeddings": False},
    # per-head q/k RMSNorms after the rotary embedding
    "hunyuan_v1_dense": {"model_type": "hunyuan_v1_dense", **BASE, "head_dim": 16},
    "hunyuan_v1_dense-bias": {"model_type": "hunyuan_v1_dense", **BASE, "head_dim": 24, "attention_bias": True,
                              "tie_word_embeddings": True},
}
WINDOWED = [name for name, config in SMALL.items() if config.get("sliding_window")]


def test_every_family_is_covered():
    """Every family of formulas/hf_families_attna.yaml has small models here."""
    families_covered(SMALL, "hf_families_attna.yaml")


# ------------------------------------------------------------------ refused, and why


REFUSED = {
    # both masks are built at every forward; create_sliding_window_causal_mask raises
    "olmo3-null-window": ({"model_type": "olmo3", **BASE, "sliding_window": None}, "sliding_window", True),
    "cohere2-null-window": ({"model_type": "cohere2", **BASE, "sliding_window": None}, "sliding_window", True),
    "cohere2-all-full-null-window": ({"model_type": "cohere2", **BASE, "sliding_window": None,
                                      "layer_types": ["full_attention"] * 4}, "sliding_window", True),
    # SmolLM3 reads no_rope_layers[i] for every layer
    "smollm3-short-no-rope": ({"model_type": "smollm3", **BASE, "no_rope_layers": [1, 1, 1]},
                              "no_rope_layers", True),
    "smollm3-sliding-null-window": ({"model_type": "smollm3", **BASE, "use_sliding_window": True,
                                     "layer_types": ["full_attention", "sliding_attention"] * 2},
                                    "sliding_window", True),
    # Hunyuan's class default head_dim (null) builds no attention
    "hunyuan-null-head-dim": ({"model_type": "hunyuan_v1_dense", **BASE}, "head_dim", True),
    "glm-null-head-dim": ({"model_type": "glm", **BASE, "head_dim": None}, "head_dim", True),
    "granite-null-head-dim": ({"model_type": "granite", **BASE, "head_dim": None}, "head_dim", True),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_what_transformers_cannot_run_is_refused(tmp_path, name):
    config, field, fails = REFUSED[name]
    if fails:
        transformers_fails(config)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError) as error:
        mfu_sym.load(path)
    assert error.value.field == field or str(error.value.field).startswith(field)


def test_windows_that_depend_on_the_attention_kernel_are_refused(tmp_path):
    """SmolLM3 with sliding layer_types but use_sliding_window off: the eager and SDPA
    masks slide (they follow layer_types), flash attention does not (its window follows
    use_sliding_window). No one count is what transformers executes: refused."""
    config = {"model_type": "smollm3", **BASE, "sliding_window": 3, "use_sliding_window": False,
              "layer_types": ["sliding_attention", "full_attention"] * 2}
    keys = _keys_per_layer(config, 8)
    assert keys[0] < keys[1]  # the eager mask slides on layer 0
    model = build_model(config, attn_implementation="eager")
    assert model.model.layers[0].self_attn.sliding_window is None  # the kernel's window is off
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="use_sliding_window is false"):
        mfu_sym.load(path)


@pytest.mark.parametrize("model_type", ["glm", "cohere", "granite"])
def test_a_window_the_attention_never_reads_still_windows_the_decode_cache(tmp_path, model_type):
    """Why a stray sliding_window is refused for the families without windows: training
    FLOPs are unchanged, but transformers' DynamicCache keeps window - 1 positions, so the
    decode step attends to fewer keys."""
    config = {"model_type": model_type, **BASE}
    stray = {**config, "sliding_window": 4}
    assert measure(config, batch=1, seq_len=9).forward == measure(stray, batch=1, seq_len=9).forward
    plain, windowed = (measure_decode(c, batch=1, context=9) for c in (config, stray))
    assert windowed.forward < plain.forward
    assert [k[2] for k, _ in windowed.cache_shapes] == [3] * BASE["num_hidden_layers"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(stray))
    with pytest.raises(ConfigError, match="decode cache"):
        mfu_sym.load(path)


@pytest.mark.parametrize("value, message", [
    ([1, 2, 1, 0], "expected 0 for a NoPE layer or 1 for RoPE"),
    ([1, 0.0, 1, 0], "expected 0 for a NoPE layer or 1 for RoPE"),
    ("1110", "expected a list"),
])
def test_no_rope_layers_must_be_a_list_of_flags(tmp_path, value, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "smollm3", **BASE, "no_rope_layers": value}))
    with pytest.raises(ConfigError, match=message):
        mfu_sym.load(path)


def test_use_qk_norm_must_be_a_boolean(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "cohere", **BASE, "use_qk_norm": "yes"}))
    with pytest.raises(ConfigError, match="not true or false"):
        mfu_sym.load(path)


@pytest.mark.parametrize("head_dim, expected", [(None, 16), (32, 32)])
def test_cohere2_head_dim_given_replaces_the_derived_one(tmp_path, head_dim, expected):
    """Cohere2Config.__post_init__ sets head_dim = hidden_size // num_attention_heads, then
    sets the keyword arguments it did not consume, a head_dim among them: a head_dim in
    the file wins, in transformers and here."""
    config = {"model_type": "cohere2", **BASE, "sliding_window": 5}
    if head_dim:
        config["head_dim"] = head_dim
    measured = measure(config, batch=1, seq_len=7, attn_implementation="eager")
    model = engine(config, tmp_path, mask="full", attention_kernel="eager")
    assert model.arch.d_head == expected
    assert_same(model, measured, batch=1, seq_len=7)


def test_nope_layers_change_no_flops(tmp_path):
    """SmolLM3's NoPE layers skip an elementwise rotation only: any no_rope_layers gives
    the same counts, in transformers and here."""
    counts = set()
    for pattern in ([1, 1, 1, 1], [0, 0, 0, 0], [1, 0, 0, 1]):
        config = {"model_type": "smollm3", **BASE, "no_rope_layers": pattern}
        measured = measure(config, batch=1, seq_len=5, attn_implementation="eager")
        model = engine(config, tmp_path, mask="full", attention_kernel="eager")
        assert_same(model, measured, batch=1, seq_len=5)
        counts.add((measured.params, measured.forward, measured.backward))
    assert len(counts) == 1
