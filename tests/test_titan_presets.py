"""The `nanogpt` and `torchtitan` presets reproduce each peer's own count.

Every expected value is the peer's formula written here from its source, over the
parameter count of the peer's own modules built from the published config numbers, never
from the engine:

- nanoGPT (karpathy/nanoGPT model.py): `N = get_num_params()` (every parameter but wpe;
  wte is tied to lm_head, so it stays in), `flops_per_token = 6*N + 12*L*H*Q*T` with
  `Q = n_embd // n_head` and `T = block_size`.
- torchtitan (torchtitan/models/utils.py, get_dense_model_nparams_and_flops and
  get_moe_model_nparams_and_flops, snapshot b5bcd76): `6 * (N - embedding) + 6 * n_layers *
  n_heads * head_dims * seq_len`, head_dims the qk plus v head widths each model passes,
  routed experts weighted top_k / num_experts, an embedding table left out unless it is
  the output head's weight (get_nparams_and_active_nparams).
"""

import json
from fractions import Fraction
from pathlib import Path

import pytest
import sympy
from click.testing import CliRunner

import mfu_sym
from mfu_sym import analysis
from mfu_sym.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def engine_per_token(path, preset, seq_len):
    model = mfu_sym.load(str(path), preset=preset)
    return Fraction(int(model.evaluate(model.training(), seq_len=seq_len)), seq_len)


def engine_n(path, preset):
    model = mfu_sym.load(str(path), preset=preset)
    return int(analysis.counted_params(model).xreplace(model.values))


# ---------------------------------------------------------------- nanoGPT, from model.py

def nanogpt_params(n_layer, n_head, n_embd, vocab_size, block_size, bias):
    """sum(p.numel() for p in GPT(config).parameters()): wte (shared with lm_head, counted
    once), wpe, per Block ln_1, c_attn (d -> 3d), c_proj, ln_2, c_fc (d -> 4d), c_proj,
    then ln_f; `bias` adds the Linear and LayerNorm biases."""
    d, b = n_embd, 1 if bias else 0
    layernorm = d + b * d
    block = (2 * layernorm + d * 3 * d + b * 3 * d + d * d + b * d + d * 4 * d + b * 4 * d + 4 * d * d + b * d)
    return vocab_size * d + block_size * d + n_layer * block + layernorm


def nanogpt_get_num_params(config):
    return nanogpt_params(**config) - config["block_size"] * config["n_embd"]  # n_params -= wpe


def nanogpt_flops_per_token(config):
    L, H, Q, T = config["n_layer"], config["n_head"], config["n_embd"] // config["n_head"], config["block_size"]
    return 6 * nanogpt_get_num_params(config) + 12 * L * H * Q * T


# transformer_sizing.ipynb's GPT-2 (bias=False) and the released GPT-2 (from_pretrained: bias=True)
SIZING = dict(n_layer=12, n_head=12, n_embd=768, vocab_size=50257, block_size=1024, bias=False)
GPT2 = dict(SIZING, bias=True)


def test_nanogpt_sizing_notebook():
    """transformer_sizing.ipynb: 124,337,664 parameters; the PaLM formula's
    875,062,886,400 FLOPs per 1024-token sequence (published.md A9)."""
    assert nanogpt_params(**SIZING) == 124_337_664
    assert nanogpt_flops_per_token(SIZING) * 1024 == 875_062_886_400
    path = EXAMPLES / "gpt2_124m_nanogpt.yaml"
    assert engine_n(path, "nanogpt") == nanogpt_get_num_params(SIZING)
    assert engine_per_token(path, "nanogpt", 1024) == nanogpt_flops_per_token(SIZING)


