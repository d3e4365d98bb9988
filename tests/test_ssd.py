"""Mamba-2 (SSD) layers without transformers: the model format (layers: groups with the
mamba2, mamba2_hybrid and latent_moe kinds, flat size keys, features) reads the same as
the HF readers for the same models, the disputed terms (ssd_scan, ssm_inner, ssd_conv,
conv_outputs) change exactly what they say, and the format's refusals. Against
transformers itself: tests/crosscheck/test_ssd.py."""


import pytest
import yaml

from mfu_sym.errors import ConfigError
from mfu_sym.inference import Inference

from cli_helpers import load_model as _load

D, INNER, HEADS, GROUPS, STATE, KERNEL, CHUNK = 32, 48, 4, 2, 8, 4, 8
SSD = {"ssd_inner": INNER, "ssd_heads": HEADS, "ssd_groups": GROUPS, "ssd_state": STATE,
       "ssd_conv_kernel": KERNEL, "ssd_chunk": CHUNK}
# Nemotron-H in the model format: Mamba-2, attention, plain MLP and latent MoE blocks
NEMOTRON_YAML = {
    "name": "nemotron-h", "d_model": D, "vocab_size": 64, "n_heads": 4, "n_kv_heads": 2, "d_head": 8, "d_ff": 48,
    "mlp": "plain", "expert_mlp": "plain", "qk_norm": "none", "n_experts": 4, "top_k": 2, "d_expert": 16,
    "d_shared": 24, "moe_latent": 20, **SSD,
    "layers": [{"count": 1, "mixer": "mamba2", "ffn": "none"}, {"count": 1, "mixer": "attention", "ffn": "none"},
               {"count": 1, "mixer": "none", "ffn": "dense"}, {"count": 1, "mixer": "none", "ffn": "latent_moe"}],
}
NEMOTRON = {"model_type": "nemotron_h", "hidden_size": D, "intermediate_size": 48, "num_attention_heads": 4,
            "num_key_value_heads": 2, "head_dim": 8, "vocab_size": 64, "mamba_num_heads": HEADS,
            "mamba_head_dim": INNER // HEADS, "n_groups": GROUPS, "ssm_state_size": STATE, "conv_kernel": KERNEL,
            "chunk_size": CHUNK, "n_routed_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 16,
            "moe_shared_expert_intermediate_size": 24, "moe_latent_size": 20, "hybrid_override_pattern": "M*-E"}
# Falcon-H1 in the model format: every layer attention and Mamba-2 side by side, then a SwiGLU MLP
FALCON_YAML = {"name": "falcon-h1", "d_model": D, "vocab_size": 64, "n_heads": 4, "n_kv_heads": 2, "d_head": 12,
               "d_ff": 48, "qk_norm": "none", "ssd_out_proj_bias": True, **SSD,
               "layers": [{"count": 2, "mixer": "mamba2_hybrid", "ffn": "dense"}]}
FALCON = {"model_type": "falcon_h1", "hidden_size": D, "intermediate_size": 48, "num_hidden_layers": 2,
          "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 12, "vocab_size": 64,
          "mamba_d_ssm": INNER, "mamba_n_heads": HEADS, "mamba_n_groups": GROUPS, "mamba_d_state": STATE,
          "mamba_d_conv": KERNEL, "mamba_chunk_size": CHUNK, "mamba_rms_norm": True, "projectors_bias": True}
MAMBA2_YAML = {"name": "mamba2", "d_model": D, "vocab_size": 64, "tied_embeddings": True, **SSD,
               "ssd_inner": 2 * D, "layers": [{"count": 2, "mixer": "mamba2", "ffn": "none"}]}
MAMBA2 = {"model_type": "mamba2", "hidden_size": D, "num_hidden_layers": 2, "vocab_size": 64, "expand": 2,
          "num_heads": HEADS, "head_dim": 2 * D // HEADS, "n_groups": GROUPS, "state_size": STATE,
          "conv_kernel": KERNEL, "chunk_size": CHUNK, "tie_word_embeddings": True}



def _counts(model, seq_len=13, batch=2):
    report = model.report(seq_len=seq_len, batch=batch)
    return report["params"], report["flops"]["forward"], report["flops"]["training"]


# ---------------------------------------------------------------- the model format

@pytest.mark.parametrize("ours, theirs", [(NEMOTRON_YAML, NEMOTRON), (FALCON_YAML, FALCON), (MAMBA2_YAML, MAMBA2)],
                         ids=["nemotron_h", "falcon_h1", "mamba2"])
def test_a_yaml_model_is_its_hf_config(tmp_path, ours, theirs):
    """The format gives exactly what the HF reader gives for the same model (the readers
    are checked against transformers in the crosscheck), training and decode."""
    yaml_model, hf_model = _load(tmp_path, ours), _load(tmp_path, theirs, "config.json")
    assert yaml_model.arch.layers == hf_model.arch.layers
    for seq_len in (1, CHUNK, 3 * CHUNK + 1):
        assert _counts(yaml_model, seq_len) == _counts(hf_model, seq_len)
    ours, theirs = (Inference(model).report(9, batch=2) for model in (yaml_model, hf_model))
    assert {**ours, "model": None} == {**theirs, "model": None}


