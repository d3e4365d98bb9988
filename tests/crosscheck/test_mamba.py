"""Mamba, Jamba and LFM2 against transformers under FlopCounterMode: parameters, forward,
backward and training FLOPs, component by component, at sequence lengths below, at and
past every conv kernel; one decode step with the conv and recurrent states (and the KV
cache of the attention layers); every config form.

Two views of the same models (tests/crosscheck/mamba_patches.py):
* unpatched, the counter sees what transformers' PyTorch path executes: the scan's
  read-out only (mamba_scan=readout) and nn.Conv1d's seq_len + K - 1 outputs
  (conv_outputs=padded): the `torch` preset's view;
* patched, the rank-1 update is a matmul and the convs compute the outputs they keep:
  the engine's defaults (mamba_scan=products, conv_outputs=causal).
"""

import json
import re

import pytest
import torch

import mfu_sym
from mfu_sym.inference import Inference

from . import mamba_patches
from .compare import engine, torch_components
from .mamba_reference import measure_decode_states
from .reference import build_model, count_params, measure
from .test_config_fidelity import _forms

SMALL = {
    # time_step_rank "auto" = ceil(72 / 16) = 5; conv and projection biases off/on
    "mamba": {"model_type": "mamba", "hidden_size": 72, "num_hidden_layers": 2, "vocab_size": 96, "state_size": 8,
              "expand": 2, "conv_kernel": 4},
    "mamba-biases": {"model_type": "mamba", "hidden_size": 48, "num_hidden_layers": 3, "vocab_size": 80,
                     "state_size": 4, "expand": 3, "conv_kernel": 3, "time_step_rank": 6, "use_bias": True,
                     "use_conv_bias": False, "tie_word_embeddings": False},
    # attention every 2nd layer from 1, MoE every 3rd from 0; no rotary embedding
    "jamba": {"model_type": "jamba", "hidden_size": 64, "num_hidden_layers": 4, "vocab_size": 96,
              "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 48, "num_experts": 4,
              "num_experts_per_tok": 2, "attn_layer_period": 2, "attn_layer_offset": 1, "expert_layer_period": 3,
              "expert_layer_offset": 0, "mamba_d_state": 8, "mamba_d_conv": 3, "mamba_expand": 2},
    # one expert: every MLP dense; mamba_dt_rank "auto" = 3; proj bias on, conv bias off; tied
    "jamba-dense": {"model_type": "jamba", "hidden_size": 40, "num_hidden_layers": 3, "vocab_size": 64,
                    "num_attention_heads": 5, "num_key_value_heads": 5, "intermediate_size": 24,
                    "num_experts": 1, "attn_layer_period": 3, "attn_layer_offset": 2, "mamba_d_state": 4,
                    "mamba_d_conv": 4, "mamba_expand": 1, "mamba_proj_bias": True, "mamba_conv_bias": False,
                    "tie_word_embeddings": True},
    # the class's own pattern (period 8, offset 4) on 6 layers: attention at 4 only; the
    # alias num_local_experts
    "jamba-default-pattern": {"model_type": "jamba", "hidden_size": 32, "num_hidden_layers": 6, "vocab_size": 64,
                              "num_attention_heads": 2, "num_key_value_heads": 1, "intermediate_size": 16,
                              "num_local_experts": 3, "num_experts_per_tok": 1, "mamba_d_state": 4,
                              "mamba_dt_rank": 5},
    "lfm2": {"model_type": "lfm2", "hidden_size": 64, "num_hidden_layers": 3, "vocab_size": 96,
             "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 96, "block_multiple_of": 16,
             "conv_L_cache": 3, "layer_types": ["conv", "full_attention", "conv"]},
    # full_attn_idxs, block_ff_dim over intermediate_size, tie_embedding, biases, legacy
    # rounding: int(2 * 100 / 3) = 66 -> x 1.5 = 99 -> multiple of 8: 104
    "lfm2-idxs": {"model_type": "lfm2", "hidden_size": 48, "num_hidden_layers": 4, "vocab_size": 80,
                  "num_attention_heads": 4, "num_key_value_heads": 4, "intermediate_size": 8, "block_ff_dim": 100,
                  "block_ffn_dim_multiplier": 1.5, "block_multiple_of": 8, "conv_L_cache": 4,
                  "full_attn_idxs": [0, 3], "conv_bias": True, "tie_embedding": False},
    # no adjustment of the MLP width; the legacy "attention" layer type
    "lfm2-plain-mlp": {"model_type": "lfm2", "hidden_size": 32, "num_hidden_layers": 2, "vocab_size": 64,
                       "num_attention_heads": 2, "num_key_value_heads": 1, "intermediate_size": 40,
                       "block_auto_adjust_ff_dim": False, "conv_L_cache": 2, "layer_types": ["attention", "conv"]},
    # an integer multiplier: int(2 * 91 / 3) = 60 -> x 1 -> multiple of 7: 63
    "lfm2-int-multiplier": {"model_type": "lfm2", "hidden_size": 32, "num_hidden_layers": 2, "vocab_size": 64,
                            "num_attention_heads": 2, "num_key_value_heads": 2, "intermediate_size": 91,
                            "block_ffn_dim_multiplier": 1, "block_multiple_of": 7, "conv_L_cache": 3,
                            "full_attn_idxs": [1]},
}
WITH_ATTENTION = [name for name in SMALL if not name.startswith("mamba")]
# 1 and 3 are at or below every conv kernel (2..4), 5 just past them, 9 well past
SIZES = [(1, 1), (2, 3), (1, 5), (2, 9)]
TORCH = {"mamba_scan": "readout", "conv_outputs": "padded"}  # what the PyTorch path executes


