"""Mamba-2 (SSD) families against transformers 5.23 under FlopCounterMode: Mamba-2,
Bamba, Falcon-H1, Nemotron-H and Granite 4.0-H, small models on the CPU.

What FlopCounterMode sees is transformers' PyTorch path (no mamba_ssm, no causal_conv1d
here): the `torch` scan and nn.Conv1d's padded outputs, so the engine runs with
`ssd_scan=torch, conv_outputs=padded` (and the full attention square, mask=full). The
default `chunked` scan is checked against the chunked algorithm as mamba_ssm structures
it (ssd_patches.chunked_scan, its outputs checked equal to transformers' on every call).
The decode step's rank-1 state update is charged through ssd_patches (a matmul).

Exact (0 difference): parameters, forward, backward and training FLOPs, component by
component, at sequence lengths below, at and past the SSM chunk (8) and not multiples of
it, eager and SDPA attention; a decode step at several contexts (FLOPs, and the conv
state, SSM state and KV cache each layer holds against the tensors transformers
allocates); the same numbers from every form of each config (as written, aliased,
to_dict(), save_pretrained).
"""

import json

import pytest

import mfu_sym
from mfu_sym.errors import ConfigError
from mfu_sym.inference import Inference

from . import reference
from .compare import engine
from .ssd_patches import chunked_algorithm
from .ssd_reference import measure, measure_decode
from .test_config_fidelity import _forms

