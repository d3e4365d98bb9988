"""The moeb group without transformers: the model format (layers: groups with the
zero_moe, dense_zero_moe and ernie_moe kinds, the n_zero_experts size, the
zero_moe_router_bias feature), the zero-computation-expert variants (zero_expert_routing,
zero_expert_slots), decode with zero-computation experts, and every refusal of the HF
readers (formulas/hf_families_moeb.yaml, hf_layers/moeb.py). Against transformers
itself: tests/crosscheck/test_moeb.py."""

from fractions import Fraction

import pytest
import sympy

from cli_helpers import write_model as _write
from cli_helpers import load_model as _load
from mfu_sym.inference import Inference

from cli_helpers import assert_one_error_line, run, run_json

S = dict(hidden_size=64, num_attention_heads=4, vocab_size=96)
MLA = dict(kv_lora_rank=16, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=12)
LONGCAT = {"model_type": "longcat_flash", **S, **MLA, "num_layers": 2, "ffn_hidden_size": 80,
           "expert_ffn_hidden_size": 24, "n_routed_experts": 4, "zero_expert_num": 2, "moe_topk": 3,
           "q_lora_rank": 32, "head_dim": 8}
ERNIE = {"model_type": "ernie4_5_moe", **S, "num_hidden_layers": 4, "num_key_value_heads": 2,
         "intermediate_size": 80, "moe_intermediate_size": 24, "moe_num_experts": 6, "moe_k": 2,
         "moe_num_shared_experts": 1, "moe_layer_start_index": 1, "moe_layer_interval": 2}
HUNYUAN = {"model_type": "hunyuan_v1_moe", **S, "num_hidden_layers": 2, "num_key_value_heads": 2,
           "head_dim": 16, "intermediate_size": 40, "num_experts": 4, "moe_topk": [2, 2]}
GLM_LITE = {"model_type": "glm4_moe_lite", **S, **MLA, "num_hidden_layers": 3, "num_key_value_heads": 4,
            "intermediate_size": 80, "moe_intermediate_size": 24, "n_routed_experts": 6,
            "num_experts_per_tok": 2, "q_lora_rank": 32, "mlp_layer_types": ["dense", "sparse", "dense"]}
GLM = {"model_type": "glm4_moe", **S, "num_hidden_layers": 3, "num_key_value_heads": 2, "head_dim": 24,
       "intermediate_size": 80, "moe_intermediate_size": 24, "n_routed_experts": 6, "num_experts_per_tok": 2,
       "n_shared_experts": 2, "first_k_dense_replace": 1}

# LongCat's stack in the model format: each transformers layer is two layers of the stack.
MLA_YAML = {"q_lora_rank": 32, "kv_lora_rank": 16, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 12}
LONGCAT_YAML = {"name": "longcat", "d_model": 64, "n_heads": 4, "vocab_size": 96, "d_ff": 80, **MLA_YAML,
                "n_experts": 4, "top_k": 3, "d_expert": 24, "n_zero_experts": 2,
                "layers": [{"count": 1, "mixer": "mla", "ffn": "dense_zero_moe"}, {"count": 1, "mixer": "mla", "ffn": "dense"},
                           {"count": 1, "mixer": "mla", "ffn": "dense_zero_moe"}, {"count": 1, "mixer": "mla", "ffn": "dense"}]}
ERNIE_YAML = {"name": "ernie", "d_model": 64, "n_heads": 4, "n_kv_heads": 2, "vocab_size": 96, "d_ff": 80,
              "tied_embeddings": True, "n_experts": 6, "top_k": 2, "d_expert": 24, "d_shared": 24,
              "layers": [{"count": 1, "mixer": "attention", "ffn": "ernie_moe"}, {"count": 1, "mixer": "attention", "ffn": "dense"},
                         {"count": 1, "mixer": "attention", "ffn": "ernie_moe"}, {"count": 1, "mixer": "attention", "ffn": "dense"}]}




def _counts(model, seq_len=7, batch=2):
    report = model.report(seq_len=seq_len, batch=batch)
    return report["params"], report["flops"]["forward"], report["flops"]["training"]


