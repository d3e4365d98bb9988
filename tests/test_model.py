"""The composed model against outside references: parameter counts of the reference
implementations, nanoGPT's worked FLOP example, and symbolic identities."""

import pytest
import sympy

import mfu_sym
from mfu_sym.model import Conventions, Model
from mfu_sym.spec import from_mapping

# Parameter counts of the reference implementations:
# sum(p.numel() for p in AutoModelForCausalLM.from_config(cfg).parameters()) and nanoGPT.
REFERENCE_PARAMS = {
    "llama3_8b.yaml": 8_030_261_248,
    "llama2_7b.yaml": 6_738_415_616,
    "gpt2_124m.yaml": 124_439_808,  # Hugging Face: biases, tied, learned positions
    "gpt2_124m_nanogpt.yaml": 124_337_664,  # nanoGPT transformer_sizing.ipynb, bias=False
}


@pytest.mark.parametrize("name, expected", REFERENCE_PARAMS.items())
def test_parameter_counts_match_the_reference_implementations(example, name, expected):
    model = mfu_sym.load(example(name))
    assert model.evaluate(model.params()) == expected


def test_nanogpt_transformer_sizing_forward_flops(example):
    """nanoGPT transformer_sizing.ipynb: GPT-2 124M, 1024 tokens, bias=False, full S^2."""
    model = mfu_sym.load(example("gpt2_124m_nanogpt.yaml"), mask="full")
    per_layer = lambda component: model.evaluate(model.forward(component), seq_len=1024) / 12
    kqv, scores, reduce, proj, mlp = 3_623_878_656, 1_610_612_736, 1_610_612_736, 1_207_959_552, 9_663_676_416
    assert per_layer("attention_projections") == kqv + proj
    assert per_layer("attention_core") == scores + reduce
    assert per_layer("mlp") == mlp
    assert model.evaluate(model.forward("lm_head"), seq_len=1024) == 79_047_426_048  # "dense"
    transformer = model.forward() - model.forward("lm_head")
    assert model.evaluate(transformer, seq_len=1024) == 212_600_881_152
    assert model.evaluate(model.forward(), seq_len=1024) == 291_648_307_200
    assert model.evaluate(model.training(), seq_len=1024) == 874_944_921_600  # "Total (x3)"


def _symbolic(**overrides):
    fields = dict(name="m", d_model=64, n_layers=2, n_heads=8, n_kv_heads=2, d_ff=96, vocab_size=100)
    fields.update(overrides)
    return from_mapping(fields, "test")


def test_gqa_with_as_many_kv_heads_as_heads_is_mha():
    model = Model(_symbolic())
    d, L, h, kv, dh, s = (model.library.symbol(n) for n in
                          ("d_model", "n_layers", "n_heads", "n_kv_heads", "d_head", "seq_len"))
    mha = L * s * 4 * (2 * d * h * dh)  # Q, K, V, O: four d x (h d_h) matmuls, 2 FLOPs per MAC
    assert sympy.expand(model.forward("attention_projections").subs(kv, h) - mha) == 0


@pytest.mark.parametrize("mask", ["causal", "full", "half"])
def test_eager_matmul_training_is_three_times_forward(mask):
    arch = _symbolic(window=16, layer_types=["sliding_attention", "full_attention"])
    model = Model(arch, Conventions(mask=mask))
    assert sympy.simplify(model.training() - 3 * model.forward()) == 0


def test_flash_attention_backward_matches_the_five_matmul_count():
    """Full mask: 2*B*H*S^2*(3*d_qk + 2*d_v) for the core's backward (QK^T recomputed)."""
    model = Model(_symbolic(), Conventions(mask="full", attention_kernel="flash"))
    L, h, dh, s, b = (model.library.symbol(n) for n in ("n_layers", "n_heads", "d_head", "seq_len", "batch"))
    expected = L * 2 * b * h * s**2 * (3 * dh + 2 * dh)
    assert sympy.expand(b * model.backward("attention_core") - expected) == 0
    assert sympy.expand(model.backward("mlp") - 2 * model.forward("mlp")) == 0


@pytest.mark.parametrize("mask", ["causal", "full"])
def test_per_sequence_is_the_sum_of_per_position_costs(mask):
    model = Model(_symbolic(), Conventions(mask=mask))
    summed = sympy.summation(model.forward_at(), (model.t, 1, model.seq_len))
    assert sympy.simplify(summed - model.forward()) == 0


