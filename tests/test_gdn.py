"""Gated DeltaNet layers without transformers: the model format's gated_deltanet kind and
its sizes, every choice of the disputed core and convolution counts, the decode step and
states, the Hugging Face readers' rules and every refusal. The expected numbers are
written by hand from the layer's definition (a projection is 2 FLOPs per weight, a
depthwise conv 2 K per channel, ...), never taken from the engine."""

import math

import pytest
import sympy

import mfu_sym
from cli_helpers import write_model as _write
from mfu_sym.errors import ConfigError
from mfu_sym.inference import Inference

# a small hybrid: 3 GDN layers then 1 gated attention layer, dense MLPs
D, V, FF, H, HKV, DH = 32, 64, 48, 2, 1, 8
NK, NV, DK, DV, K = 2, 4, 8, 12, 3
GDN = {"gdn_key_heads": NK, "gdn_value_heads": NV, "gdn_key_head_dim": DK, "gdn_value_head_dim": DV,
       "gdn_conv_kernel": K}
YAML = {"name": "tiny-gdn", "d_model": D, "n_heads": H, "n_kv_heads": HKV, "d_head": DH, "d_ff": FF,
        "vocab_size": V, "qk_norm": "per_head", "attention_output_gate": True, **GDN,
        "layers": [{"count": 3, "mixer": "gated_deltanet"}, {"count": 1, "mixer": "attention"}]}
CHANNELS = 2 * NK * DK + NV * DV  # the conv runs over q|k|v



def _gdn_params():
    projections = D * (2 * NK * DK + 2 * NV * DV + 2 * NV) + NV * DV * D
    return projections + K * CHANNELS + 2 * NV + DV  # + conv + A_log, dt_bias + gated-norm weight


def _attention_params():
    return D * 2 * H * DH + 2 * D * HKV * DH + H * DH * D + 2 * DH  # gated q_proj, k, v, o, q/k norms


def _chunked(s):
    """Forward FLOPs of one value head's chunked core over s tokens (chunk 64, padded)."""
    c = 64
    return math.ceil(s / c) * (4 * c * c * DK + 2 * c * c * DV + c * (c - 1) * (DK + DV) + 6 * c * DK * DV)


def _chunked_backward(s):
    c, n = 64, math.ceil(s / 64)
    per_chunk = 8 * c * c * DK + 4 * c * c * DV + c * (c - 1) * (DK + DV) + 2 * c * c * (DK + DV)
    return n * per_chunk + (12 * n - 8) * c * DK * DV


def test_a_hybrid_from_the_model_format(tmp_path):
    model = mfu_sym.load(_write(tmp_path, YAML))
    params = model.evaluate(model.params())
    embeddings, norms = 2 * V * D, 4 * 2 * D + D  # untied embedding and head; 2 norms a layer + final
    assert params == embeddings + norms + 3 * _gdn_params() + _attention_params() + 4 * 3 * D * FF
    s = 70
    projections = 2 * D * (2 * NK * DK + 2 * NV * DV + 2 * NV) + 2 * NV * DV * D
    assert model.evaluate(model.forward("linear_attention"), seq_len=s) == 3 * (
        s * (projections + 2 * K * CHANNELS) + NV * _chunked(s))
    assert model.evaluate(model.backward("linear_attention"), seq_len=s) == 3 * (
        2 * s * (projections + 2 * K * CHANNELS) + NV * _chunked_backward(s))
    assert model.evaluate(model.forward("attention_projections"), seq_len=s) == s * 2 * D * DH * (2 * H + 2 * HKV + H)


@pytest.mark.parametrize("s", [1, 5, 64, 65, 130])
def test_the_chunked_core_pads_to_whole_chunks(tmp_path, s):
    model = mfu_sym.load(_write(tmp_path, YAML))
    core = [t for t in model.breakdown("linear_attention") if t["formula"] == "gdn_core_chunked"][0]
    assert model.evaluate(core["forward"], seq_len=s) == NV * _chunked(s)
    assert model.evaluate(core["backward"], seq_len=s) == NV * _chunked_backward(s)


@pytest.mark.parametrize("choice, per_token", [
    ("recurrent_6", 6 * NV * DK * DV), ("recurrent_7", 7 * NV * DK * DV), ("recurrent_8", 8 * NV * DK * DV),
    ("megatron", 8 * NV * DV * DV), ("none", 0)])