CHUNK = 8
TORCH = {"ssd_scan": "torch", "conv_outputs": "padded"}
SMALL = {
    "mamba2": {"model_type": "mamba2", "num_heads": 4, "head_dim": 16, "hidden_size": 32, "expand": 2,
               "state_size": 8, "n_groups": 2, "num_hidden_layers": 2, "vocab_size": 64, "conv_kernel": 4,
               "chunk_size": CHUNK},
    # a head per group, projection biases, no conv bias, tied head, conv kernel 3
    "mamba2-biases": {"model_type": "mamba2", "num_heads": 4, "head_dim": 8, "hidden_size": 16, "expand": 2,
                      "state_size": 4, "n_groups": 4, "num_hidden_layers": 2, "vocab_size": 48, "conv_kernel": 3,
                      "chunk_size": CHUNK, "use_bias": True, "use_conv_bias": False, "tie_word_embeddings": True},
    "bamba": {"model_type": "bamba", "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 3,
              "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 64, "attn_layer_indices": [1],
              "mamba_n_heads": 4, "mamba_n_groups": 2, "mamba_d_state": 8, "mamba_d_conv": 3, "mamba_expand": 2,
              "mamba_chunk_size": CHUNK},
    # no attention layer (null indices), biases everywhere, head_dim given
    "bamba-biases": {"model_type": "bamba", "hidden_size": 32, "intermediate_size": 40, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 64,
                     "attn_layer_indices": [0, 7], "mamba_n_heads": 8, "mamba_d_head": 8, "mamba_n_groups": 1,
                     "mamba_d_state": 4, "mamba_d_conv": 4, "mamba_expand": 2, "mamba_chunk_size": CHUNK,
                     "mamba_proj_bias": True, "mamba_conv_bias": False, "attention_bias": True, "mlp_bias": True,
                     "head_dim": 12},
    # head_dim != hidden / heads, mamba_d_ssm given, gated norm on, projector biases
    "falcon_h1": {"model_type": "falcon_h1", "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
                  "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 12, "vocab_size": 64,
                  "mamba_d_ssm": 48, "mamba_n_heads": 4, "mamba_n_groups": 2, "mamba_d_state": 8, "mamba_d_conv": 4,
                  "mamba_chunk_size": CHUNK, "mamba_rms_norm": True, "projectors_bias": True,
                  "ssm_multipliers": [0.5, 1.5, 1.0, 2.0, 0.25], "key_multiplier": 0.5},
    # mamba_d_ssm null (expand * hidden), no gated norm, mamba_proj_bias, attention and MLP biases
    "falcon_h1-no-norm": {"model_type": "falcon_h1", "hidden_size": 16, "intermediate_size": 24,
                          "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 2,
                          "vocab_size": 64, "mamba_d_ssm": None, "mamba_expand": 2, "mamba_n_heads": 4,
                          "mamba_n_groups": 1, "mamba_d_state": 4, "mamba_d_conv": 2, "mamba_chunk_size": CHUNK,
                          "mamba_rms_norm": False, "mamba_proj_bias": True, "attention_bias": True,
                          "mlp_bias": True, "tie_word_embeddings": True},
    # the legacy pattern string: Mamba-2, attention, MLP and MoE blocks
    "nemotron_h": {"model_type": "nemotron_h", "hidden_size": 32, "intermediate_size": 48, "num_attention_heads": 4,
                   "num_key_value_heads": 2, "head_dim": 8, "vocab_size": 64, "mamba_num_heads": 4,
                   "mamba_head_dim": 12, "n_groups": 2, "ssm_state_size": 8, "conv_kernel": 4,
                   "chunk_size": CHUNK, "n_routed_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 16,
                   "moe_shared_expert_intermediate_size": 24, "hybrid_override_pattern": "M*-E"},
    # latent MoE with MLP biases, Mamba projection biases, legacy layer names in the list
    "nemotron_h-latent": {"model_type": "nemotron_h", "hidden_size": 32, "intermediate_size": 48,
                          "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "vocab_size": 64,
                          "mamba_num_heads": 4, "mamba_head_dim": 12, "n_groups": 2, "ssm_state_size": 8,
                          "conv_kernel": 4, "chunk_size": CHUNK, "n_routed_experts": 4, "num_experts_per_tok": 2,
                          "moe_intermediate_size": 16, "moe_shared_expert_intermediate_size": 24,
                          "moe_latent_size": 20, "mlp_bias": True, "use_bias": True,
                          "layers_block_type": ["mamba", "moe", "attention", "mlp", "moe"]},
    # dense (no E): the class's expert sizes are not built; legacy Mamba keys win over the fields
    "nemotron_h-dense-legacy": {"model_type": "nemotron_h", "hidden_size": 32, "intermediate_size": 40,
                                "num_attention_heads": 4, "num_key_value_heads": 4, "head_dim": 8,
                                "vocab_size": 64, "mamba_num_heads": 4, "mamba_head_dim": 8, "n_groups": 1,
                                "mamba_n_groups": 2, "ssm_state_size": 4, "mamba_d_conv": 3,
                                "mamba_chunk_size": CHUNK, "mamba_conv_bias": False, "num_hidden_layers": 4,
                                "hybrid_override_pattern": "M-*M"},
    "granitemoehybrid": {"model_type": "granitemoehybrid", "hidden_size": 32, "intermediate_size": 16,
                         "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
                         "vocab_size": 64, "layer_types": ["mamba", "attention", "mamba"], "num_local_experts": 4,
                         "num_experts_per_tok": 2, "shared_intermediate_size": 24, "mamba_n_heads": 4,
                         "mamba_n_groups": 2, "mamba_d_state": 8, "mamba_d_conv": 4, "mamba_chunk_size": CHUNK,
                         "mamba_expand": 2, "attention_bias": True, "position_embedding_type": "rope"},
    # no experts: the shared MLP alone; default layer types (every layer Mamba-2)
    "granitemoehybrid-dense": {"model_type": "granitemoehybrid", "hidden_size": 32, "intermediate_size": 16,
                               "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 64,
                               "num_local_experts": 0, "shared_intermediate_size": 40, "mamba_n_heads": 8,
                               "mamba_n_groups": 1, "mamba_d_state": 8, "mamba_d_conv": 4,
                               "mamba_chunk_size": CHUNK, "mamba_expand": 2, "mamba_proj_bias": True},
}
NO_ATTENTION = {"mamba2", "mamba2-biases", "granitemoehybrid-dense"}
SEQ_LENS = [1, 5, CHUNK, 13, 3 * CHUNK + 1]  # below, at and past the chunk; not multiples of it
CONTEXTS = [2, 3, CHUNK + 1, 2 * CHUNK + 4]  # a decode step reads a cache of context - 1 tokens


# ------------------------------------------------------------------ components


def _component(path, children, experts):
    """The mfu-sym component of the FLOPs a module runs itself (not through children)."""
    leaf = path.rsplit(".", 1)[-1]
    inside = path.split(".")
    if leaf in ("q_proj", "k_proj", "v_proj", "o_proj"):
        return "attention_projections"
    if "q_proj" in children:
        return "attention_core"
    if leaf in ("in_proj", "out_proj", "conv1d") or "in_proj" in children:
        return "ssm"
    if leaf == "lm_head":
        return "lm_head"
    if leaf in ("gate", "router"):
        return "router"
    if leaf == "experts":
        return "experts"
    if leaf in ("fc1_latent_proj", "fc2_latent_proj"):
        return "mlp"
    if "shared_experts" in inside or ("shared_mlp" in inside and experts):
        return "shared_experts"
    return "mlp"


def _parent(path, present):
    """The nearest enclosing module that ran FLOPs (containers such as `layers` run none)."""
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        if ".".join(parts[:i]) in present:
            return ".".join(parts[:i])
    return ""


