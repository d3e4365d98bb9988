"""The layer stack: a model is groups of identical layers, each a token mixer and a
feed-forward block of a named kind; every derived count comes from it."""

import pytest
import yaml

import mfu_sym
from cli_helpers import write_model as _write
from mfu_sym import stack
from mfu_sym.errors import ConfigError
from mfu_sym.stack import LayerGroup



BASE = {"d_model": 64, "n_heads": 4, "d_ff": 96, "vocab_size": 100, "seq_len": 16}


def test_stacks_group_consecutive_identical_layers(example):
    gemma = mfu_sym.load_architecture(example("gemma3_27b.yaml"))  # 62 layers, every 6th full
    assert gemma.layers[:2] == (LayerGroup(5, "sliding_attention", "dense"), LayerGroup(1, "attention", "dense"))
    assert sum(g.count for g in gemma.layers) == 62
    assert (gemma.n_window_layers, gemma.values()["n_window_layers"]) == (52, 52)
    deepseek = mfu_sym.load_architecture(example("deepseek_v3.yaml"))
    assert deepseek.layers == (LayerGroup(3, "mla", "dense"), LayerGroup(58, "mla", "moe"))
    assert deepseek.values()["n_moe_layers"] == 58


def test_a_layers_list_describes_the_same_model_as_the_per_layer_fields(tmp_path, example):
    source = yaml.safe_load(open(example("deepseek_v3.yaml")))
    del source["first_dense_layers"], source["n_layers"]
    source["layers"] = [{"count": 3, "ffn": "dense"}, {"count": 58}]  # mixer: mla, ffn: moe by default
    grouped, original = mfu_sym.load(_write(tmp_path, source)), mfu_sym.load(example("deepseek_v3.yaml"))
    assert grouped.arch.layers == original.arch.layers
    assert grouped.evaluate(grouped.training(), seq_len=4096) == original.evaluate(original.training(), seq_len=4096)


def test_a_heterogeneous_stack_costs_each_group(tmp_path):
    """Sliding and full layers interleaved in groups, MoE in some: the same numbers as the
    per-layer description, whatever the order of the groups."""
    groups = [{"count": 2, "mixer": "sliding_attention"}, {"count": 1, "mixer": "attention", "ffn": "dense"},
              {"count": 3, "mixer": "sliding_attention", "ffn": "dense"}, {"count": 2, "mixer": "attention"}]
    moe = {"n_experts": 4, "top_k": 2, "d_expert": 32, "window": 5}
    model = mfu_sym.load(_write(tmp_path, {**BASE, **moe, "layers": groups}, "g.yaml"))
    layer_types = ["sliding_attention"] * 2 + ["full_attention"] + ["sliding_attention"] * 3 + ["full_attention"] * 2
    per_layer = mfu_sym.load(_write(tmp_path, {**BASE, **moe, "n_layers": 8, "layer_types": layer_types,
                                               "dense_layers": [2, 3, 4, 5]}, "p.yaml"))
    assert model.arch.values() == per_layer.arch.values()
    assert model.arch.values()["n_window_layers"] == 5 and model.arch.values()["n_moe_layers"] == 4
    for s in (3, 16):
        assert model.evaluate(model.training(), seq_len=s) == per_layer.evaluate(per_layer.training(), seq_len=s)
    # by hand: 5 window layers see min(t, 5) keys, 3 full layers see t
    core = model.evaluate(model.forward("attention_core"), seq_len=16)
    keys = 5 * sum(min(t, 5) for t in range(1, 17)) + 3 * sum(range(1, 17))
    assert core == 4 * 4 * 16 * keys  # 4 h d_head per key: scores and values


@pytest.mark.parametrize("change, field, message", [
    ({"layers": [{"count": 2}, {"count": 3}], "n_layers": 4}, "n_layers", "4, but the layers add up to 5"),
    ({"layers": [{"count": 2, "mixer": "mambo"}]}, "layers[0].mixer", "'mambo' (expected one of"),
    ({"layers": [{"count": 2, "mixer": "mla"}]}, "kv_lora_rank", "missing (the stack has mla layers)"),
    ({"layers": [{"count": 2, "ffn": "moe"}]}, "n_experts", "missing (the stack has moe layers)"),
    ({"layers": [{"count": 2, "mixer": "sliding_attention"}]}, "window", "missing"),
    ({"layers": [{"count": 0}]}, "layers[0].count", "not positive"),
    ({"layers": [{"count": 60000}, {"count": 60000}]}, "layers[1].count", "more than 100,000 layers"),
    ({"layers": [{"count": 2, "size": 3}]}, "layers[0].size", "unknown field"),
    ({"layers": {"count": 2}}, "layers", "expected a list of groups"),
    ({"layers": [{"count": 2}], "layer_types": ["full_attention"] * 2}, "layer_types", "give either layers"),
])
def test_bad_stacks(tmp_path, change, field, message):
    data = {**BASE, **change}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        mfu_sym.load_architecture(_write(tmp_path, data))
    assert info.value.field == field


def test_counts_are_symbols_only_where_kinds_share_the_stack():
    import sympy
    n = sympy.Symbol("n_layers")
    symbol = sympy.Symbol
    mixed = (LayerGroup(2, "attention", "dense"), LayerGroup(3, "sliding_attention", "dense"))
    assert stack.counted(mixed, "mixer", n, symbol) == [("attention", n - symbol("n_window_layers")),
                                                        ("sliding_attention", symbol("n_window_layers"))]
    assert stack.counted(mixed, "ffn", n, symbol) == [("dense", n)]
    assert stack.count_values(mixed) == {"n_window_layers": 3}
