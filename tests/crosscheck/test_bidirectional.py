"""Bidirectional attention (Gemma 3's use_bidirectional_attention): the keys each layer's
queries see equal the masks transformers builds (full layers every key; sliding layers
the keys less than floor(W / 2) + 1 positions away on either side, as __post_init__ sets
the window), in every config form, and the FLOPs equal FlopCounterMode's."""

import json

import pytest

import mfu_sym

from .compare import assert_same, engine
from .reference import measure
from .test_config_fidelity import _forms, _keys_per_layer

BASE = {"model_type": "gemma3_text", "hidden_size": 64, "num_hidden_layers": 6, "num_attention_heads": 4,
        "num_key_value_heads": 2, "head_dim": 16, "intermediate_size": 96, "vocab_size": 128,
        "use_bidirectional_attention": True}
CONFIGS = {"even-window": {**BASE, "sliding_window": 8}, "odd-window": {**BASE, "sliding_window": 7},
           "pattern-2": {**BASE, "sliding_window": 4, "sliding_window_pattern": 2}}
LENGTHS = (3, 11, 17)


def _our_keys(model, seq_len):
    """Keys summed over queries, per layer, from the engine's attention-core terms."""
    library = model.library
    out = []
    for term in model.terms:
        if term.formula.name == "attention_core":
            total = term.mask.total.subs(library.symbol("seq_len"), seq_len)
            layers = model.evaluate(term.count)
            out += [int(model.evaluate(total))] * int(layers)
    return sorted(out)


@pytest.mark.parametrize("seq_len", LENGTHS)
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_keys_per_layer_match_transformers_masks(tmp_path, name, seq_len):
    config = CONFIGS[name]
    for form, data in _forms(config, tmp_path).items():
        model = engine(data, tmp_path)
        assert _our_keys(model, seq_len) == sorted(_keys_per_layer(data, seq_len)), form


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_flops_match_flop_counter(tmp_path, name):
    config = CONFIGS[name]
    measured = measure(config, batch=2, seq_len=11, attn_implementation="eager")
    assert_same(engine(config, tmp_path, mask="full", attention_kernel="eager"), measured, batch=2, seq_len=11)


def test_bidirectional_counts_more_keys_than_causal(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**BASE, "sliding_window": 8}))
    bidirectional = mfu_sym.load(path)
    path.write_text(json.dumps({**BASE, "sliding_window": 8, "use_bidirectional_attention": False}))
    causal = mfu_sym.load(path)
    s, h, d = 11, 4, 16
    # 5 sliding layers: window 5 either side (8 // 2 + 1) against causal window 8; 1 full layer s^2 against s(s+1)/2
    sliding = 5 ** 2 + (s - 5) * (2 * 5 - 1) - (8 * 9 // 2 + (s - 8) * 8)
    full = s * s - s * (s + 1) // 2
    gap = (bidirectional.evaluate(bidirectional.forward("attention_core"), seq_len=s)
           - causal.evaluate(causal.forward("attention_core"), seq_len=s))
    assert gap == 4 * h * d * (5 * sliding + full)