def torch_components(by_module, experts):
    """FlopCounterMode's per-module totals as mfu-sym components: each module's own FLOPs
    (its total less its nearest counted descendants') go to the component its name says."""
    present = set(by_module)
    children = {path: {} for path in present}
    for path in present:
        if path:
            children[_parent(path, present)][path.rsplit(".", 1)[-1]] = by_module[path]
    out = {}
    for path, flops in by_module.items():
        own = flops - sum(children[path].values())
        if path and own:
            name = _component(path, children[path], experts)
            out[name] = out.get(name, 0) + own
    return out


def _check(model, measured, batch, seq_len, config):
    report = model.report(seq_len=seq_len, batch=batch)
    flops = report["flops"]
    assert report["params"]["total"] == measured.params, "parameters"
    assert (flops["forward"], flops["backward"], flops["training"]) == (
        measured.forward, measured.backward, measured.training)
    experts = bool(config.get("n_routed_experts") or config.get("num_local_experts")) and \
        (config["model_type"] != "nemotron_h" or "E" in config.get("hybrid_override_pattern", "E")
         or "moe" in config.get("layers_block_type", ["moe"]))
    for phase in ("forward", "backward"):
        theirs = torch_components(measured.by_module[phase], experts)
        ours = {name: value[phase] for name, value in flops["components"].items() if value[phase]}
        assert ours == theirs, f"{phase} by component"


# ------------------------------------------------------------------ training


@pytest.mark.parametrize("batch", [2])  # FLOPs are linear in the batch; 2 checks the batched paths
@pytest.mark.parametrize("seq_len", SEQ_LENS)
@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("name", list(SMALL))
def test_small_models_exact(tmp_path, name, implementation, seq_len, batch):
    if implementation == "sdpa" and name in NO_ATTENTION:
        pytest.skip("no attention layer")
    config = SMALL[name]
    measured = measure(config, batch=batch, seq_len=seq_len, attn_implementation=implementation)
    model = engine(config, tmp_path, mask="full", attention_kernel="eager" if implementation == "eager" else "flash",
                   variants=TORCH)
    _check(model, measured, batch, seq_len, config)


@pytest.mark.parametrize("seq_len", SEQ_LENS)
@pytest.mark.parametrize("name", ["mamba2", "bamba", "falcon_h1", "nemotron_h-latent", "granitemoehybrid"])
def test_chunked_scan_is_what_the_chunked_algorithm_executes(tmp_path, name, seq_len):
    """The default scan (C B^T per group, states passed by scalar decays) against the
    chunked algorithm run under the counter. Backward with one chunk: autograd skips the
    chunk states that only the (unreturned) final state reads, and the zero initial
    state's read-out, which the kernels' backward computes; from two chunks on every
    chunk state has a reader and the backward is exact."""
    config = SMALL[name]
    with chunked_algorithm():
        measured = reference.measure(config, batch=2, seq_len=seq_len, attn_implementation="eager")
    model = engine(config, tmp_path, mask="full", variants={"conv_outputs": "padded"})
    report = model.report(seq_len=seq_len, batch=2)
    assert report["flops"]["forward"] == measured.forward
    if seq_len > CHUNK:
        assert report["flops"]["backward"] == measured.backward


def test_chunked_and_torch_differ_by_the_per_head_scores_and_the_chunk_matrix(tmp_path):
    config = SMALL["bamba"]  # 4 heads in 2 groups
    seq_len, chunks = 13, 2
    torch_path = engine(config, tmp_path, variants=TORCH).report(seq_len=seq_len, batch=1)["flops"]["forward"]
    chunked = engine(config, tmp_path, variants={"conv_outputs": "padded"}).report(seq_len=seq_len, batch=1)
    inner, state, heads, groups = 64, 8, 4, 2
    mamba_layers = 2
    per_layer = 2 * CHUNK * chunks * CHUNK * state * (heads - groups) + 2 * inner * state * (chunks + 1) ** 2
    assert torch_path - chunked["flops"]["forward"] == mamba_layers * per_layer


# ------------------------------------------------------------------ decode and caches


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("name", list(SMALL))
def test_decode_step_and_caches_exact(tmp_path, name, implementation, context):
    if implementation == "sdpa" and name in NO_ATTENTION:
        pytest.skip("no attention layer")
    config = SMALL[name]
    batch = 2
    step = measure_decode(config, batch=batch, context=context, attn_implementation=implementation)
    # the step's convolution is transformers' (the K-wide cached state and the token: two
    # outputs); the scan's recurrent step is the same under chunked and torch
    for variants in ({"conv_outputs": "padded"}, TORCH):
        inference = Inference(engine(config, tmp_path, variants=variants), dtype="fp32")
        report = inference.report(context, batch=batch)
        assert report["decode_step"]["flops"] == step.forward
    assert report["kv_cache_bytes"] == step.cache_bytes
    model = inference.model
    values = model.arch.values()
    conv = (values["ssd_inner"] + 2 * values["ssd_groups"] * values["ssd_state"]) * values["ssd_conv_kernel"]
    ssm = values["ssd_inner"] * values["ssd_state"]
    kv = 2 * values.get("n_kv_heads", 0) * values.get("d_head", 0) * context
    expected = [(batch * conv if mixer in ("mamba2", "mamba2_hybrid") else 0,
                 batch * ssm if mixer in ("mamba2", "mamba2_hybrid") else 0,
                 batch * kv if mixer in ("attention", "mamba2_hybrid") else 0)
                for mixer, _ in mfu_sym.stack.layers(model.arch.layers)]
    assert list(zip(step.conv_elements, step.ssm_elements, step.kv_elements)) == expected
    assert report["kv_cache"]["state_elements_per_sequence"] * batch == sum(step.conv_elements) + sum(
        step.ssm_elements)


