"""DeepSeek sparse attention (the `dsa` mixer kind) without transformers: the model format
(layers: groups with dsa layers, flat size keys), the counts of its disputed terms
(variants dsa_core and dsa_indexer) in closed form, decode and its caches, and every
refusal of the readers (formulas/hf_families_deepseek.yaml, hf_layers/deepseek.py,
blocks/sparse.py). Against transformers itself: tests/crosscheck/test_dsa.py."""


import pytest

from cli_helpers import write_model as _write
from cli_helpers import load_model as _load
from mfu_sym import stack
from mfu_sym.errors import ConfigError, UsageError
from mfu_sym.inference import Inference

from cli_helpers import assert_one_error_line, run

# DeepSeek-V3.2's shape, tiny: 3 DSA layers, the first dense, the others MoE with 2 shared experts.
V32 = {"model_type": "deepseek_v32", "hidden_size": 64, "intermediate_size": 96, "moe_intermediate_size": 24,
       "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4, "n_shared_experts": 2,
       "n_routed_experts": 8, "n_group": 2, "topk_group": 1, "num_experts_per_tok": 2, "first_k_dense_replace": 1,
       "q_lora_rank": 32, "kv_lora_rank": 16, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 12,
       "vocab_size": 128, "index_topk": 5, "index_head_dim": 16, "index_n_heads": 2}
# The same model in the model format.
YAML = {"name": "dsa", "d_model": 64, "vocab_size": 128, "n_heads": 4, "d_ff": 96, "q_lora_rank": 32,
        "kv_lora_rank": 16, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 12, "n_experts": 8,
        "top_k": 2, "d_expert": 24, "d_shared": 48, "index_topk": 5, "index_head_dim": 16, "index_n_heads": 2,
        "layers": [{"count": 1, "mixer": "dsa", "ffn": "dense"}, {"count": 2, "mixer": "dsa", "ffn": "moe"}]}
V2 = {"model_type": "deepseek_v2", "hidden_size": 64, "intermediate_size": 96, "moe_intermediate_size": 24,
      "num_hidden_layers": 3, "num_attention_heads": 4, "vocab_size": 128, "n_routed_experts": 8,
      "num_experts_per_tok": 2, "kv_lora_rank": 16, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8,
      "v_head_dim": 12}
H, R, DR, DN, DV, RQ, K, HI, DI, D = 4, 16, 8, 16, 12, 32, 5, 2, 16, 64  # the sizes above




def _counts(model, seq_len=12, batch=2):
    report = model.report(seq_len=seq_len, batch=batch)
    return report["params"], report["flops"]["forward"], report["flops"]["training"]


def _component(model, name, seq_len=12, batch=1):
    return model.report(seq_len=seq_len, batch=batch)["flops"]["components"][name]


# ---------------------------------------------------------------- the model format

@pytest.mark.parametrize("variants", [{}, {"dsa_core": "naive"}, {"dsa_indexer": "kl_sparse"}])
def test_a_yaml_dsa_model_is_the_deepseek_v32_config(tmp_path, variants):
    """dsa layers in the format, with flat size keys, count what the HF reader (checked
    against transformers in the crosscheck) gives for the same DeepSeek-V3.2."""
    ours = _load(tmp_path, YAML, variants=variants)
    theirs = _load(tmp_path, V32, "config.json", variants=variants)
    assert ours.arch.layers == theirs.arch.layers
    for seq_len in (3, 5, 12):  # below, at and past index_topk
        assert _counts(ours, seq_len) == _counts(theirs, seq_len)
    ours, theirs = Inference(ours), Inference(theirs)
    assert ours.report(9, batch=2)["decode_step"] == theirs.report(9, batch=2)["decode_step"]
    assert ours.report(9, batch=2)["kv_cache_bytes"] == theirs.report(9, batch=2)["kv_cache_bytes"]


