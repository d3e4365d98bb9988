"""The MoE group's families against what transformers 5.23 executes, counted by
FlopCounterMode: gpt-oss, Llama 4 (text), MiniMax-M2, Phi-3.5-MoE, Granite MoE (with and
without the shared expert) and AFMoE.

Small models (random weights, CPU): parameters, forward, backward and training FLOPs and
every component exact (0 difference), eager and SDPA (gpt-oss refuses SDPA), at
sequence lengths past every window (5) and chunk (4) and multiples of neither; every
config form users have (as written, aliased, to_dict(), save_pretrained); one decode step
with a DynamicCache at contexts below, on and past the windows and chunks, FLOPs exact and
the cache against the tensors transformers allocates; and the keys each layer's query
sees against the masks transformers builds.

Two of transformers' paths differ from the model and are variant choices here:
Llama 4's experts run on every token (experts_run=all) and its chunked layers keep a
sliding-window cache of attention_chunk_size positions whose scores are all computed at
a decode step (chunked_attention_keys=window). The defaults (routed experts, the query's
own chunk) differ from those paths by exactly the terms the tests below write out.
"""

import pytest

from mfu_sym import stack
from mfu_sym.inference import Inference

from .compare import engine
from .reference import build_model, count_params, measure, measure_decode
from .test_config_fidelity import _forms, _keys_per_layer

S = dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=2, vocab_size=96)
WINDOW, CHUNK = 5, 4
SMALL = {
    # alternating layer types by default, every bias, sinks, router bias, clamped SwiGLU experts
    "gpt_oss": {"model_type": "gpt_oss", **S, "num_hidden_layers": 4, "head_dim": 16, "intermediate_size": 24,
                "num_local_experts": 4, "num_experts_per_tok": 2, "sliding_window": WINDOW},
    # explicit layer_types (two sliding layers in a row), tied, no attention bias, MQA
    "gpt_oss-layer-types": {"model_type": "gpt_oss", **S, "num_hidden_layers": 3, "num_key_value_heads": 1,
                            "head_dim": 24, "intermediate_size": 32, "num_local_experts": 3,
                            "num_experts_per_tok": 3, "sliding_window": WINDOW, "attention_bias": False,
                            "tie_word_embeddings": True,
                            "layer_types": ["sliding_attention", "sliding_attention", "full_attention"]},
    # chunked RoPE layers and a NoPE global layer (interval 4), MoE every 2nd layer, dense layers
    # of intermediate_size_mlp, the shared expert
    "llama4_text": {"model_type": "llama4_text", **S, "num_hidden_layers": 4, "head_dim": 16,
                    "intermediate_size": 24, "intermediate_size_mlp": 40, "num_local_experts": 4,
                    "num_experts_per_tok": 1, "attention_chunk_size": CHUNK, "interleave_moe_layer_step": 2},
    # the composite (multimodal) config, read through its text_config as AutoModelForCausalLM does
    "llama4": {"model_type": "llama4", "vision_config": {"hidden_size": 8}, "image_token_index": 5,
               "text_config": {"model_type": "llama4_text", **S, "num_hidden_layers": 4, "head_dim": 16,
                               "intermediate_size": 24, "intermediate_size_mlp": 40, "num_local_experts": 4,
                               "num_experts_per_tok": 1, "attention_chunk_size": CHUNK,
                               "interleave_moe_layer_step": 2}},
    # explicit moe_layers (one past the last layer) and no_rope_layers, top-2, no QK norm, biases
    "llama4_text-lists": {"model_type": "llama4_text", **S, "num_hidden_layers": 3, "head_dim": 16,
                          "intermediate_size": 16, "intermediate_size_mlp": 48, "num_local_experts": 3,
                          "num_experts_per_tok": 2, "attention_chunk_size": CHUNK, "moe_layers": [0, 2, 7],
                          "no_rope_layers": [0, 1, 1], "use_qk_norm": False, "attention_bias": True},
    # no MoE layer at all: the dense model transformers builds
    "llama4_text-dense": {"model_type": "llama4_text", **S, "num_hidden_layers": 2, "head_dim": 16,
                          "intermediate_size": 16, "intermediate_size_mlp": 48, "attention_chunk_size": CHUNK,
                          "moe_layers": []},
    # full-width q/k norms, sigmoid router, no biases
    "minimax_m2": {"model_type": "minimax_m2", **S, "num_hidden_layers": 2, "head_dim": 24,
                   "intermediate_size": 24, "num_local_experts": 5, "num_experts_per_tok": 2},
    # LayerNorms, every attention bias, LM head bias, a window on every layer, head_dim from getattr
    "phimoe": {"model_type": "phimoe", **S, "num_hidden_layers": 2, "intermediate_size": 24,
               "num_local_experts": 4, "num_experts_per_tok": 2, "lm_head_bias": True, "attention_bias": True,
               "sliding_window": WINDOW},
    # muP multipliers, tied, KV heads from the class default (= heads)
    "granitemoe": {"model_type": "granitemoe", "hidden_size": 48, "num_attention_heads": 4, "vocab_size": 96,
                   "num_hidden_layers": 2, "intermediate_size": 24, "num_local_experts": 4,
                   "num_experts_per_tok": 2, "tie_word_embeddings": True, "embedding_multiplier": 12.0,
                   "residual_multiplier": 0.22, "attention_multiplier": 0.015625, "logits_scaling": 6.0},
    "granitemoeshared": {"model_type": "granitemoeshared", **S, "num_hidden_layers": 2, "intermediate_size": 24,
                         "num_local_experts": 4, "num_experts_per_tok": 2, "shared_intermediate_size": 40,
                         "attention_bias": True},
    # shared_intermediate_size 0: no shared MLP
    "granitemoeshared-none": {"model_type": "granitemoeshared", **S, "num_hidden_layers": 2,
                              "intermediate_size": 24, "num_local_experts": 3, "num_experts_per_tok": 1},
    # gated attention, per-head q/k norms, 4 norms a layer, a dense first layer, a global layer
    # every 2nd, two shared experts, muP input scaling
    "afmoe": {"model_type": "afmoe", **S, "num_hidden_layers": 4, "head_dim": 16, "intermediate_size": 40,
              "moe_intermediate_size": 24, "num_experts": 4, "num_experts_per_tok": 2, "num_shared_experts": 2,
              "sliding_window": WINDOW, "global_attn_every_n_layers": 2, "mup_enabled": True},
    # two dense layers, no shared expert, explicit layer_types, attention biases
    "afmoe-dense-first": {"model_type": "afmoe", **S, "num_hidden_layers": 3, "head_dim": 16,
                          "intermediate_size": 40, "moe_intermediate_size": 24, "num_experts": 3,
                          "num_experts_per_tok": 1, "num_shared_experts": 0, "num_dense_layers": 2,
                          "sliding_window": WINDOW, "attention_bias": True,
                          "layer_types": ["full_attention", "sliding_attention", "sliding_attention"]},
    # every layer dense: no experts built
    "afmoe-all-dense": {"model_type": "afmoe", **S, "num_hidden_layers": 2, "head_dim": 16,
                        "intermediate_size": 40, "moe_intermediate_size": 24, "num_dense_layers": 5,
                        "sliding_window": WINDOW},
}
SDPA_REFUSED = {name for name in SMALL if name.startswith("gpt_oss")}
# what transformers executes, where it differs from the model (see the module docstring)
TORCH_PATH = {"experts_run": "all", "chunked_attention_keys": "window"}
SIZES = [(1, 11), (2, 9)]  # past every window and chunk; multiples of neither
CONTEXTS = [1, 3, 8, 11]  # an empty cache; below the windows and chunks; on a chunk boundary; past all


