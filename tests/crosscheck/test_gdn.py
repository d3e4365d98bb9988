"""Gated DeltaNet families against transformers under FlopCounterMode: Qwen3-Next (MoE
and dense), Qwen3.5 (dense, MoE, and their multimodal configs read through text_config)
and OLMo Hybrid. Exact parameters, forward, backward and training FLOPs, component by
component, at sequence lengths below, at and past the 64-token chunk and not multiples
of it, with eager attention (and SDPA past a chunk); a decode step after a one-token, a
one-chunk and a two-chunk prefill, and the cache transformers allocates (keys and values of the attention layers,
conv and recurrent states of the GDN layers); every form of each config.

Conventions for what the PyTorch path executes: `mask="full"` (eager attention computes
the square), the attention kernel of the implementation, and `conv_outputs=padded`
(nn.Conv1d with padding K - 1: s + K - 1 outputs; a cached step convolves K + 1 inputs
into 2 outputs). The chunked core needs no convention: the default `linear_core=chunked`
is what torch_chunk_gated_delta_rule executes. The recurrent decode step runs with its
contractions as matmuls (gdn_patches.py); the triangular solves and the grouped conv
backward are charged by reference.py."""

import json

import pytest

from mfu_sym.inference import Inference

from .compare import assert_same, engine
from .gdn_patches import matmul_recurrent_step, measure_linear_decode
from .reference import build_model, count_params, measure
from .test_config_fidelity import _forms

TORCH = {"conv_outputs": "padded"}
GDN = {"linear_num_key_heads": 2, "linear_num_value_heads": 4, "linear_key_head_dim": 8, "linear_value_head_dim": 12,
       "linear_conv_kernel_dim": 3}
SMALL = {
    # MoE with a shared expert, a dense layer from mlp_only_layers, d_k != d_v, GQA, interval 2
    "qwen3_next": {"model_type": "qwen3_next", "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 4,
                   "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "vocab_size": 64,
                   **GDN, "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 16,
                   "shared_expert_intermediate_size": 24, "mlp_only_layers": [1], "full_attention_interval": 2},
    # MoE every second layer, explicit layer_types, one key head shared by four value heads
    "qwen3_next-step2": {"model_type": "qwen3_next", "hidden_size": 32, "intermediate_size": 40,
                         "num_hidden_layers": 4, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16,
                         "vocab_size": 64, "linear_num_key_heads": 1, "linear_num_value_heads": 4,
                         "linear_key_head_dim": 16, "linear_value_head_dim": 8, "num_experts": 3,
                         "num_experts_per_tok": 1, "moe_intermediate_size": 16, "shared_expert_intermediate_size": 8,
                         "decoder_sparse_step": 2,
                         "layer_types": ["full_attention", "linear_attention", "linear_attention", "full_attention"]},
    # no experts: dense MLPs everywhere; tied embeddings
    "qwen3_next-dense": {"model_type": "qwen3_next", "hidden_size": 32, "intermediate_size": 48,
                         "num_hidden_layers": 4, "num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 8,
                         "vocab_size": 64, **GDN, "num_experts": 0, "tie_word_embeddings": True},
    "qwen3_5_text": {"model_type": "qwen3_5_text", "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 4,
                     "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 8, "vocab_size": 64, **GDN,
                     "linear_conv_kernel_dim": 4, "tie_word_embeddings": True},
    "qwen3_5_moe_text": {"model_type": "qwen3_5_moe_text", "hidden_size": 32, "num_hidden_layers": 4,
                         "num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 8, "vocab_size": 64,
                         "linear_num_key_heads": 2, "linear_num_value_heads": 2, "linear_key_head_dim": 8,
                         "linear_value_head_dim": 8, "num_experts": 4, "num_experts_per_tok": 2,
                         "moe_intermediate_size": 16, "shared_expert_intermediate_size": 8},
    # the multimodal configs the Qwen3.5 checkpoints publish: the causal LM is the text part
    "qwen3_5": {"model_type": "qwen3_5", "text_config": {
        "model_type": "qwen3_5_text", "hidden_size": 32, "intermediate_size": 40, "num_hidden_layers": 3,
        "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 8, "vocab_size": 64, **GDN,
        "layer_types": ["linear_attention", "full_attention", "linear_attention"]}},
    "qwen3_5_moe": {"model_type": "qwen3_5_moe", "text_config": {
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
        "head_dim": 8, "vocab_size": 64, **GDN, "num_experts": 3, "num_experts_per_tok": 2, "moe_intermediate_size": 8,
        "shared_expert_intermediate_size": 16, "full_attention_interval": 2}},
    # transformers' defaults for the GDN sizes (d_k = int(0.75 d / heads), d_v = 2 d_k); 3 layers: the last full
    "olmo_hybrid": {"model_type": "olmo_hybrid", "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 3,
                    "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 64, "pad_token_id": 0,
                    "eos_token_id": 1},
    # explicit sizes and pattern, head_dim from the file, biases on the attention layers
    "olmo_hybrid-explicit": {"model_type": "olmo_hybrid", "hidden_size": 32, "intermediate_size": 40,
                             "num_hidden_layers": 5, "num_attention_heads": 2, "head_dim": 12, "vocab_size": 64,
                             "pad_token_id": 0, "eos_token_id": 1, "attention_bias": True, **GDN,
                             "layer_types": ["linear_attention", "full_attention", "linear_attention",
                                             "linear_attention", "full_attention"]},
}
# below a chunk, past one, past two; none a multiple of 64, plus one that is. Eager at
# every size; SDPA (which changes only the attention layers' backward) at one past a chunk.
SIZES = [(2, 5), (1, 64), (2, 70), (1, 130)]
CASES = [("eager", batch, seq_len) for batch, seq_len in SIZES] + [("sdpa", 2, 70)]


