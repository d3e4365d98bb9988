"""GLM-4.5 (glm4_moe), GLM-4.7-Flash (glm4_moe_lite), ERNIE 4.5 MoE, Hunyuan MoE, dots.llm1
and LongCat-Flash against transformers 5.23 under FlopCounterMode: parameters, forward,
backward and training FLOPs component by component (eager and SDPA, several lengths,
past the windows), decode steps and their caches, every config form.

LongCat-Flash's routed-expert FLOPs depend on the routing (zero-computation experts):
its measurements run under moeb_patches.forced_routing, which makes transformers route a
known number of slots to real experts, and the engine is read under the matching
zero_expert_routing choice (the uniform expectation realised exactly, or either bound),
with zero_expert_slots=allocated (transformers allocates gate/up slots for the identity
experts). test_longcat_own_routing checks the per-slot cost at the model's own routing."""

import pytest

from mfu_sym.inference import Inference

from .compare import assert_same, engine
from .moeb_patches import forced_routing
from .reference import build_model, count_params, measure, measure_decode
from .test_config_fidelity import _forms

S = dict(hidden_size=64, num_attention_heads=4, vocab_size=96)
MLA = dict(kv_lora_rank=16, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=12)
LONGCAT = {"model_type": "longcat_flash", **S, **MLA, "num_layers": 2, "ffn_hidden_size": 80,
           "expert_ffn_hidden_size": 24, "n_routed_experts": 4, "zero_expert_num": 2, "moe_topk": 3,
           "q_lora_rank": 32, "head_dim": 8}
SMALL = {
    # GQA with n_heads * head_dim != hidden, q/k/v biases, per-head q/k norms, 2 shared experts
    "glm4_moe": {"model_type": "glm4_moe", **S, "num_hidden_layers": 3, "num_key_value_heads": 2, "head_dim": 24,
                 "intermediate_size": 80, "moe_intermediate_size": 24, "n_routed_experts": 6,
                 "num_experts_per_tok": 2, "n_shared_experts": 2, "first_k_dense_replace": 1,
                 "attention_bias": True, "use_qk_norm": True, "num_nextn_predict_layers": 1},
    # no bias, no QK norm, no shared expert (a zero-width MLP in transformers), head_dim from the sizes
    "glm4_moe-plain": {"model_type": "glm4_moe", **S, "num_hidden_layers": 2, "num_key_value_heads": 1,
                       "intermediate_size": 48, "moe_intermediate_size": 16, "n_routed_experts": 4,
                       "num_experts_per_tok": 3, "n_shared_experts": 0, "first_k_dense_replace": 0},
    "glm4_moe_lite": {"model_type": "glm4_moe_lite", **S, **MLA, "num_hidden_layers": 3, "num_key_value_heads": 4,
                      "intermediate_size": 80, "moe_intermediate_size": 24, "n_routed_experts": 6,
                      "num_experts_per_tok": 2, "q_lora_rank": 32, "mlp_layer_types": ["dense", "sparse", "dense"]},
    # no query compression, the default pattern (dense first layer)
    "glm4_moe_lite-no-q-lora": {"model_type": "glm4_moe_lite", **S, **MLA, "num_hidden_layers": 3,
                                "num_key_value_heads": 4, "intermediate_size": 48, "moe_intermediate_size": 16,
                                "n_routed_experts": 4, "num_experts_per_tok": 2, "n_shared_experts": 2,
                                "q_lora_rank": None},
    # MoE on every 2nd layer from 1; tied head; the score correction is a parameter
    "ernie4_5_moe": {"model_type": "ernie4_5_moe", **S, "num_hidden_layers": 4, "num_key_value_heads": 2,
                     "intermediate_size": 80, "moe_intermediate_size": 24, "moe_num_experts": 6, "moe_k": 2,
                     "moe_num_shared_experts": 1, "moe_layer_start_index": 1, "moe_layer_interval": 2},
    # MoE on layers 0..1 only, no shared experts, untied
    "ernie4_5_moe-end": {"model_type": "ernie4_5_moe", **S, "num_hidden_layers": 3, "num_key_value_heads": 4,
                         "intermediate_size": 48, "moe_intermediate_size": 16, "moe_num_experts": 4, "moe_k": 1,
                         "moe_num_shared_experts": 0, "moe_layer_start_index": 0, "moe_layer_end_index": 1,
                         "tie_word_embeddings": False},
    # moe_topk as a per-layer list; biases on q/k/v/o
    "hunyuan_v1_moe": {"model_type": "hunyuan_v1_moe", **S, "num_hidden_layers": 2, "num_key_value_heads": 2,
                       "head_dim": 16, "intermediate_size": 40, "num_experts": 4, "moe_topk": [2, 2],
                       "attention_bias": True},
    "hunyuan_v1_moe-one-expert": {"model_type": "hunyuan_v1_moe", **S, "num_hidden_layers": 2, "head_dim": 8,
                                  "intermediate_size": 24, "tie_word_embeddings": True},
    # sliding layers from max_window_layers, a dense first layer, biases
    "dots1": {"model_type": "dots1", **S, "num_hidden_layers": 3, "num_key_value_heads": 2,
              "intermediate_size": 80, "moe_intermediate_size": 24, "n_routed_experts": 6, "num_experts_per_tok": 2,
              "n_shared_experts": 1, "first_k_dense_replace": 1, "sliding_window": 5, "max_window_layers": 1,
              "attention_bias": True},
    "dots1-layer-types": {"model_type": "dots1", **S, "num_hidden_layers": 2, "num_key_value_heads": 4,
                          "intermediate_size": 48, "moe_intermediate_size": 16, "n_routed_experts": 4,
                          "num_experts_per_tok": 2, "n_shared_experts": 2, "sliding_window": 4,
                          "layer_types": ["full_attention", "sliding_attention"]},
    "longcat_flash": LONGCAT,
    # the uniform expectation is 2 x 4 / 7 = 8/7 real experts a token: a fraction
    "longcat_flash-fraction": {**LONGCAT, "zero_expert_num": 3, "moe_topk": 2},
    # no zero experts (an ordinary routed MoE), a router bias
    "longcat_flash-no-zero": {**LONGCAT, "zero_expert_num": 0, "moe_topk": 2, "router_bias": True},
}
# CPU SDPA runs its math kernel (counted like eager) when d_v != d_qk, as in MLA.
MATH_KERNEL = {name for name, config in SMALL.items() if "kv_lora_rank" in config}
SIZES = [(1, 7), (2, 6), (1, 13)]  # past every window (4, 5); 7 tokens realise the 8/7 expectation