def _variants(config, chosen):
    """The variants the model reads (LFM2 has no scan)."""
    return {k: v for k, v in chosen.items() if k != "mamba_scan" or not config["model_type"] == "lfm2"}


# transformers' module names of the mixers and feed-forward blocks
_SSM = re.compile(r"(^|\.)layers\.\d+\.(mixer|mamba|conv)$")
_RENAMES = (("feed_forward", "mlp"), ("router", "gate"))


def components(by_module):
    """FlopCounterMode's per-module totals by mfu-sym component: compare.torch_components
    on the names it knows (feed_forward -> mlp, Jamba's router -> gate), plus ssm."""
    renamed = {}
    for path, flops in by_module.items():
        for old, new in _RENAMES:
            path = re.sub(rf"(^|\.){old}(\.|$)", rf"\g<1>{new}\g<2>", path)
        renamed[path] = flops
    out = torch_components(renamed)
    out["ssm"] = sum(flops for path, flops in by_module.items() if _SSM.search(path))
    return out


def _assert_same(model, measured, batch, seq_len):
    report = model.report(seq_len=seq_len, batch=batch)
    flops = report["flops"]
    assert report["params"]["total"] == measured.params
    assert (flops["forward"], flops["backward"], flops["training"]) == (
        measured.forward, measured.backward, measured.training)
    for phase in ("forward", "backward"):
        theirs = components(measured.by_module[phase])
        ours = {name: flops["components"].get(name, {}).get(phase, 0) for name in theirs}
        assert ours == theirs, phase


@pytest.mark.parametrize("batch, seq_len", SIZES)
@pytest.mark.parametrize("name", list(SMALL))
def test_what_the_pytorch_path_executes(tmp_path, name, batch, seq_len):
    config = SMALL[name]
    measured = measure(config, batch=batch, seq_len=seq_len)
    model = engine(config, tmp_path, mask="full", variants=_variants(config, TORCH))
    _assert_same(model, measured, batch, seq_len)


@pytest.mark.parametrize("batch, seq_len", SIZES)
@pytest.mark.parametrize("name", list(SMALL))
def test_the_counting_principle_is_what_the_patched_path_executes(tmp_path, name, batch, seq_len):
    config = SMALL[name]
    with mamba_patches.patched():
        measured = measure(config, batch=batch, seq_len=seq_len)
    _assert_same(engine(config, tmp_path, mask="full"), measured, batch, seq_len)