# ---------------------------------------------------------------- the model format

def test_a_yaml_longcat_is_the_longcat_config(tmp_path):
    """dense_zero_moe and n_zero_experts in the format give what the HF reader gives for the
    same LongCat-Flash (the reader is checked against transformers in the crosscheck)."""
    ours = _load(tmp_path, LONGCAT_YAML)
    theirs = _load(tmp_path, LONGCAT, "config.json")
    assert _counts(ours) == _counts(theirs)
    assert ours.arch.layers == theirs.arch.layers


def test_a_yaml_ernie_is_the_ernie_config(tmp_path):
    """ernie_moe in the format: the score correction's n_experts parameters a MoE layer."""
    ours = _load(tmp_path, ERNIE_YAML)
    theirs = _load(tmp_path, ERNIE, "config.json")
    assert _counts(ours) == _counts(theirs)
    plain = _load(tmp_path, {**ERNIE_YAML, "layers": [{**g, "ffn": "moe" if g["ffn"] == "ernie_moe" else "dense"}
                                                      for g in ERNIE_YAML["layers"]]})
    assert ours.evaluate(ours.params()) - plain.evaluate(plain.params()) == 2 * 6


def test_a_yaml_zero_moe_layer_counts_the_uniform_expectation(tmp_path):
    """A plain zero_moe layer: router over the pool of 4 + 3, 2 slots a token, 2 x 4 / 7 = 8/7
    real experts a token on average; the per-token count is that exact fraction."""
    model = _load(tmp_path, {"name": "z", "d_model": 64, "n_heads": 4, "vocab_size": 96, "n_experts": 4, "top_k": 2,
                             "d_expert": 24, "n_zero_experts": 3,
                             "layers": [{"count": 2, "mixer": "attention", "ffn": "zero_moe"}]})
    rows = {r["formula"]: r for r in model.breakdown()}
    experts = model.evaluate(rows["zero_moe_experts_uniform"]["forward"], seq_len=7)
    assert experts == sympy.Rational(8, 7) * 6 * 64 * 24 * 7
    assert model.evaluate(rows["zero_moe_router"]["forward"], seq_len=7) == 2 * 64 * 7 * 7
    per_token = model.report(seq_len=7, batch=1)["flops"]["per_token"]["forward"]
    assert not per_token.is_Integer and (per_token * 7).is_Integer


@pytest.mark.parametrize("zero, pool", [(2, 4 + 2), (0, 4)])
def test_router_bias_is_one_per_expert_of_the_pool(tmp_path, zero, pool):
    """router_bias (a kwarg transformers reads with getattr): the classifier's bias, one per
    expert of the pool, in each of the 2 MoE blocks."""
    def params(**extra):
        model = _load(tmp_path, {**LONGCAT, "zero_expert_num": zero, **extra}, "config.json")
        return model.evaluate(model.params())

    assert params(router_bias=True) - params() == 2 * pool


@pytest.mark.parametrize("change, field, message", [
    ({"n_zero_experts": -1}, "n_zero_experts", "-1"),
    ({"layers": [{"count": 4, "mixer": "mla", "ffn": "moe"}]}, "n_zero_experts", "no layer of the model uses it"),
    ({"zero_moe_router_bias": "yes"}, "zero_moe_router_bias", "expected one of false, true"),
    ({"expert_mlp": "plain"}, "expert_mlp", "gated experts only"),
    ({"n_experts": None, "top_k": None, "d_expert": None}, "n_experts", "the stack has dense_zero_moe layers"),
    ({"layers": [{"count": 4, "mixer": "mla", "ffn": "zero_mo"}]}, "layers[0].ffn", "'zero_mo'"),
])
def test_the_format_refuses(tmp_path, change, field, message):
    data = {k: v for k, v in {**LONGCAT_YAML, **change}.items() if v is not None}
    result = run("derive", _write(tmp_path, data), "--seq-len", 8)
    assert_one_error_line(result, field, message)


# ---------------------------------------------------------------- the disputed terms