@pytest.mark.parametrize("implementation, batch, seq_len", CASES)
@pytest.mark.parametrize("name", list(SMALL))
def test_small_gdn_models_exact(tmp_path, name, implementation, batch, seq_len):
    config = SMALL[name]
    measured = measure(config, batch=batch, seq_len=seq_len, attn_implementation=implementation)
    kernel = "eager" if implementation == "eager" else "flash"
    model = engine(config, tmp_path, mask="full", attention_kernel=kernel, variants=TORCH)
    assert_same(model, measured, batch=batch, seq_len=seq_len)


def test_the_sizes_cross_the_chunk():
    assert {s for _, s in SIZES} >= {5, 64, 70, 130} and any(s % 64 for _, s in SIZES if s > 64)


# ------------------------------------------------------------------ decode

# a one-token prefill; a state written by a whole chunk (64 prefilled) with eager attention,
# past two chunks with SDPA
DECODE = [(2, "eager"), (65, "eager"), (130, "sdpa")]
BATCH = 2
FP32 = 4


@pytest.mark.parametrize("context, implementation", DECODE)
@pytest.mark.parametrize("name", list(SMALL))
def test_decode_step_exact(tmp_path, name, implementation, context):
    config = SMALL[name]
    measured = measure_linear_decode(config, batch=BATCH, context=context, attn_implementation=implementation)
    torch_path = Inference(engine(config, tmp_path, variants=TORCH), dtype="fp32")
    assert torch_path.report(context, batch=BATCH)["decode_step"]["flops"] == measured.forward
    # the production count convolves the window into one output, not two: one output fewer per GDN layer
    production = Inference(engine(config, tmp_path), dtype="fp32")
    arch = production.model.arch
    channels = 2 * arch.size("gdn_key_heads") * arch.size("gdn_key_head_dim") \
        + arch.size("gdn_value_heads") * arch.size("gdn_value_head_dim")
    n_gdn = sum(1 for kind in measured.recurrent if kind is not None)
    assert production.report(context, batch=BATCH)["decode_step"]["flops"] == \
        measured.forward - BATCH * n_gdn * 2 * arch.size("gdn_conv_kernel") * channels


