"""Kimi Linear (Kimi Delta Attention + MLA) and MiniMax (lightning + softmax attention)
against what transformers 5.23 executes, under FlopCounterMode.

Training (eager and sdpa): exact parameters, forward, backward and training FLOPs, and
component by component (every matmul of a KDA or lightning layer is linear_attention), at
sequence lengths below, at and past KDA's 64-position chunk and lightning's block, and not
multiples of either. The KDA core runs in the matmul form of kda_patches (its
broadcast-and-sum contractions as matmuls; the replacements are checked against
transformers' functions here). The engine runs the conventions of transformers' PyTorch
path: the full attention square (mask full), the attention kernel of the implementation,
and for KDA the padded nn.Conv1d outputs (conv_outputs padded); the chunked KDA core and
the blocked lightning core are the defaults.

Decode (kda_decode): one token per sequence with the family's own cache (Kimi: a
DynamicCache with convolution and recurrent states for KDA layers; MiniMax: MiniMaxCache),
its FLOPs and every tensor the cache holds, against `Inference`.

Every config form transformers users have (as written, aliased, to_dict(), saved) gives the
same numbers, and every refusal of the two families is an error naming the field."""

import json

import pytest
import torch

import mfu_sym
from mfu_sym.errors import ConfigError
from mfu_sym.inference import Inference

from .compare import assert_same, engine, torch_components
from .kda_decode import measure_decode_states
from .kda_patches import ORIGINAL_CHUNK, ORIGINAL_RECURRENT, chunk_kda_matmul, kda_matmul_forms, recurrent_kda_matmul
from .reference import build_model, count_params, measure
from .test_config_fidelity import _forms