def _routed(tmp_path, **variants):
    model = _load(tmp_path, LONGCAT, "config.json", variants=variants)
    rows = [r for r in model.breakdown() if r["formula"].startswith("zero_moe_experts")]
    (row,) = rows
    assert model.evaluate(row["count"]) == 2  # one shortcut MoE in each of the 2 transformers layers
    return row["formula"], model.evaluate(row["forward"], seq_len=6) / (6 * 6 * 64 * 24)


@pytest.mark.parametrize("choice, real", [("uniform", Fraction(3 * 4, 6)), ("none_zero", 3), ("all_zero", 1)])
def test_each_routing_choice_counts_its_real_experts(tmp_path, choice, real):
    """2 LongCat layers (two dense_zero_moe blocks), 6 tokens: real experts a token are
    3 x 4 / 6 = 2 (uniform), min(3, 4) = 3 (none_zero), max(0, 3 - 2) = 1 (all_zero)."""
    formula, per_token_layer = _routed(tmp_path, zero_expert_routing=choice)
    assert formula == f"zero_moe_experts_{choice}" and per_token_layer == real


def test_allocated_slots_add_parameters_and_no_flops(tmp_path):
    default = _load(tmp_path, LONGCAT, "config.json")
    allocated = _load(tmp_path, LONGCAT, "config.json", variants={"zero_expert_slots": "allocated"})
    assert allocated.evaluate(allocated.params()) - default.evaluate(default.params()) == 2 * 2 * 2 * 64 * 24
    assert _counts(allocated)[1:] == _counts(default)[1:]


def test_the_variants_command_lists_the_zero_expert_variants_with_sources():
    rows = {r["name"]: r for r in run_json("variants")}
    assert rows["zero_expert_routing"]["default"] == "uniform"
    assert {c["name"] for c in rows["zero_expert_routing"]["choices"]} == {"uniform", "none_zero", "all_zero"}
    assert rows["zero_expert_slots"]["default"] == "none"
    assert {c["name"] for c in rows["zero_expert_slots"]["choices"]} == {"none", "allocated"}


def test_a_model_without_zero_experts_refuses_their_variant(tmp_path):
    result = run("derive", _write(tmp_path, GLM, "config.json"), "--seq-len", 8, "--variant",
                 "zero_expert_routing=none_zero")
    assert result.exit_code != 0 and "zero_expert_routing: the model has no layer that counts this term" in result.output


# ---------------------------------------------------------------- decode

def test_decode_reads_only_real_experts(tmp_path):
    """Under none_zero every slot is real: the expected experts touched are those of a plain
    top-3-of-4 MoE; uniform touches fewer (identities read no weights); the identity slots
    transformers allocates are never read."""
    def touched(**variants):
        model = _load(tmp_path, LONGCAT, "config.json", variants=variants)
        report = Inference(model, dtype="fp32").report(5, batch=2)
        return report["decode_step"]["experts_touched"], report["decode_step"]["bytes_weights"]

    (none_zero, _), (uniform, read), (_, read_allocated) = (
        touched(zero_expert_routing="none_zero"), touched(),
        touched(zero_expert_slots="allocated"))
    assert none_zero["per_moe_layer"] == 4 * (1 - (1 - sympy.Rational(3, 4)) ** 2)
    assert uniform["per_moe_layer"] == 6 * (1 - (1 - sympy.Rational(3, 6)) ** 2) * sympy.Rational(4, 6)
    assert uniform["min"] == 1 and uniform["max"] == 4
    assert read_allocated == read


# ---------------------------------------------------------------- HF readers: refusals

