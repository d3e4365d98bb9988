"""DeepSeek-V2 (MLA, MoE with shared experts) and DeepSeek-V3.2 (DSA: MLA with a
lightning indexer and top-k attention) against what transformers 5.23 executes, counted
by FlopCounterMode.

What transformers runs for DSA (modeling_deepseek_v32.py): the indexer under
torch.no_grad (forward only), scoring every key, and the MLA core dense with the top-k
folded into the attention mask. Its counts are therefore the engine's under
`--mask full` (the full square, as for every attention), `dsa_core=dense` and
`dsa_indexer=forward_only` (the default). FlopCounterMode sees every matmul of the
indexer (its Linear layers, the q.k and head-weighting matmuls); the top-k, its scatter
into the mask and the ReLU are not matmuls, and the guard of reference.py fails the test
if a matmul-like op ran uncounted: no patch is needed (no dsa_patches.py).

Sequence lengths and decode contexts fall below, at and above index_topk; SDPA runs
CPU's fused kernel when d_qk = d_v (attention_kernel flash) and its math kernel
otherwise (eager)."""

import json
from pathlib import Path

import pytest
import torch
from transformers.models.deepseek_v32 import modeling_deepseek_v32

import mfu_sym
from mfu_sym.inference import Inference

from .compare import assert_same, engine
from .reference import build_model, count_params, measure, measure_decode
from .test_config_fidelity import _forms

HF = Path(__file__).resolve().parents[2] / "examples" / "hf"
TORCH = {"dsa_core": "dense"}  # what transformers' eager and SDPA paths execute

V2 = {"model_type": "deepseek_v2", "hidden_size": 64, "intermediate_size": 96, "moe_intermediate_size": 24,
      "num_hidden_layers": 3, "num_attention_heads": 4, "vocab_size": 128, "n_routed_experts": 8,
      "num_experts_per_tok": 2, "kv_lora_rank": 16, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8,
      "v_head_dim": 12}
V32 = {"model_type": "deepseek_v32", "hidden_size": 64, "intermediate_size": 96, "moe_intermediate_size": 24,
       "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4, "n_shared_experts": 2,
       "n_routed_experts": 8, "n_group": 2, "topk_group": 1, "num_experts_per_tok": 2, "first_k_dense_replace": 1,
       "q_lora_rank": 32, "kv_lora_rank": 16, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 12,
       "vocab_size": 128, "index_topk": 5, "index_head_dim": 16, "index_n_heads": 2}
SMALL = {
    # DeepSeek-V2-Lite's shape: no query compression, greedy routing, a dense first layer, 2 shared experts
    "deepseek_v2-lite": {**V2, "q_lora_rank": None, "first_k_dense_replace": 1, "n_shared_experts": 2},
    # DeepSeek-V2's: compressed queries, group-limited routing, every layer MoE; d_qk = d_v (SDPA's fused kernel)
    "deepseek_v2-group": {**V2, "q_lora_rank": 32, "topk_method": "group_limited_greedy", "n_group": 2,
                          "topk_group": 1, "n_shared_experts": 1, "qk_nope_head_dim": 8, "v_head_dim": 16},
    "deepseek_v2-no-shared": {**V2, "q_lora_rank": None, "n_shared_experts": 0, "tie_word_embeddings": True},
    "deepseek_v32": V32,
    # MoE and dense layers interleaved by mlp_layer_types, tied embeddings, the indexer's heads all rotary
    # (index_head_dim = qk_rope_head_dim), d_qk = d_v (SDPA's fused kernel)
    "deepseek_v32-pattern": {**V32, "num_hidden_layers": 4, "mlp_layer_types": ["sparse", "dense", "sparse", "dense"],
                             "qk_nope_head_dim": 8, "v_head_dim": 16, "index_head_dim": 8, "index_n_heads": 3,
                             "index_topk": 4, "tie_word_embeddings": True, "n_shared_experts": 1},
    # no sparse layer: transformers builds no expert at all
    "deepseek_v32-all-dense": {**V32, "mlp_layer_types": ["dense"] * 3},
    # the legacy keyword num_experts replaces n_routed_experts (__post_init__)
    "deepseek_v32-num-experts": {**{k: v for k, v in V32.items() if k != "n_routed_experts"}, "num_experts": 4,
                                 "layer_types": ["deepseek_sparse_attention"] * 3},
}
FUSED = {"deepseek_v2-group", "deepseek_v32-pattern"}  # d_qk = d_v: CPU SDPA's flash kernel
SIZES = [(1, 3), (2, 5), (1, 12), (2, 9)]  # below, at and above index_topk (4, 5); not multiples of it


def _kernel(name, implementation):
    return "flash" if implementation == "sdpa" and name in FUSED else "eager"


def _variants(config):
    return TORCH if config["model_type"] == "deepseek_v32" else {}


def test_the_lengths_fall_on_both_sides_of_every_top_k():
    for config in SMALL.values():
        if "index_topk" in config:
            k = config["index_topk"]
            assert min(s for _, s in SIZES) < k < max(s for _, s in SIZES)
            assert any(s % k for _, s in SIZES)


