"""Decode steps against what transformers executes: one token per sequence with a
DynamicCache prefilled with context - 1 tokens, counted by FlopCounterMode
(reference.measure_decode), for every dense and MoE family of test_dense.py and
test_moe.py, sliding windows with the context below and above the window, and MLA in
the naive form transformers runs (kv_b_proj re-applied to every cached latent).

The engine's decode step needs no `--mask full` here: with a cache the step computes
exactly the keys it holds, which is the causal / window-aware count.

KV cache: the engine reports the positions the step at context C attends to, C on full
layers and min(C, W) on window layers. transformers' sliding-window cache keeps only
W - 1 positions once the step is done (the next query needs the W - 1 previous keys and
itself), so on every window layer with C >= W it holds one position fewer than the
engine reports; on full layers, and on window layers below the window, the two agree.
The test pins that relation exactly, layer by layer."""

import json

import pytest

import mfu_sym
from mfu_sym.inference import Inference

from .reference import measure_decode
from .test_dense import SDPA_REFUSED
from .test_dense import SMALL as DENSE
from .test_moe import SMALL as MOE

FAMILIES = {**DENSE, **MOE}
WINDOWED = {name for name, config in FAMILIES.items() if config.get("sliding_window")}
CONTEXTS = [1, 3, 9]  # an empty cache; below every window (4..7); above every window
BATCH = 2
FP32 = 4  # the reference models run in float32: bytes per cached element


def _engine(config, tmp_path, **conventions):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return mfu_sym.load(path, **conventions)


def test_the_contexts_fall_on_both_sides_of_every_window():
    windows = {FAMILIES[name]["sliding_window"] for name in WINDOWED}
    assert windows and all(min(CONTEXTS[1:]) < w <= max(CONTEXTS) for w in windows)


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("name", list(FAMILIES))
def test_decode_step_flops_exact(tmp_path, name, implementation, context):
    if implementation == "sdpa" and name in SDPA_REFUSED:
        pytest.skip("transformers refuses sdpa for this family")
    config = FAMILIES[name]
    measured = measure_decode(config, batch=BATCH, context=context, attn_implementation=implementation)
    inference = Inference(_engine(config, tmp_path), dtype="fp32")
    report = inference.report(context, batch=BATCH)
    assert report["decode_step"]["flops"] == measured.forward
    # the symbolic per-position form gives the same number
    model = inference.model
    assert model.evaluate(inference.decode_step_flops().subs(
        {inference.context: context, inference.batch: BATCH})) == measured.forward


@pytest.mark.parametrize("name", sorted(n for n in FAMILIES if FAMILIES[n].get("kv_lora_rank")))
def test_naive_mla_rebuilds_every_cached_latent(tmp_path, name):
    """The step's FLOPs grow by exactly kv_b_proj per cached position (naive), which the
    absorbed form does not pay: the difference between two contexts says so."""
    config = FAMILIES[name]
    n_layers, heads = config["num_hidden_layers"], config["num_attention_heads"]
    kv_b = 2 * config["kv_lora_rank"] * heads * (config["qk_nope_head_dim"] + config["v_head_dim"])
    core = 2 * heads * (config["qk_nope_head_dim"] + config["qk_rope_head_dim"] + config["v_head_dim"])
    short, long = (measure_decode(config, batch=1, context=c, attn_implementation="eager").forward for c in (3, 9))
    assert long - short == n_layers * (6 * kv_b + 6 * core)
    naive = Inference(_engine(config, tmp_path))
    assert naive.report(9, batch=1)["decode_step"]["flops"] - naive.report(3, batch=1)["decode_step"]["flops"] \
        == long - short


def _hf_positions(shapes):
    return [keys[2] for keys, _ in shapes]


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("name", list(FAMILIES))
def test_kv_cache_against_the_tensors_transformers_allocates(tmp_path, name, context):
    config = FAMILIES[name]
    measured = measure_decode(config, batch=BATCH, context=context, attn_implementation="eager")
    inference = Inference(_engine(config, tmp_path), dtype="fp32")
    arch = inference.model.arch
    report = inference.report(context, batch=BATCH)

    # per layer: what transformers holds after the step, against what the engine reports
    kinds = arch.layer_types or ("full_attention",) * arch.n_layers
    hf = _hf_positions(measured.cache_shapes)
    assert len(hf) == arch.n_layers
    engine_positions = [min(context, arch.window) if kind == "sliding_attention" else context for kind in kinds]
    hf_expected = [min(context, arch.window - 1) if kind == "sliding_attention" else context for kind in kinds]
    assert hf == hf_expected
    dropped = [e - h for e, h in zip(engine_positions, hf)]
    assert all(d == (1 if kind == "sliding_attention" and context >= arch.window else 0)
               for d, kind in zip(dropped, kinds))

    # elements per position: GQA/MQA keys + values, or MLA's latent + shared rotary key
    per_position = {FP32 * (k[1] * k[3] + v[1] * v[3]) for k, v in measured.cache_shapes}
    (bytes_per_position,) = per_position  # every layer caches the same per position
    assert report["kv_cache_bytes_per_token"] == arch.n_layers * bytes_per_position

    # the totals: engine = transformers + one position on every window layer past the window
    assert report["kv_cache_bytes"] == measured.cache_bytes + BATCH * bytes_per_position * sum(dropped)
    if name not in WINDOWED:
        assert report["kv_cache_bytes"] == measured.cache_bytes


@pytest.mark.parametrize("name", ["llama-gqa-bias", "mistral-window", "gemma3-layer-types", "deepseek_v3"])
def test_prefill_cache_is_the_cache_at_the_prompt_length(tmp_path, name):
    """Before the step the cache holds the context - 1 prefilled positions (window - 1 on
    window layers): the engine's cache at context - 1 minus the same window relation."""
    config = FAMILIES[name]
    context = 9
    measured = measure_decode(config, batch=BATCH, context=context, attn_implementation="eager")
    inference = Inference(_engine(config, tmp_path), dtype="fp32")
    arch = inference.model.arch
    engine = inference.model.evaluate(inference.kv_cache_bytes(context - 1).subs(
        {inference.batch: BATCH, inference.kv_bits: 32}))
    per_position = inference.model.evaluate(inference.kv_cache_bytes_per_token().subs(inference.kv_bits, 32))
    per_layer = per_position // arch.n_layers
    windowed = arch.n_window_layers if context - 1 >= arch.window > 0 else 0
    assert engine == measured.prefill_cache_bytes + BATCH * per_layer * windowed