@pytest.mark.parametrize("config, field, message", [
    ({**ERNIE, "use_bias": True}, "use_bias", "True is not supported"),
    ({**ERNIE, "moe_layer_start_index": "1"}, "moe_layer_start_index", "is not an integer"),
    ({**HUNYUAN, "moe_topk": [2, 1]}, "moe_topk[1]", "one value for every layer"),
    ({**HUNYUAN, "moe_topk": []}, "moe_topk", "an empty list"),
    ({**HUNYUAN, "head_dim": None}, "head_dim", "missing"),
    ({**GLM_LITE, "attention_bias": True}, "attention_bias", "True is not supported"),
    ({**GLM_LITE, "q_lora_rank": 0}, "q_lora_rank", "zero-width query projections"),
    ({**GLM_LITE, "mlp_layer_types": ["dense", "sparse"]}, "mlp_layer_types", "has 2 entries"),
    ({**GLM_LITE, "mlp_layer_types": ["dense", "moe", "dense"]}, "mlp_layer_types[1]", "'moe'"),
    ({**GLM_LITE, "num_key_value_heads": 2}, "num_key_value_heads", "equals num_attention_heads"),
    ({**LONGCAT, "attention_bias": True}, "attention_bias", "True is not supported"),
    ({**LONGCAT, "num_key_value_heads": 2}, "num_key_value_heads", "equals num_attention_heads"),
    ({**LONGCAT, "head_dim": 16}, "head_dim", "equals qk_rope_head_dim"),
    ({**LONGCAT, "qk_head_dim": 16}, "qk_head_dim", "equals qk_sum"),
])
def test_the_hf_readers_refuse(tmp_path, config, field, message):
    result = run("derive", _write(tmp_path, config, "config.json"), "--seq-len", 8)
    assert_one_error_line(result, field, message)


@pytest.mark.parametrize("config", [{**ERNIE, "moe_layer_start_index": 9}, {**GLM_LITE, "mlp_layer_types": ["dense"] * 3},
                                    {**GLM, "first_k_dense_replace": 3}])
def test_a_config_whose_every_layer_is_dense_is_read_as_the_dense_model(tmp_path, config):
    """transformers builds no experts at all then; the expert sizes are dropped, not refused."""
    model = _load(tmp_path, config, "config.json")
    assert {g.ffn for g in model.arch.layers} == {"dense"} and not model.arch.n_experts


# ---------------------------------------------------------------- expectations elsewhere

ZERO_MOE_YAML = {"name": "z", "d_model": 64, "n_heads": 4, "vocab_size": 96, "n_experts": 4, "top_k": 2, "d_expert": 24,
                 "n_zero_experts": 3, "layers": [{"count": 2, "mixer": "attention", "ffn": "zero_moe"}]}


def test_a_compiled_sweep_refuses_a_fractional_expectation_instead_of_flooring(tmp_path):
    """8/7 real experts a token: 7 tokens give a whole count, 6 do not, and the numpy sweep
    never rounds one (the exact value stays available from Model.evaluate)."""
    import numpy as np
    from mfu_sym.errors import UsageError
    model = _load(tmp_path, ZERO_MOE_YAML)
    step = model.batch * model.forward()
    f = model.compile(step, "seq_len", "batch")
    assert list(f(np.array([7, 14]), np.array([1, 1]))) == [model.evaluate(step, seq_len=n, batch=1) for n in (7, 14)]
    with pytest.raises(UsageError, match="not a whole number"):
        f(np.array([6, 7]), np.array([1, 1]))
    assert not model.evaluate(step, seq_len=6, batch=1).is_Integer


def test_capacity_is_refused_with_zero_experts(tmp_path):
    from mfu_sym.errors import UsageError
    with pytest.raises(UsageError, match="expectation over routing"):
        _load(tmp_path, ZERO_MOE_YAML).capacity("1", seq_len=8, batch=1)


def test_the_text_reports_say_how_zero_experts_are_counted(tmp_path):
    path = _write(tmp_path, LONGCAT, "config.json")
    derived = run("derive", path, "--seq-len", 8)
    assert derived.exit_code == 0, derived.output
    assert "top_k = 3 slots over 4 real and 2 zero-computation experts" in derived.output
    assert "variant zero_expert_routing  uniform" in derived.output
    inferred = run("infer", path, "--context", 8, "--batch", 2)
    assert inferred.exit_code == 0, inferred.output
    assert "expected distinct real experts per MoE layer as zero_expert_routing routes the pool" in inferred.output