IDS = {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
KIMI_BASE = {"model_type": "kimi_linear", "hidden_size": 64, "intermediate_size": 96, "moe_intermediate_size": 24,
             "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 96, "num_experts": 6,
             "num_experts_per_token": 2, **IDS}
KIMI = {
    # 1-based layer lists; MLA without query compression, d_qk (16) != d_v (12): sdpa's math kernel
    "kimi": {**KIMI_BASE, "num_hidden_layers": 4, "kv_lora_rank": 16, "q_lora_rank": None, "qk_nope_head_dim": 8,
             "qk_rope_head_dim": 8, "v_head_dim": 12, "num_shared_experts": 1, "first_k_dense_replace": 1,
             "linear_attn_config": {"num_heads": 2, "head_dim": 8, "short_conv_kernel_size": 3,
                                    "kda_layers": [1, 2, 4], "full_attn_layers": [3]}},
    # explicit layer_types and mlp_layer_types (linear_attn_config then gives only sizes), query compression,
    # d_qk = d_v (sdpa's flash kernel), two shared experts, the sizes from the linear_* fields
    "kimi-explicit": {**KIMI_BASE, "num_hidden_layers": 3, "kv_lora_rank": 12, "q_lora_rank": 20,
                      "qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 12, "num_shared_experts": 2,
                      "linear_num_heads": 3, "linear_head_dim": 4, "linear_conv_kernel_dim": 2,
                      "layer_types": ["full_attention", "linear_attention", "linear_attention"],
                      "mlp_layer_types": ["sparse", "dense", "sparse"]},
    # no layer lists: transformers' default (layer 4 full), every layer MoE, no shared expert
    "kimi-default-pattern": {**KIMI_BASE, "num_hidden_layers": 5, "kv_lora_rank": 8, "qk_nope_head_dim": 4,
                             "qk_rope_head_dim": 4, "v_head_dim": 8, "num_shared_experts": 0,
                             "first_k_dense_replace": 0,
                             "linear_attn_config": {"num_heads": 2, "head_dim": 4, "short_conv_kernel_size": 4}},
    # every layer dense (transformers builds no expert), legacy layer-type names
    "kimi-all-dense": {**KIMI_BASE, "num_hidden_layers": 2, "kv_lora_rank": 8, "qk_nope_head_dim": 4,
                       "qk_rope_head_dim": 4, "v_head_dim": 8, "first_k_dense_replace": 5,
                       "linear_num_heads": 2, "linear_head_dim": 8, "layer_types": ["mamba", "attention"]},
}
# transformers cannot decode a stack without a full-attention layer (DynamicCache.get_seq_length)
KIMI_TRAINING_ONLY = {
    "kimi-all-kda": {**KIMI_BASE, "num_hidden_layers": 2, "kv_lora_rank": 8, "qk_nope_head_dim": 4,
                     "qk_rope_head_dim": 4, "v_head_dim": 8,
                     "linear_attn_config": {"num_heads": 2, "head_dim": 8, "short_conv_kernel_size": 4,
                                            "kda_layers": [1, 2], "full_attn_layers": []}},
}
MINIMAX_BASE = {"model_type": "minimax", "hidden_size": 64, "intermediate_size": 40, "num_attention_heads": 4,
                "num_key_value_heads": 2, "vocab_size": 96, "num_local_experts": 4, "num_experts_per_tok": 2}
MINIMAX = {
    "minimax": {**MINIMAX_BASE, "num_hidden_layers": 4, "head_dim": 8, "block_size": 5,
                "layer_types": ["linear_attention", "linear_attention", "full_attention", "linear_attention"]},
    # the default pattern (full attention on even layers), head_dim from hidden_size, the remote code's
    # attn_type_list where it agrees with what transformers builds
    "minimax-default-pattern": {**MINIMAX_BASE, "num_hidden_layers": 3, "block_size": 4, "num_experts": 3,
                                "num_local_experts": 3, "attn_type_list": [1, 0, 1]},
    # legacy layer-type names, MQA
    "minimax-legacy-names": {**MINIMAX_BASE, "num_hidden_layers": 2, "num_key_value_heads": 1, "head_dim": 12,
                             "block_size": 3, "layer_types": ["mamba", "attention"]},
}
FAMILIES = {**KIMI, **KIMI_TRAINING_ONLY, **MINIMAX}
CHUNK = 64  # transformers' chunk_kimi_delta_attention(chunk_size=64)
# (batch, seq_len): below a chunk, at it, past two and not a multiple; past a block and not a multiple. The
# Python loops of transformers' KDA core are slow under the counter, so the other Kimi configs run one length
# past a chunk, and sdpa (which changes only the softmax-attention layers) one length.
SIZES = {"kimi": [(1, 7), (2, CHUNK), (1, 2 * CHUNK + 3)], "kimi_linear": [(2, CHUNK + 6)],
         "minimax": [(1, 2), (2, 5), (1, 13), (2, 17)]}
SDPA_SIZES = {"kimi_linear": [(1, CHUNK + 6)], "minimax": [(2, 13)]}


def _sizes(name, implementation):
    family = FAMILIES[name]["model_type"]
    if implementation == "sdpa":
        return SDPA_SIZES[family]
    return SIZES.get(name, SIZES[family])


def _kernel(config, implementation):
    """sdpa's CPU kernel: flash (backward 5 bmm-equivalents), or its math fallback,
    counted like eager, when MLA's d_qk differs from d_v."""
    if implementation == "eager":
        return "eager"
    if config["model_type"] == "kimi_linear":
        d_qk = config.get("qk_nope_head_dim", 128) + config.get("qk_rope_head_dim", 64)
        return "flash" if d_qk == config.get("v_head_dim", 128) else "eager"
    return "flash"


TORCH_PATH = {"kimi_linear": {"conv_outputs": "padded"}, "minimax": {}}


def _engine(config, tmp_path, **conventions):
    variants = {**TORCH_PATH[config["model_type"]], **conventions.pop("variants", {})}
    return engine(config, tmp_path, variants=variants, **conventions)


def _linear_layers(model):
    return {i for i, kind in enumerate(model.config.layer_types) if kind == "linear_attention"}


def _components(by_module, linear):
    """torch_components, with the whole mixer of every linear-attention layer (projections,
    convolution, core) moved to linear_attention."""
    out = {**torch_components(by_module), "linear_attention": 0}
    for i in linear:
        path = f"model.layers.{i}.self_attn"
        total = by_module.get(path, 0)
        children = sum(v for p, v in by_module.items() if p.startswith(path + ".") and "." not in p[len(path) + 1:])
        out["attention_projections"] -= children
        out["attention_core"] -= total - children
        out["linear_attention"] += total
    return out


def _measure(config, **kwargs):
    with kda_matmul_forms():
        return measure(config, **kwargs)


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("name", list(FAMILIES))
def test_training_exact(tmp_path, name, implementation):
    config = FAMILIES[name]
    model = _engine(config, tmp_path, mask="full", attention_kernel=_kernel(config, implementation))
    linear = _linear_layers(build_model(config, attn_implementation="eager", device="meta"))
    for batch, seq_len in _sizes(name, implementation):
        measured = _measure(config, batch=batch, seq_len=seq_len, attn_implementation=implementation)
        assert_same(model, measured, batch=batch, seq_len=seq_len, per_component=False)
        flops = model.report(seq_len=seq_len, batch=batch)["flops"]["components"]
        for phase in ("forward", "backward"):
            theirs = _components(measured.by_module[phase], linear)
            ours = {c: flops.get(c, {}).get(phase, 0) for c in theirs}
            assert ours == theirs, (seq_len, phase)


def test_the_sizes_cross_every_chunk_and_block():
    kimi = [s for _, s in SIZES["kimi"]]
    assert min(kimi) < CHUNK and CHUNK in kimi and any(s > 2 * CHUNK and s % CHUNK for s in kimi)
    assert all(s > CHUNK and s % CHUNK for _, s in SIZES["kimi_linear"] + SDPA_SIZES["kimi_linear"])
    for name, config in MINIMAX.items():
        block = config["block_size"]
        lengths = [s for _, s in SIZES["minimax"]]
        assert min(lengths) < block and any(s > 2 * block and s % block for s in lengths), name
        assert all(s > 2 * block and s % block for _, s in SDPA_SIZES["minimax"]), name


@pytest.mark.parametrize("name", list(KIMI) + list(MINIMAX))
@pytest.mark.parametrize("context", [2, 6, CHUNK + 6])
def test_decode_step_and_caches(tmp_path, name, context):
    config, batch = FAMILIES[name], 2
    measured = measure_decode_states(config, batch=batch, context=context)
    inference = Inference(_engine(config, tmp_path), dtype="fp32")
    report = inference.report(context, batch=batch)
    assert report["decode_step"]["flops"] == measured.forward
    assert report["kv_cache"]["state_elements_per_sequence"] * batch == measured.state_elements
    per_position = report["kv_cache"]["elements_per_token"]
    assert per_position * context * batch == measured.key_value_elements
    assert set(measured.positions) <= {context}
    assert report["kv_cache"]["total"] == (measured.key_value_elements + measured.state_elements) * 4  # fp32


@pytest.mark.parametrize("name", list(KIMI) + list(MINIMAX))
def test_a_decode_step_is_the_recurrent_step_whatever_the_sequence_count(tmp_path, name):
    """The chunked (KDA) and blocked (lightning) cores decode with the recurrent step, so
    the step equals the one of the per-token recurrent count (6 and 4 d^2 per head)."""
    config = FAMILIES[name]
    core, per_token = ("linear_core", "recurrent_6") if config["model_type"] == "kimi_linear" \
        else ("lightning_core", "recurrent")
    default = Inference(_engine(config, tmp_path)).report(9, batch=1)["decode_step"]["flops"]
    recurrent = Inference(_engine(config, tmp_path, variants={core: per_token})).report(9, batch=1)
    assert default == recurrent["decode_step"]["flops"]


# ------------------------------------------------------------------ the patches are transformers' own algorithm


def _core_inputs(seq_len, heads=2, dim=8, batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shape = (batch, seq_len, heads, dim)
    query, key, value = (torch.randn(shape, generator=gen) for _ in range(3))
    g = -torch.rand(shape, generator=gen)  # log decays <= 0
    beta = torch.rand((batch, seq_len, heads), generator=gen)
    state = torch.randn((batch, heads, dim, dim), generator=gen)
    return query, key, value, g, beta, state


@pytest.mark.parametrize("seq_len", [1, 5, CHUNK, CHUNK + 7])
@pytest.mark.parametrize("with_state", [False, True])
def test_chunk_matmul_form_equals_transformers(seq_len, with_state):
    query, key, value, g, beta, state = _core_inputs(seq_len)
    kwargs = dict(g=g, beta=beta, initial_state=state if with_state else None, output_final_state=True,
                  use_qk_l2norm_in_kernel=True)
    ours = chunk_kda_matmul(query, key, value, **kwargs)
    theirs = ORIGINAL_CHUNK(query, key, value, **kwargs)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("seq_len", [1, 3])
def test_recurrent_matmul_form_equals_transformers(seq_len):
    query, key, value, g, beta, state = _core_inputs(seq_len, seed=1)
    kwargs = dict(g=g, beta=beta, initial_state=state, output_final_state=True, use_qk_l2norm_in_kernel=True)
    ours = recurrent_kda_matmul(query, key, value, **kwargs)
    theirs = ORIGINAL_RECURRENT(query, key, value, **kwargs)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_without_the_patch_the_counter_misses_the_core():
    """Why the patch exists: transformers' own KDA core counts (almost) nothing."""
    config = KIMI["kimi"]
    plain = measure(config, batch=1, seq_len=7, backward=False)
    patched = _measure(config, batch=1, seq_len=7, backward=False)
    assert patched.forward > plain.forward


# ------------------------------------------------------------------ every config form


@pytest.mark.parametrize("name", list(KIMI) + list(MINIMAX))
def test_every_form_gives_the_same_counts(tmp_path, name):
    config = FAMILIES[name]
    seq_len = CHUNK + 6 if config["model_type"] == "kimi_linear" else 13
    measured = _measure(config, batch=1, seq_len=seq_len)
    for form, data in _forms(config, tmp_path).items():
        assert count_params(build_model(data, attn_implementation="eager", device="meta")) == measured.params, form
        model = _engine(data, tmp_path, mask="full", attention_kernel="eager")
        report = model.report(seq_len=seq_len, batch=1)
        assert (report["params"]["total"], report["flops"]["forward"], report["flops"]["training"]) == (
            measured.params, measured.forward, measured.training), form
        # every key of every form is accounted for; the remote code's attn_type_list, which transformers
        # stores unread, is checked against the layers (test_minimax_refusals) and reported as a note
        unread = tuple(n for n in model.arch.notes if not n.startswith("attn_type_list: "))
        assert unread == (), form
        assert len(model.arch.notes) == ("attn_type_list" in data), form


# ------------------------------------------------------------------ refusals


def _load(tmp_path, config):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return mfu_sym.load(path)


LAYERS = {"num_heads": 2, "head_dim": 8}  # linear_attn_config without the layer lists
KIMI_REFUSED = [
    ({"attention_bias": True}, "attention_bias", "not supported"),
    ({"num_key_value_heads": 2}, "num_key_value_heads", "assumes it equals num_attention_heads"),
    ({"q_lora_rank": 0}, "q_lora_rank", "zero-width query projections"),
    ({"linear_attn_config": {**KIMI["kimi"]["linear_attn_config"], "use_full_rank_gate": True}},
     "linear_attn_config.use_full_rank_gate", "always builds the low-rank output gate"),
    ({"linear_attn_config": {**KIMI["kimi"]["linear_attn_config"], "gate_bound": -5}},
     "linear_attn_config.gate_bound", "unknown key"),
    ({"linear_attn_config": None}, "linear_attn_config", "expected a mapping"),
    ({"linear_attn_config": {**LAYERS, "kda_layers": [1, 2], "full_attn_layers": [4]}}, "linear_attn_config",
     "layer 3 is in neither"),
    ({"linear_attn_config": {**LAYERS, "kda_layers": [0, 1, 2], "full_attn_layers": [3]}},
     "linear_attn_config.kda_layers[0]", "not a layer number"),
    ({"linear_attn_config": {**LAYERS, "kda_layers": [1, 2, 3], "full_attn_layers": [5]}},
     "linear_attn_config.full_attn_layers[0]", "not a layer number"),
    ({"linear_attn_config": {**LAYERS, "kda_layers": 1, "full_attn_layers": [2]}},
     "linear_attn_config.kda_layers", "expected a list"),
    ({"linear_attn_config": {**LAYERS, "num_heads": 0}}, "linear_attn_config.num_heads", "not positive"),
    ({"layer_types": ["linear_attention"] * 3}, "layer_types", "has 3 entries"),
    ({"layer_types": ["linear_attention"] * 3 + ["sliding_attention"]}, "layer_types[3]", "'sliding_attention'"),
    ({"layer_types": "linear_attention"}, "layer_types", "expected a list"),
    ({"mlp_layer_types": ["dense", "moe", "sparse", "sparse"]}, "mlp_layer_types[1]", "'moe'"),
    ({"first_k_dense_replace": None}, "first_k_dense_replace", "not a non-negative integer"),
    ({"moe_layer_freq": 2}, "moe_layer_freq", "does not read it"),
    ({"num_nextn_predict_layers": 1}, "num_nextn_predict_layers", "does not read it"),
    ({"mla_use_output_gate": True}, "mla_use_output_gate", "does not read it"),
    ({"attn_res_block_size": 12}, "attn_res_block_size", "does not read it"),
    ({"routed_expert_hidden_size": 32}, "routed_expert_hidden_size", "does not read it"),
    ({"latent_moe_use_norm": True}, "latent_moe_use_norm", "does not read it"),
]


@pytest.mark.parametrize("change, field, message", KIMI_REFUSED)
def test_kimi_refusals(tmp_path, change, field, message):
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, {**KIMI["kimi"], **change})
    assert error.value.field == field
    assert message in str(error.value)


MINIMAX_REFUSED = [
    ({"sliding_window": 8}, "sliding_window", "not supported"),
    ({"shared_intermediate_size": 32}, "shared_intermediate_size", "does not read it"),
    ({"attn_type_list": [0, 1, 0, 1]}, "attn_type_list", "disagrees with layer_types"),
    ({"attn_type_list": [0, 2, 1, 0]}, "attn_type_list", "expected a list of 0"),
    ({"layer_types": ["linear_attention", "sliding_attention", "full_attention", "linear_attention"]},
     "layer_types[1]", "'sliding_attention'"),
    ({"layer_types": ["linear_attention"]}, "layer_types", "has 1 entries"),
    ({"block_size": 0}, "block_size", "not positive"),
]


@pytest.mark.parametrize("change, field, message", MINIMAX_REFUSED)
def test_minimax_refusals(tmp_path, change, field, message):
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, {**MINIMAX["minimax"], **change})
    assert error.value.field == field
    assert message in str(error.value)


def test_minimax_default_pattern_disagreeing_with_attn_type_list(tmp_path):
    config = {**MINIMAX["minimax-default-pattern"], "attn_type_list": [0, 0, 1]}
    with pytest.raises(ConfigError, match="its default pattern"):
        _load(tmp_path, config)