def test_every_per_token_core(tmp_path, choice, per_token):
    model = mfu_sym.load(_write(tmp_path, YAML), variants={"linear_core": choice})
    core = [t for t in model.breakdown("linear_attention") if t["formula"].startswith("gdn_core_")]
    assert [t["formula"] for t in core] == [f"gdn_core_{choice}"]
    assert model.evaluate(core[0]["forward"], seq_len=70) == 70 * per_token
    assert model.evaluate(core[0]["backward"], seq_len=70) == 2 * 70 * per_token
    decode = Inference(model).decode_flops_at(5)
    chunked = Inference(mfu_sym.load(_write(tmp_path, YAML)))
    # the step differs from the chunked default's recurrent step (6 d_k d_v) by the core alone
    assert model.evaluate(decode - chunked.decode_flops_at(5)) == 3 * (per_token - 6 * NV * DK * DV)


@pytest.mark.parametrize("s", [1, 4, 70])
def test_the_padded_convolution_computes_s_plus_k_minus_one_outputs(tmp_path, s):
    causal = mfu_sym.load(_write(tmp_path, YAML))
    padded = mfu_sym.load(_write(tmp_path, YAML), variants={"conv_outputs": "padded"})
    difference = padded.forward("linear_attention") - causal.forward("linear_attention")
    assert padded.evaluate(difference, seq_len=s) == 3 * 2 * K * CHANNELS * (K - 1)
    step = Inference(padded).decode_flops_at(9) - Inference(causal).decode_flops_at(9)
    assert padded.evaluate(step) == 3 * 2 * K * CHANNELS  # a cached step: 2 outputs against 1


@pytest.mark.parametrize("variants", [{}, {"conv_outputs": "padded"}, {"linear_core": "recurrent_7"}])
def test_per_sequence_costs_vanish_for_an_empty_sequence(tmp_path, variants):
    """The engine sums a per-sequence cost as f(s) - f(0): each must be 0 at s = 0, even
    where a non-empty sequence pays a fixed amount (padding, first and last chunk)."""
    model = mfu_sym.load(_write(tmp_path, YAML), **({"variants": variants} if variants else {}))
    for term in model.terms:
        if term.formula.per == "sequence":
            for phase in (term.formula.forward, *term.formula.backward.values()):
                assert phase.subs(model.seq_len, 0) == 0, term.formula.name


def test_the_decode_step_and_the_states(tmp_path):
    inference = Inference(mfu_sym.load(_write(tmp_path, YAML)), dtype="fp32")
    report = inference.report(70, batch=2)
    gdn_step = 2 * D * (2 * NK * DK + 2 * NV * DV + 2 * NV) + 2 * NV * DV * D + 2 * K * CHANNELS + 6 * NV * DK * DV
    attention_step = 2 * D * DH * (2 * H + 2 * HKV + H) + 4 * H * DH * 70
    assert report["decode_step"]["flops"] == 2 * (3 * gdn_step + attention_step + 4 * 6 * D * FF + 2 * D * V)
    # only the attention layer keeps keys and values; each GDN layer a recurrent and a conv state
    assert report["kv_cache"]["elements_per_token"] == 2 * HKV * DH
    assert report["kv_cache"]["state_elements_per_sequence"] == 3 * (NV * DK * DV + K * CHANNELS)
    assert report["kv_cache_bytes"] == 4 * 2 * (70 * 2 * HKV * DH + 3 * (NV * DK * DV + K * CHANNELS))
    assert set(report["kv_cache"]["layout"]) == {"kv_heads", "gdn_recurrent_state", "gdn_conv_state"}


def test_elementwise_work_under_nonmatmul(tmp_path):
    model = mfu_sym.load(_write(tmp_path, YAML), nonmatmul=("all",))
    term = [t for t in model.terms if t.formula.name == "gdn_elementwise"]
    assert len(term) == 1 and term[0].count == model.library.symbol("n_gdn_layers")
    per_token = CHANNELS + 5 * 2 * NK * DK + NV * DK * DV + 7 * NV * DV
    assert model.evaluate(term[0].count * term[0].formula.forward) == 3 * per_token


def test_the_variants_are_read_only_by_models_with_gdn_layers(tmp_path, example):
    assert mfu_sym.load(_write(tmp_path, YAML)).variants_read(mfu_sym.load_architecture(_write(tmp_path, YAML))) \
        == ["conv_outputs", "linear_core", "output_gate_count"]
    from cli_helpers import run, run_json
    refused = run("derive", example("llama3_8b.yaml"), "--variant", "linear_core=recurrent_8")
    assert refused.exit_code == 2 and "linear_core: the model has no layer that counts this term" in refused.output
    chosen = run_json("derive", _write(tmp_path, YAML), "--seq-len", 70, "--variant", "linear_core=recurrent_8")
    assert chosen["conventions"]["variants"] == {"conv_outputs": "causal", "linear_core": "recurrent_8",
                                                 "output_gate_count": "counted"}