def _variants(name, tmp_path):
    """The torch-path variants the model reads (None: it reads none)."""
    model = engine(SMALL[name], tmp_path)
    read = model.variants_read(model.arch)
    return {k: v for k, v in TORCH_PATH.items() if k in read} or None


# ------------------------------------------------------------------ components

_FFN = ("mlp", "feed_forward", "block_sparse_moe")
_MOE_PARTS = {"gate": "router", "router": "router", "experts": "experts", "shared_expert": "shared_experts",
              "shared_experts": "shared_experts"}


def _children(by_module, path):
    prefix = path + "."
    return {p[len(prefix):]: v for p, v in by_module.items() if p.startswith(prefix) and "." not in p[len(prefix):]}


def components(by_module):
    """FlopCounterMode's per-module totals by mfu-sym component, for these families'
    module names (feed_forward: Llama 4; block_sparse_moe and shared_mlp: Granite)."""
    out = dict.fromkeys(("attention_projections", "attention_core", "mlp", "router", "experts", "shared_experts"), 0)
    out["lm_head"] = by_module.get("lm_head", 0)
    for path, flops in by_module.items():
        leaf = path.rsplit(".", 1)[-1]
        if ".layers." not in "." + path or path.count(".") != 3:
            continue  # model.layers.N.<block> only
        children = _children(by_module, path)
        if leaf == "self_attn":
            out["attention_projections"] += sum(children.values())
            out["attention_core"] += flops - sum(children.values())
        elif leaf == "shared_mlp":
            out["shared_experts"] += flops
        elif leaf in _FFN and "experts" in children:
            for child, value in children.items():
                out[_MOE_PARTS[child]] += value
            out["experts"] += flops - sum(children.values())  # combine arithmetic (0 when counted right)
        elif leaf in _FFN:
            out["mlp"] += flops
    return out


def assert_exact(model, measured, batch, seq_len):
    report = model.report(seq_len=seq_len, batch=batch)
    flops = report["flops"]
    assert report["params"]["total"] == measured.params, "parameters"
    assert (flops["forward"], flops["backward"], flops["training"]) == (
        measured.forward, measured.backward, measured.training), "forward, backward, training"
    for phase in ("forward", "backward"):
        theirs = components(measured.by_module[phase])
        ours = {name: flops["components"].get(name, {}).get(phase, 0) for name in theirs}
        assert ours == theirs, f"{phase} by component"


# ------------------------------------------------------------------ training step


@pytest.mark.parametrize("batch, seq_len", SIZES)
@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("name", list(SMALL))
def test_small_models_exact(tmp_path, name, implementation, batch, seq_len):
    if implementation == "sdpa" and name in SDPA_REFUSED:
        pytest.skip("transformers refuses sdpa for gpt-oss")
    config = SMALL[name]
    measured = measure(config, batch=batch, seq_len=seq_len, attn_implementation=implementation)
    kernel = "eager" if implementation == "eager" else "flash"
    model = engine(config, tmp_path, mask="full", attention_kernel=kernel, variants=_variants(name, tmp_path))
    assert_exact(model, measured, batch, seq_len)


def test_the_lengths_pass_every_window_and_chunk():
    for _, seq_len in SIZES:
        assert seq_len > WINDOW and seq_len > CHUNK and seq_len % WINDOW and seq_len % CHUNK
    assert max(CONTEXTS) > WINDOW and CHUNK * 2 in CONTEXTS