@pytest.mark.parametrize("name", WITH_ATTENTION)
def test_sdpa(tmp_path, name):
    """CPU SDPA's fused kernel: backward 5 bmm-equivalents (the flash kernel's count)."""
    config = SMALL[name]
    with mamba_patches.patched():
        measured = measure(config, batch=2, seq_len=7, attn_implementation="sdpa")
    _assert_same(engine(config, tmp_path, mask="full", attention_kernel="flash"), measured, 2, 7)


def test_each_patch_alone(tmp_path):
    """The scan patch adds exactly the rank-1 updates, the conv patch removes exactly the
    padded outputs: each variant moves by its own term."""
    config = SMALL["jamba"]
    for scan, conv, chosen in ((True, False, {"conv_outputs": "padded"}), (False, True, {"mamba_scan": "readout"})):
        with mamba_patches.patched(scan=scan, conv=conv):
            measured = measure(config, batch=1, seq_len=6)
        _assert_same(engine(config, tmp_path, mask="full", variants=chosen), measured, 1, 6)


# ---------------------------------------------------------------- the patches are exact rewrites

def _scan_inputs(batch=2, d_in=6, n=5, seq=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    return dict(hidden_states=r(batch, d_in, seq), dt=r(batch, d_in, seq), A=-torch.rand(d_in, n, generator=g),
                B=r(batch, n, seq), C=r(batch, n, seq), D=r(d_in), z=r(batch, d_in, seq), delta_bias=r(d_in))


def test_the_scan_patch_computes_what_transformers_computes():
    from transformers.models.mamba import modeling_mamba
    inputs = _scan_inputs()
    ours = mamba_patches.selective_scan(**inputs, delta_softplus=True, return_last_state=True)
    theirs = modeling_mamba.mamba_selective_scan(**inputs, delta_softplus=True, return_last_state=True)
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)


def test_the_state_update_patch_computes_what_transformers_computes():
    from transformers.models.mamba import modeling_mamba
    g = torch.Generator().manual_seed(1)
    batch, d_in, n = 3, 6, 4
    args = dict(hidden_states=torch.randn(batch, d_in, generator=g), dt=torch.randn(batch, d_in, generator=g),
                A=-torch.rand(d_in, n, generator=g), B=torch.randn(batch, n, generator=g),
                C=torch.randn(batch, n, generator=g), D=torch.randn(d_in, generator=g),
                z=torch.randn(batch, d_in, generator=g), dt_bias=torch.randn(d_in, generator=g), dt_softplus=True)
    state = torch.randn(batch, d_in, n, generator=g)
    ours_state, theirs_state = state.clone(), state.clone()
    ours = mamba_patches.selective_state_update(ours_state, **args)
    theirs = modeling_mamba.mamba_selective_state_update(theirs_state, **args)
    assert torch.equal(ours, theirs) and torch.equal(ours_state, theirs_state)


@pytest.mark.parametrize("activation", [None, "silu"])
def test_the_conv_patches_compute_what_transformers_computes(activation):
    from transformers.models.mamba import modeling_mamba
    g = torch.Generator().manual_seed(2)
    x, weight, bias = torch.randn(2, 5, 9, generator=g), torch.randn(5, 4, generator=g), torch.randn(5, generator=g)
    assert torch.allclose(mamba_patches.causal_conv(x, weight, bias, activation),
                          modeling_mamba.causal_conv1d_fn(x, weight, bias, activation), rtol=0, atol=1e-6)
    state, new = torch.randn(2, 5, 4, generator=g), torch.randn(2, 5, 1, generator=g)
    ours_state, theirs_state = state.clone(), state.clone()
    ours = mamba_patches.causal_conv_update(new, ours_state, weight, bias, activation)
    theirs = modeling_mamba.causal_conv1d_update(new, theirs_state, weight, bias, activation)
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-6) and torch.equal(ours_state, theirs_state)