def test_dsa_and_mla_layers_share_a_stack(tmp_path):
    """A hybrid (e.g. dense MLA first, DSA after): each kind counted on its own layers; only
    the dsa layers hold indexer keys."""
    model = _load(tmp_path, {**YAML, "layers": [{"count": 1, "mixer": "mla", "ffn": "dense"},
                                                {"count": 2, "mixer": "dsa", "ffn": "moe"}]})
    assert stack.counts(model.arch.layers, "mixer") == {"mla": 1, "dsa": 2}
    pure = _load(tmp_path, YAML)
    indexer = _component(pure, "indexer")
    assert _component(model, "indexer")["forward"] * 3 == indexer["forward"] * 2
    assert _component(model, "indexer")["params"] * 3 == indexer["params"] * 2
    positions = Inference(model).report(7, batch=1)["kv_cache"]["positions_per_layer"]
    assert positions["dsa_indexer_keys"] == 7


# ---------------------------------------------------------------- the terms, in closed form

def _per_query_keys(seq_len, top_k=None):
    return [t if top_k is None else min(t, top_k) for t in range(1, seq_len + 1)]


@pytest.mark.parametrize("seq_len", [3, 5, 12])
def test_absorbed_core_over_the_top_k(tmp_path, seq_len):
    """Default (DeepSeek's kernels): per selected key, scores over r_kv + d_rope and the sum
    over r_kv, for min(t, index_topk) keys of query t; the key and value up-projections
    absorbed (2 h r_kv (d_nope + d_v) a token)."""
    model = _load(tmp_path, YAML)
    core = _component(model, "attention_core", seq_len)["forward"]
    assert core == 3 * sum(2 * H * k * (R + DR) + 2 * H * k * R for k in _per_query_keys(seq_len, K))


@pytest.mark.parametrize("core, top_k, dims", [("naive", K, (DN + DR, DV)), ("dense", None, (DN + DR, DV))])
def test_naive_and_dense_cores(tmp_path, core, top_k, dims):
    """naive (MaxText): the top-k keys in the trained dims; dense (transformers, Megatron-LM):
    every causal key."""
    model = _load(tmp_path, YAML, variants={"dsa_core": core})
    got = _component(model, "attention_core", 12)["forward"]
    assert got == 3 * sum(2 * H * k * sum(dims) for k in _per_query_keys(12, top_k))


def _indexer_forward(seq_len):
    projections = 2 * (RQ * HI * DI + D * DI + D * HI)
    return 3 * sum(projections + 2 * HI * DI * t + 2 * HI * t for t in range(1, seq_len + 1))


@pytest.mark.parametrize("choice, backward", [
    ("forward_only", lambda s: 0),
    ("trained", lambda s: 2 * _indexer_forward(s)),
    # projections: weight gradient only (1 x); scores: backward over the selected keys only
    ("kl_sparse", lambda s: 3 * sum(2 * (RQ * HI * DI + D * DI + D * HI) + 4 * HI * (DI + 1) * min(t, K)
                                    for t in range(1, s + 1))),
])
def test_indexer_variants(tmp_path, choice, backward):
    """The indexer scores every causal key whatever the core does (selection needs every
    score); what its backward is depends on how it is trained."""
    model = _load(tmp_path, YAML, variants={"dsa_indexer": choice})
    indexer = _component(model, "indexer", 12)
    teacher = 3 * sum(2 * H * (R + DR) * min(t, K) for t in range(1, 13)) if choice == "kl_sparse" else 0
    assert indexer["forward"] == _indexer_forward(12) + teacher
    assert indexer["backward"] == backward(12)
    assert indexer["params"] == 3 * (RQ * HI * DI + D * DI + D * HI)


def test_indexer_none_keeps_its_parameters(tmp_path):
    """Counts that know no indexer (Megatron-LM, torchtitan) bill none of its FLOPs; the
    layer still holds its weights."""
    model = _load(tmp_path, YAML, variants={"dsa_indexer": "none"})
    assert _component(model, "indexer") == {"forward": 0, "backward": 0,
                                             "params": 3 * (RQ * HI * DI + D * DI + D * HI)}
    assert _counts(model)[0] == _counts(_load(tmp_path, YAML))[0]