def _routing(name, mode="uniform"):
    return forced_routing(mode) if name.startswith("longcat") else _Nothing()


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _conventions(name, mode="uniform", **extra):
    if name.startswith("longcat"):
        extra["variants"] = {"zero_expert_routing": mode, "zero_expert_slots": "allocated"}
    return extra


def _tokens_ok(name, tokens):
    """The uniform expectation must be realisable by the forced routing over these tokens."""
    config = SMALL[name]
    if not name.startswith("longcat") or not config.get("zero_expert_num"):
        return True
    n, z, k = config["n_routed_experts"], config["zero_expert_num"], config["moe_topk"]
    return tokens * k * n % (n + z) == 0


@pytest.mark.parametrize("batch, seq_len", SIZES)
@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("name", list(SMALL))
def test_small_models_exact(tmp_path, name, implementation, batch, seq_len):
    if not _tokens_ok(name, batch * seq_len):
        pytest.skip("the uniform expectation is not a whole number of slots over these tokens")
    config = SMALL[name]
    kernel = "eager" if implementation == "eager" or name in MATH_KERNEL else "flash"
    with _routing(name):
        measured = measure(config, batch=batch, seq_len=seq_len, attn_implementation=implementation)
    model = engine(config, tmp_path, mask="full", attention_kernel=kernel, **_conventions(name))
    assert_same(model, measured, batch=batch, seq_len=seq_len)