def test_the_patches_are_undone():
    from transformers.models.mamba import modeling_mamba
    before = (modeling_mamba.mamba_selective_scan, modeling_mamba.causal_conv1d_fn)
    with mamba_patches.patched():
        assert modeling_mamba.mamba_selective_scan is mamba_patches.selective_scan
    assert (modeling_mamba.mamba_selective_scan, modeling_mamba.causal_conv1d_fn) == before


# ---------------------------------------------------------------- decode with states

CONTEXTS = [2, 4, 9]  # below, at and past the conv kernels


def _decode_engine(config, tmp_path, **conventions):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return Inference(mfu_sym.load(path, **conventions), dtype="fp32")


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("name", list(SMALL))
def test_decode_step_exact(tmp_path, name, context):
    config, batch = SMALL[name], 2
    with mamba_patches.patched():
        measured = measure_decode_states(config, batch=batch, context=context)
    inference = _decode_engine(config, tmp_path)
    report = inference.report(context, batch=batch)
    assert report["decode_step"]["flops"] == measured.forward
    assert inference.model.evaluate(inference.decode_step_flops().subs(
        {inference.context: context, inference.batch: batch})) == measured.forward
    # the caches: states of fixed size per Mamba / conv layer, K/V of context positions
    kv = report["kv_cache"]
    assert batch * kv["state_elements_per_sequence"] == measured.state_elements
    assert batch * kv["elements_per_token"] * context == measured.kv_elements


@pytest.mark.parametrize("name", ["mamba", "jamba", "lfm2-idxs"])
def test_decode_step_of_the_pytorch_path(tmp_path, name):
    """Unpatched: the read-out only, and causal_conv1d_update's two outputs."""
    config = SMALL[name]
    measured = measure_decode_states(config, batch=1, context=5)
    inference = _decode_engine(config, tmp_path, variants=_variants(config, TORCH))
    assert inference.report(5, batch=1)["decode_step"]["flops"] == measured.forward


@pytest.mark.parametrize("name", ["mamba", "jamba", "lfm2"])
def test_state_shapes_are_transformers(tmp_path, name):
    """Conv states of K positions over the conv's channels, SSM states d_in x N."""
    config = SMALL[name]
    measured = measure_decode_states(config, batch=1, context=3)
    arch = engine(config, tmp_path).arch
    sizes = dict(arch.sizes)
    for conv, recurrent in measured.states.values():
        if name == "lfm2":
            assert conv == (1, arch.d_model, sizes["short_conv_kernel"]) and recurrent is None
        else:
            assert conv == (1, sizes["mamba_d_inner"], sizes["mamba_d_conv"])
            assert recurrent == (1, sizes["mamba_d_inner"], sizes["mamba_d_state"])


def test_an_empty_cache_is_not_a_decode_step():
    with pytest.raises(ValueError, match="context must be >= 2"):
        measure_decode_states(SMALL["mamba"], batch=1, context=1)


# ---------------------------------------------------------------- every form of a config

@pytest.mark.parametrize("name", list(SMALL))
def test_every_form_gives_the_same_model(tmp_path, name):
    config = SMALL[name]
    forms = _forms(config, tmp_path)
    counts = set()
    for form, data in forms.items():
        model = engine(data, tmp_path)
        params = count_params(build_model(data, attn_implementation="eager", device="meta"))
        assert model.report(seq_len=6)["params"]["total"] == params, form
        counts.add((model.report(seq_len=6)["flops"]["training"], str(model.arch.layers)))
    assert len(counts) == 1, counts


def test_transformers_refuses_an_offset_past_the_period_as_we_do(tmp_path):
    from transformers import AutoConfig
    bad = {**SMALL["jamba"], "attn_layer_offset": 2}
    with pytest.raises(Exception):
        AutoConfig.for_model("jamba", **{k: v for k, v in bad.items() if k != "model_type"})
    with pytest.raises(mfu_sym.ConfigError, match="attn_layer_offset"):
        engine(bad, tmp_path)