def test_nanogpt_released_gpt2():
    """from_pretrained('gpt2') (bias=True, vocabulary 50257): get_num_params() is
    123,653,376, scaling_laws.ipynb's 123.653376M (published.md A9)."""
    assert nanogpt_get_num_params(GPT2) == 123_653_376
    path = EXAMPLES / "gpt2_124m.yaml"
    assert engine_n(path, "nanogpt") == 123_653_376
    for seq_len in (256, 1024):  # T = block_size, the length nanoGPT trains on
        assert engine_per_token(path, "nanogpt", seq_len) == nanogpt_flops_per_token(dict(GPT2, block_size=seq_len))


def test_nanogpt_default_config_prints_123_69m():
    """GPTConfig's defaults (vocabulary padded to 50304, bias=True): the trainer's
    `number of parameters: 123.69M`."""
    default = dict(GPT2, vocab_size=50304)
    assert f"{nanogpt_get_num_params(default) / 1e6:.2f}M" == "123.69M"
    model = mfu_sym.load(str(EXAMPLES / "gpt2_124m.yaml"), preset="nanogpt")
    values = {**model.values, model.library.symbol("vocab_size"): sympy.Integer(50304)}
    assert int(analysis.counted_params(model).xreplace(values)) == nanogpt_get_num_params(default)


# ------------------------------------------------------------- torchtitan, from its models