@pytest.mark.parametrize("name", ["llama4_text", "llama4_text-lists"])
def test_llama4_routed_experts_are_the_executed_ones_less_the_unrouted(tmp_path, name):
    """transformers runs all E experts on every token; the model needs top_k of them: the
    default count is the measured one less (E - k) gated experts (3 matrices d x F, 2
    FLOPs a multiply-add, x3 for training) per token and MoE layer."""
    config = SMALL[name]
    batch, seq_len = 2, 9
    measured = measure(config, batch=batch, seq_len=seq_len, attn_implementation="eager")
    model = engine(config, tmp_path, mask="full")
    n_moe = {"llama4_text": 2, "llama4_text-lists": 2}[name]  # layers 1, 3; layers 0, 2 (7 is past the last)
    unrouted = (config["num_local_experts"] - config["num_experts_per_tok"]) * 3 * 2 * 64 * config["intermediate_size"]
    report = model.report(seq_len=seq_len, batch=batch)
    assert model.conventions.variant("experts_run") == "routed"
    assert report["flops"]["training"] == measured.training - 3 * batch * seq_len * n_moe * unrouted
    assert report["params"]["total"] == measured.params


def test_gpt_oss_two_matrix_experts_drop_one_matrix_per_active_expert(tmp_path):
    """Megatron-LM's count (expert_matrices=two) is the executed one less one d x F matrix
    per active expert, forward and backward; the parameters do not change."""
    config = SMALL["gpt_oss"]
    batch, seq_len = 1, 11
    measured = measure(config, batch=batch, seq_len=seq_len, attn_implementation="eager")
    model = engine(config, tmp_path, mask="full", variants={"expert_matrices": "two"})
    report = model.report(seq_len=seq_len, batch=batch)
    one_matrix = 2 * config["hidden_size"] * config["intermediate_size"]
    dropped = 3 * batch * seq_len * config["num_hidden_layers"] * config["num_experts_per_tok"] * one_matrix
    assert report["flops"]["training"] == measured.training - dropped
    assert report["params"]["total"] == measured.params


# ------------------------------------------------------------------ config forms


def _counts(config, tmp_path, **conventions):
    report = engine(config, tmp_path, **conventions).report(seq_len=11, batch=1)
    return report["params"]["total"], report["flops"]["forward"], report["flops"]["training"]


@pytest.mark.parametrize("name", list(SMALL))
def test_every_config_form(tmp_path, name):
    config = SMALL[name]
    variants = _variants(name, tmp_path)
    measured = measure(config, batch=1, seq_len=11, attn_implementation="eager")
    exact = set()
    for form, data in _forms(config, tmp_path).items():
        assert count_params(build_model(data, attn_implementation="eager", device="meta")) == measured.params, form
        assert _counts(data, tmp_path, mask="full", attention_kernel="eager", variants=variants) == (
            measured.params, measured.forward, measured.training), form
        exact.add(_counts(data, tmp_path))
    assert len(exact) == 1


# ------------------------------------------------------------------ masks


def _our_keys_per_layer(model, seq_len):
    """The same from the engine: each layer's mask, summed over the positions."""
    import sympy
    lib, arch = model.library, model.arch
    values = {lib.symbol(k): v for k, v in arch.values().items()}
    out = []
    for mixer, _ in stack.layers(arch.layers):
        mask = lib.masks[{"sliding_attention": "sliding_window", "chunked_attention": "chunked"}.get(mixer, "causal")]
        out.append(int(sum(mask.keys.subs(lib.symbol("t"), t).xreplace(values) for t in range(1, seq_len + 1))))
        assert out[-1] == mask.total.subs(lib.symbol("seq_len"), seq_len).xreplace(values), mask.name
        assert isinstance(sympy.Integer(out[-1]), sympy.Integer)
    return out


@pytest.mark.parametrize("seq_len", [3, 9, 11])
@pytest.mark.parametrize("name", ["gpt_oss", "gpt_oss-layer-types", "llama4_text", "llama4_text-lists",
                                  "phimoe", "afmoe", "afmoe-dense-first"])
def test_keys_per_layer_match_transformers_masks(tmp_path, name, seq_len):
    config = SMALL[name]
    assert _our_keys_per_layer(engine(config, tmp_path), seq_len) == _keys_per_layer(config, seq_len)


# ------------------------------------------------------------------ decode


FP32 = 4