@pytest.mark.parametrize("batch, seq_len", SIZES)
@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("name", list(SMALL))
def test_small_models_exact(tmp_path, name, implementation, batch, seq_len):
    """Parameters, forward, backward and training FLOPs, component by component (the
    indexer apart), exactly."""
    config = SMALL[name]
    measured = measure(config, batch=batch, seq_len=seq_len, attn_implementation=implementation)
    fused = "_scaled_dot_product_flash_attention_for_cpu" in measured.by_op["forward"]
    assert fused == (_kernel(name, implementation) == "flash")
    model = engine(config, tmp_path, mask="full", attention_kernel=_kernel(name, implementation),
                   variants=_variants(config))
    assert_same(model, measured, batch=batch, seq_len=seq_len)


@pytest.mark.parametrize("name", [n for n in SMALL if SMALL[n]["model_type"] == "deepseek_v32"])
def test_the_indexer_runs_forward_only(tmp_path, name):
    """transformers' indexer has no backward (torch.no_grad): its FLOPs are all forward,
    and they are the engine's `indexer` component; training is below 3 x forward."""
    config = SMALL[name]
    measured = measure(config, batch=1, seq_len=9)
    indexer = sum(v for p, v in measured.by_module["forward"].items() if p.endswith("self_attn.indexer"))
    assert indexer > 0
    assert not any(p.endswith("indexer") or ".indexer." in p for p in measured.by_module["backward"])
    report = engine(config, tmp_path, mask="full", variants=TORCH).report(seq_len=9, batch=1)
    assert report["flops"]["components"]["indexer"] == {"forward": indexer, "backward": 0,
                                                       "params": report["flops"]["components"]["indexer"]["params"]}
    assert measured.training < 3 * measured.forward


@pytest.mark.parametrize("core", ["naive", "dense"])
def test_under_the_full_square_naive_and_dense_agree(tmp_path, core):
    """`--mask full` computes every key whatever the top-k: the naive sparse core then
    counts what the dense one does (the top-k only shrinks the causal and halved counts)."""
    config = SMALL["deepseek_v32"]
    measured = measure(config, batch=2, seq_len=12)
    assert_same(engine(config, tmp_path, mask="full", variants={"dsa_core": core}), measured, batch=2, seq_len=12)


# ------------------------------------------------------------------ which keys the core sees


def _attended_keys(config, seq_len):
    """Per layer, per query: the keys the attention mask transformers folds the top-k
    into leaves (eager: additive mask, 0 = attend)."""
    model = build_model(config, attn_implementation="eager")
    seen = []
    original = modeling_deepseek_v32.eager_attention_forward

    def record(module, query, key, value, attention_mask, *args, **kwargs):
        seen.append([int(n) for n in (attention_mask[0, 0] == 0).sum(-1)])
        return original(module, query, key, value, attention_mask, *args, **kwargs)

    modeling_deepseek_v32.eager_attention_forward = record
    try:
        with torch.no_grad():
            model(torch.randint(0, config["vocab_size"], (1, seq_len)))
    finally:
        modeling_deepseek_v32.eager_attention_forward = original
    return seen


@pytest.mark.parametrize("seq_len", [3, 5, 12])
def test_the_top_k_mask_is_the_selection_transformers_makes(seq_len):
    """Query t attends to min(t, index_topk) keys in every layer; their sum is the dsa_topk
    mask's closed form."""
    config = SMALL["deepseek_v32"]
    k = config["index_topk"]
    mask = mfu_sym.load_library().masks["dsa_topk"]
    sym = mfu_sym.load_library().symbol
    per_query = [min(t, k) for t in range(1, seq_len + 1)]
    assert [mask.keys.subs({sym("t"): t, sym("index_topk"): k}) for t in range(1, seq_len + 1)] == per_query
    assert mask.total.subs({sym("seq_len"): seq_len, sym("index_topk"): k}) == sum(per_query)
    assert _attended_keys(config, seq_len) == [per_query] * config["num_hidden_layers"]


# ------------------------------------------------------------------ decode


CONTEXTS = [1, 3, 5, 6, 9]  # an empty cache; below, at and above index_topk (5)
BATCH = 2
FP32 = 4