def test_sliding_window_per_sequence_is_the_sum_over_positions():
    arch = _symbolic(window=5, layer_types=["sliding_attention", "full_attention"])
    model = Model(arch)
    for length in (1, 4, 5, 6, 13):
        brute = sum(model.evaluate(model.forward_at(i)) for i in range(1, length + 1))
        assert model.evaluate(model.forward(), seq_len=length) == brute


def test_causal_attention_by_hand():
    """One layer, h heads of d_h: query t costs 4*h*d_h*t FLOPs; summed, 2*h*d_h*s*(s+1)."""
    model = Model(_symbolic(n_layers=1, n_heads=4, n_kv_heads=4, d_model=32))
    assert model.evaluate(model.forward("attention_core"), seq_len=10) == 4 * 4 * 8 * sum(range(1, 11))


def test_window_layers_attend_to_min_t_w_keys():
    arch = _symbolic(n_layers=3, window=4, layer_types=["sliding_attention"] * 2 + ["full_attention"])
    model = Model(arch)
    h, dh = 8, 8
    keys = 2 * sum(min(i, 4) for i in range(1, 11)) + sum(range(1, 11))
    assert model.evaluate(model.forward("attention_core"), seq_len=10) == 4 * h * dh * keys


def test_params_do_not_depend_on_sequence_length(example):
    model = mfu_sym.load(example("llama3_8b.yaml"))
    assert not model.params().has(model.seq_len)


def test_tied_head_has_no_parameters_but_full_flops(example):
    model = mfu_sym.load(example("gpt2_124m.yaml"))
    counts = {k: model.evaluate(v) for k, v in model.param_counts().items()}
    assert counts["lm_head"] == 0
    assert counts["embedding"] == 50257 * 768 + 1024 * 768
    assert model.evaluate(model.forward("lm_head"), seq_len=1) == 2 * 768 * 50257


def test_qk_norm_and_sandwich_norms_parameters():
    per_head = Model(_symbolic(qk_norm="per_head", norm_placement="sandwich", d_head=16))
    full = Model(_symbolic(qk_norm="full", norm_placement="post", d_head=16))
    base = Model(_symbolic(d_head=16))
    assert per_head.evaluate(per_head.params("norms")) == 2 * (4 * 64 + 2 * 16) + 64
    assert full.evaluate(full.params("norms")) == 2 * (2 * 64 + (8 + 2) * 16) + 64
    assert base.evaluate(base.params("norms")) == 2 * 2 * 64 + 64


def test_biases_are_parameters_not_flops():
    plain = Model(_symbolic())
    biased = Model(_symbolic(attention_bias="qkv", mlp_bias=True))
    delta = biased.evaluate(biased.params() - plain.params())
    assert delta == 2 * ((8 + 2 * 2) * 8 + 2 * 96 + 64)
    assert sympy.expand(biased.forward() - plain.forward()) == 0


def test_report_is_exact_and_consistent(example):
    model = mfu_sym.load(example("llama3_8b.yaml"))
    report = model.report(seq_len=2048, batch=3)
    flops = report["flops"]
    assert all(isinstance(v, sympy.Integer) for v in report["params"].values())
    assert flops["training"] == flops["forward"] + flops["backward"]
    assert flops["forward"] == sum(c["forward"] for c in flops["components"].values())
    assert flops["per_token"]["forward"] * 3 * 2048 == flops["forward"]
    assert flops["forward"] == 3 * model.evaluate(model.forward(), seq_len=2048)


def test_breakdown_gives_one_layer_of_each_formula(example):
    model = mfu_sym.load(example("gemma3_1b.yaml"))
    rows = model.breakdown()
    assert sympy.expand(sum(r["count"] * r["forward"] for r in rows) - model.forward()) == 0
    cores = [r for r in rows if r["component"] == "attention_core"]
    assert sorted(r["mask"] for r in cores) == ["causal", "sliding_window"]
    queries = [r for r in rows if r["formula"] == "q_proj"]  # one per attention kind
    # one layer's query projection for one sequence: 2 * s * d * h * d_h
    assert all(model.evaluate(q["forward"], seq_len=10) == 2 * 10 * 1152 * 4 * 256 for q in queries)
    assert sympy.expand(sum(q["count"] for q in queries) - model.library.symbol("n_layers")) == 0