def test_the_causal_convolution_decodes_one_output(tmp_path):
    """conv_outputs=causal (the default, causal-conv1d's update) computes one output where
    transformers' update computes two: the difference is one K-tap filter per channel."""
    config = SMALL["mamba2"]
    padded = Inference(engine(config, tmp_path, variants={"conv_outputs": "padded"})).report(9, batch=1)
    causal = Inference(engine(config, tmp_path)).report(9, batch=1)
    channels, kernel, layers = 64 + 2 * 2 * 8, 4, 2
    assert padded["decode_step"]["flops"] - causal["decode_step"]["flops"] == layers * 2 * kernel * channels


# ------------------------------------------------------------------ every form


@pytest.mark.parametrize("name", list(SMALL))
def test_every_form_reads_the_same(tmp_path, name):
    config = SMALL[name]
    seq_len = 13
    measured = measure(config, batch=1, seq_len=seq_len)
    for form, data in _forms(config, tmp_path).items():
        assert reference.count_params(reference.build_model(data, attn_implementation="eager", device="meta")) \
            == measured.params, form
        report = engine(data, tmp_path, mask="full", variants=TORCH).report(seq_len=seq_len, batch=1)
        assert (report["params"]["total"], report["flops"]["forward"], report["flops"]["training"]) == (
            measured.params, measured.forward, measured.training), form


# ------------------------------------------------------------------ refusals


REFUSED = {
    # validate_architecture: expand * hidden_size must equal num_heads * head_dim
    "mamba2-head-dim": ({**SMALL["mamba2"], "head_dim": 8}, "head_dim"),
    "bamba-d-head": ({**SMALL["bamba"], "mamba_d_head": 8}, "mamba_d_head"),
    "falcon-d-head": ({**SMALL["falcon_h1"], "mamba_d_head": 16}, "mamba_d_head"),
    # heads must divide the inner width, groups the heads
    "nemotron-groups": ({**SMALL["nemotron_h"], "n_groups": 3}, "ssd_groups"),
    "granite-heads": ({**SMALL["granitemoehybrid"], "mamba_n_heads": 5}, "ssd_heads"),
    "nemotron-pattern": ({**SMALL["nemotron_h"], "hybrid_override_pattern": "M*X"}, "hybrid_override_pattern"),
    "nemotron-types": ({**SMALL["nemotron_h-latent"], "layers_block_type": ["mamba", "gdn"]}, "layers_block_type[1]"),
    "granite-types": ({**SMALL["granitemoehybrid"], "layer_types": ["mamba", "mlp", "mamba"]}, "layer_types[1]"),
    "granite-count": ({**SMALL["granitemoehybrid"], "layer_types": ["mamba"]}, "layer_types"),
    "granite-null-experts": ({**SMALL["granitemoehybrid"], "num_local_experts": None}, "num_local_experts"),
    "bamba-indices": ({**SMALL["bamba"], "attn_layer_indices": [1, -2]}, "attn_layer_indices[1]"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_configs_transformers_cannot_build_are_refused(tmp_path, name):
    config, field = REFUSED[name]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError) as error:
        mfu_sym.load(path)
    assert error.value.field == field


@pytest.mark.parametrize("name", ["mamba2-head-dim", "bamba-d-head", "falcon-d-head", "nemotron-groups",
                                  "granite-heads", "nemotron-pattern", "granite-types"])
def test_and_transformers_refuses_them_too(name):
    config, _ = REFUSED[name]
    with pytest.raises(Exception):
        reference.measure(config, batch=1, seq_len=4)


def test_nemotron_num_hidden_layers_is_the_list_length(tmp_path):
    config = {**SMALL["nemotron_h"], "num_hidden_layers": 9}
    model = engine(config, tmp_path)
    assert model.arch.n_layers == 4
    assert any("num_hidden_layers (9)" in note for note in model.arch.notes)
    assert reference.build_model(config, attn_implementation="eager").config.num_hidden_layers == 4