def test_maxtext_bypasses_the_indexer_up_to_the_top_k(tmp_path):
    model = _load(tmp_path, YAML, variants={"dsa_indexer": "maxtext"})
    assert _component(model, "indexer", K)["forward"] == 0
    assert _component(model, "indexer", K + 1)["forward"] > 0


# ---------------------------------------------------------------- refusals

@pytest.mark.parametrize("change, field, message", [
    ({"layer_types": ["full_attention"] * 3}, "layer_types[0]", "transformers runs DSA in every DeepSeek-V3.2 layer"),
    ({"layer_types": ["indexed_attention"] * 2}, "layer_types", "has 2 entries"),
    ({"layer_types": "indexed_attention"}, "layer_types", "expected a list of layer types"),
    ({"mlp_layer_types": ["dense", "moe", "dense"]}, "mlp_layer_types[1]", "'moe'"),
    ({"mlp_layer_types": ["dense", "sparse"]}, "mlp_layer_types", "has 2 entries"),
    ({"num_experts": 4}, "num_experts", "but n_routed_experts is 8"),
    ({"attention_bias": True}, "attention_bias", "not supported"),
    ({"index_head_dim": 4}, "index_head_dim", "smaller than qk_rope_head_dim"),
    ({"q_lora_rank": None}, "q_lora_rank", "null, but DeepseekV32Config's model needs a size here (expected an "
     "integer; the class default is 1536)"),
    ({"index_topk": 0}, "index_topk", "not positive"),
])
def test_deepseek_v32_refusals(tmp_path, change, field, message):
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, {**V32, **change}, "config.json")
    assert f"{field}: " in str(error.value) and message in str(error.value)


@pytest.mark.parametrize("change, field, message", [
    ({"topk_method": "noaux_tc"}, "topk_method", "not supported"),
    ({"q_lora_rank": 0}, "q_lora_rank", "zero-width query projections"),
    ({"attention_bias": True}, "attention_bias", "not supported"),
    ({"num_key_value_heads": 2}, "num_key_value_heads", ""),
])
def test_deepseek_v2_refusals(tmp_path, change, field, message):
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, {**V2, **change}, "config.json")
    assert f"{field}: " in str(error.value) and message in str(error.value)


@pytest.mark.parametrize("drop, change, field, message", [
    ("q_lora_rank", {}, "q_lora_rank", "indexer's queries from MLA's query latent"),
    ("index_topk", {}, "index_topk", "missing"),
    ("kv_lora_rank", {}, "", "kv_lora_rank"),
    (None, {"layers": [{"count": 3, "mixer": "mla"}]}, "index_head_dim", "no layer of the model uses it"),
])
def test_yaml_refusals(tmp_path, drop, change, field, message):
    data = {k: v for k, v in {**YAML, **change}.items() if k != drop}
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, data)
    assert f"{field}: " in str(error.value) and message in str(error.value)


def test_the_cli_refuses_in_one_line(tmp_path):
    result = run("analyze", _write(tmp_path, {**V32, "num_experts": 4}, "config.json"))
    assert_one_error_line(result, "num_experts", "but n_routed_experts is 8")


def test_switches_the_model_does_not_read_are_refused(tmp_path):
    """--mla belongs to MLA layers (a DSA core is --variant dsa_core), and the dsa variants
    to models with dsa layers."""
    dsa = _write(tmp_path, YAML)
    result = run("analyze", dsa, "--mla", "absorbed")
    assert result.exit_code == 2 and "--mla: the model has no multi-head latent attention layers" in result.output
    assert "--variant dsa_core" in result.output
    result = run("analyze", _write(tmp_path, V2, "config.json"), "--variant", "dsa_core=naive")
    assert result.exit_code == 2 and "dsa_core: the model has no layer that counts this term" in result.output
    with pytest.raises((ConfigError, UsageError)):
        _load(tmp_path, YAML, variants={"dsa_core": "sparse"})