@pytest.mark.parametrize("context", [70])
@pytest.mark.parametrize("name", list(SMALL))
def test_cache_against_the_tensors_transformers_allocates(tmp_path, name, context):
    config = SMALL[name]
    measured = measure_linear_decode(config, batch=BATCH, context=context)
    inference = Inference(engine(config, tmp_path), dtype="fp32")
    arch = inference.model.arch
    report = inference.report(context, batch=BATCH)
    from mfu_sym import stack
    mixers = [mixer for mixer, _ in stack.layers(arch.layers)]
    nk, nv = arch.size("gdn_key_heads"), arch.size("gdn_value_heads")
    dk, dv, k = arch.size("gdn_key_head_dim"), arch.size("gdn_value_head_dim"), arch.size("gdn_conv_kernel")
    for i, mixer in enumerate(mixers):
        if mixer == "gated_deltanet":
            assert measured.kv[i] is None
            assert measured.conv[i] == (BATCH, 2 * nk * dk + nv * dv, k)
            assert measured.recurrent[i] == (BATCH, nv, dk, dv)
        else:
            assert measured.conv[i] is None and measured.recurrent[i] is None
            assert measured.kv[i] == ((BATCH, arch.n_kv_heads, context, arch.d_head),) * 2
    assert report["kv_cache"]["state_elements_per_sequence"] == mixers.count("gated_deltanet") * (
        nv * dk * dv + k * (2 * nk * dk + nv * dv))
    assert report["kv_cache_bytes"] == measured.cache_bytes


def test_the_patched_step_is_the_original_and_is_counted(tmp_path):
    """The recurrent step's three contractions are 0 FLOPs as transformers writes them and
    6 d_k d_v per value head as matmuls; the patch checks every output against the original."""
    config = SMALL["qwen3_next"]
    patched = measure_linear_decode(config, batch=1, context=3)
    nv, dk, dv = GDN["linear_num_value_heads"], GDN["linear_key_head_dim"], GDN["linear_value_head_dim"]
    gdn_layers = sum(1 for kind in patched.recurrent if kind is not None)
    core = sum(flops for path, flops in patched.by_module.items() if path.endswith("linear_attn")) \
        - sum(flops for path, flops in patched.by_module.items()
              if path.endswith(("in_proj_qkvz", "in_proj_ba", "out_proj")))
    k, channels = GDN["linear_conv_kernel_dim"], 2 * 2 * 8 + 4 * 12
    assert core == gdn_layers * (6 * nv * dk * dv + 2 * 2 * k * channels)
    with matmul_recurrent_step():
        import transformers.models.qwen3_next.modeling_qwen3_next as qwen3_next
        assert qwen3_next.torch_recurrent_gated_delta_rule.__name__ == "recurrent"
    assert qwen3_next.torch_recurrent_gated_delta_rule.__name__ == "torch_recurrent_gated_delta_rule"


def test_a_one_token_cache_is_a_prefill():
    with pytest.raises(ValueError, match="context must be >= 2"):
        measure_linear_decode(SMALL["qwen3_5_text"], batch=1, context=1)


# ------------------------------------------------------------------ forms


def _counts(config, tmp_path, **conventions):
    model = engine(config, tmp_path, **conventions)
    report = model.report(seq_len=70, batch=1)
    return report["params"]["total"], report["flops"]["forward"], report["flops"]["training"]


@pytest.mark.parametrize("name", list(SMALL))
def test_every_form_of_the_config(tmp_path, name):
    config = SMALL[name]
    measured = measure(config, batch=1, seq_len=70, attn_implementation="eager")
    exact = None
    for form, data in _forms(config, tmp_path).items():
        assert count_params(build_model(data, attn_implementation="eager", device="meta")) == measured.params, form
        assert _counts(data, tmp_path, mask="full", attention_kernel="eager", variants=TORCH) == (
            measured.params, measured.forward, measured.training), form
        counts = _counts(data, tmp_path)
        assert exact in (None, counts), form
        exact = counts


def test_the_composite_config_counts_its_text_model(tmp_path):
    text = dict(SMALL["qwen3_5"]["text_config"])
    assert _counts(SMALL["qwen3_5"], tmp_path) == _counts(text, tmp_path)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**SMALL["qwen3_5"], "vision_config": {"depth": 1}, "image_token_id": 3}))
    import mfu_sym
    # every key is a field of Qwen3_5Config: the one note says the vision tower is not counted
    assert mfu_sym.load_architecture(path).notes == (
        "vision_config: not counted (AutoModelForCausalLM builds the text model alone; the checkpoint's "
        "parameters include this part)",)