def _indexer_cache(config, batch, context):
    """Per layer, the shapes of the cache transformers holds after a step at `context`:
    (latent keys, rotary keys, indexer keys)."""
    model = build_model(config, attn_implementation="eager")
    from transformers import DynamicCache
    cache = DynamicCache(config=model.config)
    ids = torch.randint(0, config["vocab_size"], (batch, context))
    with torch.no_grad():
        model(input_ids=ids, past_key_values=cache, use_cache=True)
    return [(tuple(layer.keys.shape), tuple(layer.values.shape),
             tuple(layer.indexer_keys.shape) if getattr(layer, "indexer_keys", None) is not None else None)
            for layer in cache.layers]


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("name", ["deepseek_v2-lite", "deepseek_v2-group", "deepseek_v32", "deepseek_v32-pattern"])
def test_decode_step_flops_exact(tmp_path, name, implementation, context):
    """One token with a cache of context - 1: transformers' step re-projects every cached
    latent and runs the core dense over all C keys, and its indexer scores all C."""
    config = SMALL[name]
    measured = measure_decode(config, batch=BATCH, context=context, attn_implementation=implementation)
    inference = Inference(engine(config, tmp_path, variants=_variants(config)), dtype="fp32")
    assert inference.report(context, batch=BATCH)["decode_step"]["flops"] == measured.forward
    assert inference.model.evaluate(inference.decode_step_flops().subs(
        {inference.context: context, inference.batch: BATCH})) == measured.forward


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("name", ["deepseek_v32", "deepseek_v32-pattern"])
def test_dsa_cache_against_the_tensors_transformers_allocates(tmp_path, name, context):
    """Every layer holds, for every position, MLA's latent (kv_lora_rank) and rotary key
    (qk_rope_head_dim) and the indexer's key (index_head_dim), whatever the top-k."""
    config = SMALL[name]
    shapes = _indexer_cache(config, BATCH, context)
    rope, latent, index = config["qk_rope_head_dim"], config["kv_lora_rank"], config["index_head_dim"]
    assert shapes == [((BATCH, 1, context, latent), (BATCH, 1, context, rope), (BATCH, context, index))] \
        * config["num_hidden_layers"]
    held = sum(FP32 * (k[0] * k[2] * k[3] + v[0] * v[2] * v[3] + i[0] * i[1] * i[2]) for k, v, i in shapes)
    for core in ("absorbed", "naive", "dense"):
        report = Inference(engine(config, tmp_path, variants={"dsa_core": core}), dtype="fp32").report(
            context, batch=BATCH)
        assert report["kv_cache_bytes"] == held
        assert report["kv_cache"]["positions_per_layer"] == {"dsa_latent": context, "dsa_indexer_keys": context}
        # a step reads every indexer key and the latents it attends to: all of them (dense), or its top-k
        attended = context if core == "dense" else min(context, config["index_topk"])
        per_layer = BATCH * FP32 * (index * context + (latent + rope) * attended)
        assert report["decode_step"]["bytes_kv"] == config["num_hidden_layers"] * per_layer


def test_past_the_top_k_only_the_indexer_grows(tmp_path):
    """With the top-k applied (absorbed, as DeepSeek runs it), a step past index_topk
    costs more only by the indexer's scores of the extra cached keys, 2 h_I (d_I + 1)
    each a layer; below it the core grows too, 2 h ((r_kv + d_rope) + r_kv) a key."""
    config = SMALL["deepseek_v32"]
    inference = Inference(engine(config, tmp_path))
    step = {c: inference.report(c, batch=1)["decode_step"]["flops"] for c in (2, 3, 6, 9)}
    layers, k = config["num_hidden_layers"], config["index_topk"]
    indexer = 2 * config["index_n_heads"] * (config["index_head_dim"] + 1)
    core = 2 * config["num_attention_heads"] * (2 * config["kv_lora_rank"] + config["qk_rope_head_dim"])
    assert 6 > k and step[9] - step[6] == layers * 3 * indexer
    assert 3 < k and step[3] - step[2] == layers * (indexer + core)


# ------------------------------------------------------------------ every form of a config


@pytest.mark.parametrize("name", list(SMALL))
def test_every_config_form_reads_the_same(tmp_path, name):
    """As written, with aliases, as transformers resolves it (to_dict) and as
    save_pretrained writes it: the same counts, equal to the model built from each."""
    config = SMALL[name]
    measured = measure(config, batch=1, seq_len=12)
    causal = None
    for form, data in _forms(config, tmp_path).items():
        assert count_params(build_model(data, attn_implementation="eager", device="meta")) == measured.params, form
        model = engine(data, tmp_path, mask="full", variants=_variants(config))
        report = model.report(seq_len=12, batch=1)
        assert (report["params"]["total"], report["flops"]["forward"], report["flops"]["training"]) == (
            measured.params, measured.forward, measured.training), form
        exact = engine(data, tmp_path).report(seq_len=12, batch=1)["flops"]
        assert causal in (None, exact), form
        causal = exact


# ------------------------------------------------------------------ the published configs


PUBLISHED = [("deepseek_v2_lite", 4096), ("deepseek_v32", 4096)]


@pytest.mark.parametrize("name, seq_len", PUBLISHED)
def test_published_configs_at_full_size(tmp_path, name, seq_len):
    """Built on the meta device and counted at a length past index_topk (2048)."""
    config = json.loads((HF / name / "config.json").read_text())
    config.pop("quantization_config", None)  # fp8 weights change bytes, not FLOPs; meta cannot quantize
    measured = measure(config, batch=1, seq_len=seq_len, attn_implementation="eager", device="meta")
    model = engine(config, tmp_path, mask="full", attention_kernel="eager", variants=_variants(config))
    assert_same(model, measured, batch=1, seq_len=seq_len)