def test_an_unread_size_is_refused(tmp_path):
    data = {**NEMOTRON_YAML, "layers": [{"count": 2, "mixer": "attention", "ffn": "dense"}], "n_experts": None}
    data = {k: v for k, v in data.items() if v is not None and k not in ("top_k", "d_expert", "d_shared",
                                                                          "moe_latent", "expert_mlp")}
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, data)
    assert error.value.field.startswith("ssd_")


def test_a_missing_size_is_refused(tmp_path):
    data = {k: v for k, v in MAMBA2_YAML.items() if k != "ssd_chunk"}
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, data)
    assert error.value.field == "ssd_chunk"


@pytest.mark.parametrize("sizes, field", [({"ssd_heads": 5}, "ssd_heads"), ({"ssd_groups": 3}, "ssd_groups")])
def test_heads_and_groups_must_divide(tmp_path, sizes, field):
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, {**MAMBA2_YAML, **sizes})
    assert error.value.field == field


def test_the_cli_refuses_in_one_line(tmp_path):
    from cli_helpers import assert_one_error_line, run
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump({**MAMBA2_YAML, "ssd_groups": 3}))
    result = run("derive", path, "--seq-len", 8)
    assert_one_error_line(result, "ssd_groups", "does not divide ssd_heads")


# ---------------------------------------------------------------- the disputed terms

def _forward(tmp_path, seq_len=13, **variants):
    return _load(tmp_path, MAMBA2_YAML, variants=variants).report(seq_len=seq_len, batch=1)["flops"]["forward"]


def test_the_scan_choices(tmp_path):
    inner, layers, seq_len = 2 * D, 2, 13
    chunks = -(-seq_len // CHUNK)
    chunked = 2 * CHUNK * chunks * (CHUNK * STATE * GROUPS + CHUNK * inner + 2 * STATE * inner)
    torch_path = 2 * CHUNK * chunks * (CHUNK * STATE * HEADS + CHUNK * inner + 2 * STATE * inner) \
        + 2 * inner * STATE * (chunks + 1) ** 2
    none = _forward(tmp_path, ssd_scan="none")
    assert _forward(tmp_path) - none == layers * chunked
    assert _forward(tmp_path, ssd_scan="torch") - none == layers * torch_path
    assert _forward(tmp_path, ssd_scan="megatron") - none == layers * 7 * inner * STATE * seq_len


def test_megatron_inner_width_and_no_conv(tmp_path):
    """ssm_inner=megatron bills 2 d_model for d_in in every FLOP term (the heads, groups
    and state stay the model's); ssd_conv=none drops the convolution's FLOPs; parameters
    stay the model's."""
    seq_len, layers, channels = 13, 2, 2 * D + 2 * GROUPS * STATE
    assert _forward(tmp_path, ssd_conv="counted") - _forward(tmp_path, ssd_conv="none") == \
        layers * seq_len * 2 * KERNEL * channels
    wide = {**MAMBA2_YAML, "ssd_inner": 80, "ssd_heads": 5, "ssd_groups": 5}  # d_in = 80, not 2 d_model = 64
    model = _load(tmp_path, wide)
    megatron = _load(tmp_path, wide, variants={"ssm_inner": "megatron"})
    assert model.report(seq_len=seq_len)["params"] == megatron.report(seq_len=seq_len)["params"]
    inner, heads, groups, chunks = 2 * D, 5, 5, 2
    per_layer = (seq_len * 2 * D * (2 * inner + 2 * groups * STATE + heads)  # in_proj
                 + seq_len * 2 * KERNEL * (inner + 2 * groups * STATE)  # conv
                 + 2 * CHUNK * chunks * (CHUNK * STATE * groups + CHUNK * inner + 2 * STATE * inner)  # scan
                 + seq_len * 2 * inner * D)  # out_proj
    assert megatron.report(seq_len=seq_len)["flops"]["components"]["ssm"]["forward"] == layers * per_layer


def test_a_decode_step_reads_states_not_positions(tmp_path):
    """A Mamba-2 layer's decode step and state do not grow with the context."""
    model = _load(tmp_path, MAMBA2_YAML)
    short, long = Inference(model).report(9, batch=1), Inference(model).report(900, batch=1)
    assert short["decode_step"]["flops"] == long["decode_step"]["flops"]
    assert short["kv_cache"] == long["kv_cache"]
    per_layer = KERNEL * (2 * D + 2 * GROUPS * STATE) + 2 * D * STATE
    assert short["kv_cache"]["state_elements_per_sequence"] == 2 * per_layer