def _assert_cache(inference, measured, context, batch):
    """Per layer, transformers holds C positions on full layers and min(C, W - 1) on
    sliding and chunked layers once the step is done (the next query needs W - 1
    previous keys and itself); the engine reports the positions the step attended to,
    min(C, W) there (the window variant for chunked layers), so they differ by one
    position on those layers past the window, and nowhere else."""
    arch = inference.model.arch
    report = inference.report(context, batch=batch)
    local = {"sliding_attention": arch.window, "chunked_attention": arch.size("attention_chunk")}
    mixers = [mixer for mixer, _ in stack.layers(arch.layers)]
    theirs = [keys[2] for keys, _ in measured.cache_shapes]
    assert theirs == [min(context, local[m] - 1) if m in local else context for m in mixers]
    ours = [min(context, local[m]) if m in local else context for m in mixers]
    (bytes_per_position,) = {FP32 * (k[1] * k[3] + v[1] * v[3]) for k, v in measured.cache_shapes}
    assert report["kv_cache_bytes_per_token"] == arch.n_layers * bytes_per_position
    assert report["kv_cache_bytes"] == batch * bytes_per_position * sum(ours)
    assert report["kv_cache_bytes"] == measured.cache_bytes + batch * bytes_per_position * sum(
        o - t for o, t in zip(ours, theirs))


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("name", list(SMALL))
def test_decode_step_exact(tmp_path, name, implementation, context):
    """One decode step: FLOPs exact (numerically and through the symbolic per-position
    form), and the cache against what transformers allocates."""
    if implementation == "sdpa" and name in SDPA_REFUSED:
        pytest.skip("transformers refuses sdpa for gpt-oss")
    config = SMALL[name]
    measured = measure_decode(config, batch=2, context=context, attn_implementation=implementation)
    inference = Inference(engine(config, tmp_path, variants=_variants(name, tmp_path)), dtype="fp32")
    assert inference.report(context, batch=2)["decode_step"]["flops"] == measured.forward
    symbolic = inference.decode_step_flops().subs({inference.context: context, inference.batch: 2})
    assert inference.model.evaluate(symbolic) == measured.forward
    _assert_cache(inference, measured, context, batch=2)


def _chunk_keys(context):
    return context - CHUNK * ((context - 1) // CHUNK)


@pytest.mark.parametrize("context", CONTEXTS)
def test_llama4_decode_charges_the_chunk_by_default(tmp_path, context):
    """The default counts the keys of the query's own chunk (what chunk-aware kernels
    compute); transformers multiplies the min(C, c) keys its sliding cache holds: the
    difference is 4 n_heads d_head per extra key on each chunked layer, and the unrouted
    experts (E - k) x 3 matrices on each MoE layer, per sequence."""
    config = SMALL["llama4_text"]
    measured = measure_decode(config, batch=1, context=context, attn_implementation="eager")
    ours = Inference(engine(config, tmp_path)).report(context, batch=1)["decode_step"]["flops"]
    n_chunked, n_moe = 3, 2  # layers 0-2 RoPE (chunked), layers 1 and 3 MoE
    extra_keys = min(context, CHUNK) - _chunk_keys(context)
    unrouted = (4 - 1) * 3 * 2 * 64 * 24
    assert ours == measured.forward - n_chunked * 4 * 4 * 16 * extra_keys - n_moe * unrouted


@pytest.mark.parametrize("context", CONTEXTS)
def test_llama4_chunk_cache_holds_the_current_chunk(tmp_path, context):
    """By default a chunked layer's cache holds the positions of the current chunk
    (what a chunk-aware server keeps): at most c, back to 1 at each chunk start."""
    config = SMALL["llama4_text"]
    inference = Inference(engine(config, tmp_path), dtype="fp32")
    positions = inference.report(context, batch=1)["kv_cache"]["positions_per_layer"]
    assert positions == {"chunked": _chunk_keys(context), "causal": context}