def titan_llama3(dim, n_layers, n_heads, n_kv_heads, vocab_size, ffn_dim_multiplier, multiple_of):
    """torchtitan's Llama 3 Transformer: tok_embeddings (nn.Embedding), per layer wq, wk,
    wv, wo (no bias), FeedForward w1, w2, w3 with hidden_dim as FeedForward computes it,
    attention_norm and ffn_norm; the final norm and the untied output Linear. Returns
    (nparams, nparams_embedding, head_dims)."""
    hidden = int(2 * (4 * dim) / 3)
    hidden = int(ffn_dim_multiplier * hidden)
    hidden = multiple_of * ((hidden + multiple_of - 1) // multiple_of)
    head_dim = dim // n_heads
    layer = (dim * n_heads * head_dim + 2 * dim * n_kv_heads * head_dim + n_heads * head_dim * dim
             + 3 * dim * hidden + 2 * dim)
    return vocab_size * dim + n_layers * layer + dim + dim * vocab_size, vocab_size * dim, 2 * head_dim


def titan_qwen3(dim, n_layers, n_heads, n_kv_heads, head_dim, vocab_size, tied, hidden_dim=None,
                num_experts=None, top_k=None, moe_inter_dim=None):
    """torchtitan's Qwen3: per layer wq (dim -> n_heads * head_dim), wk, wv, wo, q_norm and
    k_norm (head_dim each), attention_norm, ffn_norm, and a SwiGLU FeedForward or a MoE
    (router gate dim -> num_experts, no bias; experts w1, w2, w3); the final norm; an output
    Linear, the embedding's own weight when tied. Returns (total, active): active as
    get_nparams_and_active_nparams weighs them (experts top_k / num_experts, the embedding
    table 0 unless it is the output's weight)."""
    attention = dim * n_heads * head_dim + 2 * dim * n_kv_heads * head_dim + n_heads * head_dim * dim + 2 * head_dim
    if num_experts:
        experts = num_experts * 3 * dim * moe_inter_dim
        ffn, ffn_active = dim * num_experts + experts, dim * num_experts + Fraction(top_k, num_experts) * experts
    else:
        ffn = ffn_active = 3 * dim * hidden_dim
    embedding = vocab_size * dim
    output = 0 if tied else dim * vocab_size
    total = embedding + n_layers * (attention + 2 * dim + ffn) + dim + output
    active = (embedding if tied else 0) + n_layers * (attention + 2 * dim + ffn_active) + dim + output
    assert active.denominator == 1 if isinstance(active, Fraction) else True
    return total, int(active)


def test_torchtitan_llama3_8b():
    """torchtitan's llama3 "8B" flavor (dim 4096, 32 layers, 32 heads, 8 KV heads,
    ffn_dim_multiplier 1.3, multiple_of 1024, vocabulary 128256): 8,030,261,248
    parameters as released; 6 (N - embedding) + 6 l h head_dims t."""
    nparams, embedding, head_dims = titan_llama3(4096, 32, 32, 8, 128256, 1.3, 1024)
    assert nparams == 8_030_261_248
    path = EXAMPLES / "llama3_8b.yaml"
    assert engine_n(path, "torchtitan") == nparams - embedding
    for seq_len in (2048, 8192):
        expected = 6 * (nparams - embedding) + 6 * 32 * 32 * head_dims * seq_len
        assert engine_per_token(path, "torchtitan", seq_len) == expected


def test_torchtitan_keeps_a_tied_embedding_as_the_output_head():
    """Qwen3-0.6B (torchtitan's qwen3 "0.6B": head_dim 128 although 1024 / 16 = 64,
    enable_weight_tying): the shared table is the output head's weight and stays in N;
    head_dims = 2 * head_dim. Qwen's published 0.6B total, 0.44B without the embedding."""
    total, active = titan_qwen3(1024, 28, 16, 8, 128, 151936, tied=True, hidden_dim=3072)
    assert round(total / 1e9, 1) == 0.6 and round((total - 151936 * 1024) / 1e9, 2) == 0.44
    assert active == total
    path = EXAMPLES / "qwen3_0_6b.yaml"
    assert engine_n(path, "torchtitan") == active
    assert engine_per_token(path, "torchtitan", 4096) == 6 * active + 6 * 28 * 16 * (2 * 128) * 4096
    # nanoGPT's N keeps the tied table too (nothing else to subtract without wpe)
    assert engine_n(path, "nanogpt") == total


def test_torchtitan_moe_qwen3_30b_a3b():
    """Qwen3-30B-A3B (torchtitan's qwen3 "30B-A3B": 128 experts of width 768, top 8,
    untied): routed experts weighted 8 / 128, the router in full, the embedding out.
    Qwen's published 30.5B total, 3.3B activated."""
    total, active = titan_qwen3(2048, 48, 32, 4, 128, 151936, tied=False, num_experts=128, top_k=8,
                                moe_inter_dim=768)
    assert round(total / 1e9, 1) == 30.5 and 3.3e9 <= active + 151936 * 2048 < 3.4e9  # "3.3B", embedding in
    path = EXAMPLES / "qwen3_30b_a3b.yaml"
    assert engine_n(path, "torchtitan") == active
    assert engine_per_token(path, "torchtitan", 4096) == 6 * active + 6 * 48 * 32 * (2 * 128) * 4096


def test_torchtitan_gpt_oss_20b():
    """gpt-oss (torchtitan gpt_oss/model.py as frontier-architectures.md §4.2 quotes it):
    6 N_active + 6 L n (2 d) s, every layer the full s; N_active from the parameter count
    of §4.1 (biases, sinks, router with bias, top-4 of 32 experts), the embedding out.
    The published 3.6B active parameters."""
    h, L, n, g, d, E, k, F, V = 2880, 24, 64, 8, 64, 32, 4, 2880, 201088
    layer = (h * n * d + n * d + 2 * (h * g * d + g * d) + n * d * h + h + n + h * E + E
             + k * (2 * h * F + 2 * F + F * h + h) + 2 * h)
    active = L * layer + h + h * V
    assert round(active / 1e9, 1) == 3.6
    path = EXAMPLES / "hf" / "gpt_oss_20b" / "config.json"
    for seq_len in (4096, 32768):
        assert engine_per_token(path, "torchtitan", seq_len) == 6 * active + 6 * L * n * (2 * d) * seq_len


# ------------------------------------------------------------------ reconcile and the CLI

@pytest.mark.parametrize("name, preset", [("llama3_8b", "torchtitan"), ("qwen3_0_6b", "torchtitan"),
                                          ("qwen3_30b_a3b", "torchtitan"), ("deepseek_v3", "torchtitan"),
                                          ("gpt2_124m_nanogpt", "nanogpt"), ("llama3_8b", "nanogpt")])
def test_reconcile_proves_the_identity(name, preset):
    result = CliRunner().invoke(main, ["reconcile", str(EXAMPLES / f"{name}.yaml"), "--preset", preset,
                                       "--against", "exact", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    statuses = [i["status"] for i in data["identities"] if i["preset"] == preset]
    assert "proved" in statuses and "fails" not in statuses


def test_identities_refuse_models_they_do_not_describe():
    """nanoGPT's Q is n_embd // n_head: Qwen3's head_dim 128 (1024 / 16 = 64) is not
    nanoGPT's; a hybrid's linear-attention layers have no S^2 term in either peer."""
    def statuses(path, preset):
        model = mfu_sym.load(str(path), preset=preset)
        return {i["statement"]: (i["status"], i.get("reason", "")) for i in analysis.prove_identities(model)}
    qwen = statuses(EXAMPLES / "qwen3_0_6b.yaml", "nanogpt")
    assert [s for s, _ in qwen.values()] == ["not applicable"]
    assert "needs d_head = d_model/n_heads" in next(iter(qwen.values()))[1]
    hybrid = statuses(EXAMPLES / "hf" / "qwen3_next_80b_a3b" / "config.json", "torchtitan")
    assert {s for s, _ in hybrid.values()} == {"not applicable"}
    assert any("gated_deltanet" in why for _, why in hybrid.values())


def test_torchtitan_leaves_out_the_embedding_only_when_untied():
    tied = mfu_sym.load(str(EXAMPLES / "qwen3_0_6b.yaml"), preset="torchtitan").conventions
    untied = mfu_sym.load(str(EXAMPLES / "llama3_8b.yaml"), preset="torchtitan").conventions
    assert tied.params_exclude == ("position_embedding",)
    assert untied.params_exclude == ("token_embedding", "position_embedding")
    assert "N leaves out token_embedding" in untied.explain()["counted"]


def test_linear_attention_layers_count_their_parameters_only():
    """torchtitan's snapshot: a Gated DeltaNet layer is 6 x its parameters, no S^2 and
    no recurrence term, so the training count is linear in s outside the attention layers."""
    model = mfu_sym.load(str(EXAMPLES / "hf" / "qwen3_next_80b_a3b" / "config.json"), preset="torchtitan")
    assert sympy.expand(model.training("linear_attention")
                        - 6 * model.active_params("linear_attention") * model.seq_len) == 0


def test_presets_lists_both_with_their_sources():
    data = json.loads(CliRunner().invoke(main, ["presets", "--format", "json"]).output)
    by_name = {p["name"]: p for p in data}
    assert "github.com/karpathy/nanoGPT" in by_name["nanogpt"]["reference"]["link"]
    assert "github.com/pytorch/torchtitan" in by_name["torchtitan"]["reference"]["link"]


@pytest.mark.parametrize("preset", ["torchtitan", "nanogpt"])
def test_derive_and_mfu_take_the_presets(preset):
    path = EXAMPLES / "llama3_8b.yaml"
    nparams, embedding, _ = titan_llama3(4096, 32, 32, 8, 128256, 1.3, 1024)
    n = nparams - embedding if preset == "torchtitan" else nparams
    per_token = 6 * n + 12 * 32 * 32 * 128 * 8192
    result = CliRunner().invoke(main, ["derive", str(path), "--preset", preset, "--seq-len", "8192",
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert int(data["flops"]["training"]) == per_token * 8192
    assert data["conventions"]["preset"] == preset
    result = CliRunner().invoke(main, ["mfu", str(path), "--preset", preset, "--seq-len", "8192", "--batch", "1",
                                       "--hardware", "h100", "--step-time", "1", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert sympy.Integer(data["flops_per_token"]["model"]) == per_token