@pytest.mark.parametrize("change, field, message", [
    ({"gdn_value_heads": 3}, "gdn_value_heads", "not a multiple of gdn_key_heads"),
    ({"gdn_conv_kernel": None}, "gdn_conv_kernel", "missing"),
    ({"layers": [{"count": 4, "mixer": "attention"}]}, "gdn_conv_kernel", "no layer of the model uses it"),
    ({"gdn_key_head_dim": 0}, "gdn_key_head_dim", "not positive"),
])
def test_bad_gdn_models(tmp_path, change, field, message):
    data = {k: v for k, v in {**YAML, **change}.items() if v is not None}
    with pytest.raises(ConfigError, match=message) as error:
        mfu_sym.load(_write(tmp_path, data))
    assert error.value.field == field


# ------------------------------------------------------------------ Hugging Face rules

QWEN3_NEXT = {"model_type": "qwen3_next", "hidden_size": D, "intermediate_size": FF, "num_hidden_layers": 6,
              "num_attention_heads": H, "num_key_value_heads": HKV, "head_dim": DH, "vocab_size": V,
              "linear_num_key_heads": NK, "linear_num_value_heads": NV, "linear_key_head_dim": DK,
              "linear_value_head_dim": DV, "linear_conv_kernel_dim": K, "num_experts": 4, "num_experts_per_tok": 2,
              "moe_intermediate_size": 16, "shared_expert_intermediate_size": 24}


def _arch(tmp_path, config):
    return mfu_sym.load_architecture(_write(tmp_path, config, "config.json"))


def _kinds(arch):
    from mfu_sym import stack
    return stack.layers(arch.layers)


def test_qwen3_next_layers(tmp_path):
    arch = _arch(tmp_path, QWEN3_NEXT)  # every 4th layer full attention, MoE everywhere
    assert [m for m, _ in _kinds(arch)] == ["gated_deltanet"] * 3 + ["attention"] + ["gated_deltanet"] * 2
    assert arch.feature("attention_output_gate") and arch.shared_expert_gate and arch.qk_norm == "per_head"
    arch = _arch(tmp_path, {**QWEN3_NEXT, "full_attention_interval": 2, "decoder_sparse_step": 2,
                            "mlp_only_layers": [3]})
    assert _kinds(arch) == [("gated_deltanet", "dense"), ("attention", "moe"), ("gated_deltanet", "dense"),
                            ("attention", "dense"), ("gated_deltanet", "dense"), ("attention", "moe")]
    # legacy names, remapped by transformers; layer_types wins over the interval
    arch = _arch(tmp_path, {**QWEN3_NEXT, "full_attention_interval": 2,
                            "layer_types": ["mamba", "attention"] + ["linear_attention"] * 4})
    assert [m for m, _ in _kinds(arch)] == ["gated_deltanet", "attention"] + ["gated_deltanet"] * 4
    # no experts: transformers builds dense MLPs of intermediate_size
    arch = _arch(tmp_path, {**QWEN3_NEXT, "num_experts": 0})
    assert {f for _, f in _kinds(arch)} == {"dense"} and not arch.n_experts and not arch.shared_expert_gate


def test_olmo_hybrid_defaults(tmp_path):
    config = {"model_type": "olmo_hybrid", "hidden_size": 40, "intermediate_size": 48, "num_hidden_layers": 3,
              "num_attention_heads": 4, "vocab_size": 64}
    arch = _arch(tmp_path, config)
    # transformers: key heads = value heads = attention heads, d_k = int(0.75 * 40 / 4), d_v = 2 d_k
    assert (arch.size("gdn_key_heads"), arch.size("gdn_value_heads")) == (4, 4)
    assert (arch.size("gdn_key_head_dim"), arch.size("gdn_value_head_dim")) == (7, 14)
    assert (arch.n_kv_heads, arch.d_head, arch.qk_norm) == (4, 10, "full")
    # no 4th layer: the last one is full attention
    assert [m for m, _ in _kinds(arch)] == ["gated_deltanet", "gated_deltanet", "attention"]
    arch = _arch(tmp_path, {**config, "num_hidden_layers": 8, "head_dim": 6, "linear_num_key_heads": 2})
    assert [m for m, _ in _kinds(arch)] == (["gated_deltanet"] * 3 + ["attention"]) * 2
    assert (arch.d_head, arch.size("gdn_key_head_dim"), arch.size("gdn_value_heads")) == (6, 15, 4)