@pytest.mark.parametrize("mode", ["uniform", "none_zero", "all_zero"])
def test_longcat_every_routing_bound(tmp_path, mode):
    """Each zero_expert_routing choice equals transformers at a routing that realises it;
    the realised real slots per router call are the engine's expected count exactly."""
    batch, seq_len = 2, 6
    with forced_routing(mode) as routing:
        measured = measure(LONGCAT, batch=batch, seq_len=seq_len, attn_implementation="eager")
    model = engine(LONGCAT, tmp_path, mask="full", **_conventions("longcat_flash", mode))
    assert_same(model, measured, batch=batch, seq_len=seq_len)
    n, z, k = LONGCAT["n_routed_experts"], LONGCAT["zero_expert_num"], LONGCAT["moe_topk"]
    real = {"uniform": k * n // (n + z), "none_zero": min(k, n), "all_zero": max(0, k - z)}[mode]
    assert routing.calls and all(call == (batch * seq_len, real * batch * seq_len) for call in routing.calls)


def test_longcat_fractional_expectation_is_kept_exact(tmp_path):
    """8/7 real experts a token: 7 tokens realise 8 real slots a layer, and the engine's
    exact fraction times 7 tokens is the whole count transformers runs."""
    config = SMALL["longcat_flash-fraction"]
    with forced_routing("uniform") as routing:
        measured = measure(config, batch=1, seq_len=7, attn_implementation="eager")
    assert {call for call in routing.calls} == {(7, 8)}
    model = engine(config, tmp_path, mask="full", **_conventions("longcat_flash"))
    per_token = model.report(seq_len=7, batch=1)["flops"]["per_token"]["forward"]
    assert not per_token.is_Integer and per_token * 7 == measured.forward


def test_longcat_own_routing(tmp_path):
    """No patch: at the model's own (random) routing, transformers runs 6 d_model d_expert
    FLOPs forward per (token, slot) on a real expert and nothing for the identities. The
    engine's every-slot-real count minus that cost for each slot that went to an identity
    expert, observed from the router's output, is the measurement."""
    from transformers.models.longcat_flash import modeling_longcat_flash as longcat
    config, batch, seq_len = LONGCAT, 2, 6
    n = config["n_routed_experts"]
    identity_slots = []
    original = longcat.LongcatFlashTopkRouter.forward

    def observe(self, hidden_states):
        logits, weights, indices = original(self, hidden_states)
        identity_slots.append(int((indices >= n).sum()))
        return logits, weights, indices

    longcat.LongcatFlashTopkRouter.forward = observe
    try:
        measured = measure(config, batch=batch, seq_len=seq_len, attn_implementation="eager")
    finally:
        longcat.LongcatFlashTopkRouter.forward = original
    assert len(identity_slots) == config["num_layers"]
    bound = engine(config, tmp_path, mask="full", **_conventions("longcat_flash", "none_zero")).report(
        seq_len=seq_len, batch=batch)["flops"]
    per_slot = 6 * config["hidden_size"] * config["expert_ffn_hidden_size"]
    assert measured.forward == bound["forward"] - per_slot * sum(identity_slots)
    assert measured.backward == bound["backward"] - 2 * per_slot * sum(identity_slots)


CONTEXTS = [1, 3, 9]  # an empty cache; below every window (4, 5); above them
BATCH = 3  # 3 tokens realise LongCat's uniform expectation (3 x 3 x 4 / 6 = 6 real slots)
FP32 = 4


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("name", [n for n in SMALL if n != "longcat_flash-fraction"])
def test_decode_step_and_cache_exact(tmp_path, name, implementation, context):
    config = SMALL[name]
    with _routing(name):
        measured = measure_decode(config, batch=BATCH, context=context, attn_implementation=implementation)
    inference = Inference(engine(config, tmp_path, **_conventions(name)), dtype="fp32")
    report = inference.report(context, batch=BATCH)
    assert report["decode_step"]["flops"] == measured.forward
    model = inference.model
    assert model.evaluate(inference.decode_step_flops().subs(
        {inference.context: context, inference.batch: BATCH})) == measured.forward
    # the cache: transformers keeps window - 1 positions on a window layer past the window
    arch = model.arch
    window = arch.window
    kinds = [mixer for mixer, _ in [(g.mixer, g.ffn) for g in arch.layers for _ in range(g.count)]]
    held = [min(context, window - 1) if kind == "sliding_attention" else context for kind in kinds]
    assert [keys[2] for keys, _ in measured.cache_shapes] == held
    dropped = sum(1 for kind in kinds if kind == "sliding_attention" and context >= window)
    per_position = {FP32 * (k[1] * k[3] + v[1] * v[3]) for k, v in measured.cache_shapes}
    (bytes_per_position,) = per_position
    assert report["kv_cache_bytes_per_token"] == arch.n_layers * bytes_per_position
    assert report["kv_cache_bytes"] == measured.cache_bytes + BATCH * bytes_per_position * dropped


@pytest.mark.parametrize("name", list(SMALL))
def test_every_config_form(tmp_path, name):
    """As written, aliased, to_dict() and save_pretrained: the same counts, transformers'
    parameters, and FlopCounterMode's forward and training FLOPs."""
    config = SMALL[name]
    with _routing(name):
        measured = measure(config, batch=1, seq_len=7, attn_implementation="eager")
    exact = None
    for form, data in _forms(config, tmp_path).items():
        assert count_params(build_model(data, attn_implementation="eager", device="meta")) == measured.params, form
        report = engine(data, tmp_path, mask="full", **_conventions(name)).report(seq_len=7, batch=1)
        assert (report["params"]["total"], report["flops"]["forward"], report["flops"]["training"]) == (
            measured.params, measured.forward, measured.training), form
        causal = engine(data, tmp_path, **_conventions(name)).report(seq_len=7, batch=1)["flops"]["training"]
        assert exact in (None, causal), form
        exact = causal