def test_qwen3_5_multimodal_configs_are_read_through_their_text_config(tmp_path):
    text = {k: v for k, v in QWEN3_NEXT.items() if k not in ("model_type", "intermediate_size")}
    composite = {"model_type": "qwen3_5_moe", "architectures": ["Qwen3_5MoeForConditionalGeneration"],
                 "text_config": {**text, "model_type": "qwen3_5_moe_text"}, "vision_config": {"depth": 2},
                 "image_token_id": 5, "tie_word_embeddings": True, "language_model_only": False}
    arch = _arch(tmp_path, composite)
    alone = _arch(tmp_path, {**text, "model_type": "qwen3_5_moe_text"})
    assert (arch.layers, arch.sizes, arch.n_experts, arch.tied_embeddings) == (
        alone.layers, alone.sizes, alone.n_experts, False)  # the text config's own tie decides
    assert any("language_model_only" in note for note in arch.notes)
    assert "vision_config: not counted (AutoModelForCausalLM builds the text model alone; the checkpoint's " \
           "parameters include this part)" in arch.notes
    assert not any("not counted" in note for note in alone.notes)
    # the class fixes the text class, whatever model_type the text part names
    wrong = {**composite, "text_config": {**composite["text_config"], "model_type": "qwen3_5_text"}}
    assert _arch(tmp_path, wrong).n_experts == 4


@pytest.mark.parametrize("config, field, message", [
    ({**QWEN3_NEXT, "attention_bias": True}, "attention_bias", "not supported"),
    ({**QWEN3_NEXT, "shared_expert_intermediate_size": 0}, "shared_expert_intermediate_size", "zero-width"),
    ({**QWEN3_NEXT, "linear_num_value_heads": 3}, "gdn_value_heads", "not a multiple"),
    ({**QWEN3_NEXT, "layer_types": ["linear_attention"] * 5}, "layer_types", "expected one per layer"),
    ({**QWEN3_NEXT, "layer_types": ["sliding_attention"] * 6}, "layer_types[0]", "expected one of"),
    ({**QWEN3_NEXT, "full_attention_interval": 0}, "full_attention_interval", "not positive"),
    ({**QWEN3_NEXT, "model_type": "qwen3_5_moe_text", "num_experts": 0}, "num_experts", "not positive"),
    ({"model_type": "olmo_hybrid", "num_hidden_layers": 2, "layer_types": ["linear_attention"] * 2},
     "layer_types", "no attention layer"),
    ({"model_type": "olmo_hybrid", "num_hidden_layers": 2, "layer_types": ["full_attention"] * 2},
     "layer_types", "no linear_attention layer"),
    ({"model_type": "qwen3_5", "text_config": [1]}, "text_config", "expected a JSON object"),
    ({"model_type": "qwen3_5", "text_config": {"hidden_size": "x"}}, "text_config.hidden_size", "not a positive"),
])
def test_refused_configs(tmp_path, config, field, message):
    with pytest.raises(ConfigError, match=message) as error:
        _arch(tmp_path, config)
    assert error.value.field == field


def test_a_symbolic_core_in_the_model_symbols(tmp_path):
    model = mfu_sym.load(_write(tmp_path, YAML))
    sym = model.library.symbol
    core = [t for t in model.terms if t.formula.name == "gdn_core_chunked"][0].formula.forward
    assert core.has(sympy.ceiling(model.seq_len / 64)) and core.has(sym("gdn_value_heads"))


def test_the_text_outputs_name_the_variants_in_force():
    from pathlib import Path

    from cli_helpers import run
    root = Path(__file__).resolve().parent.parent
    config = str(root / "examples/hf/qwen3_next_80b_a3b/config.json")
    derive = run("derive", config, "--seq-len", "4096", "--variant", "linear_core=megatron").stdout
    assert "counted under: preset exact, mask causal, attention kernel eager, conv_outputs causal, " \
           "linear_core megatron, output_gate_count counted\n" in derive
    infer = run("infer", config, "--context", "4096").stdout
    assert "; conv_outputs causal; linear_core chunked; output_gate_count counted\n" in infer
    dense = run("derive", str(root / "examples/llama3_8b.yaml")).stdout
    assert "counted under: preset exact, mask causal, attention kernel eager\n" in dense
