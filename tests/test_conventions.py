"""Each preset against its paper's own formula or worked example (shared/reference/
published.md), by exact symbolic equality where the paper gives a formula. The closed
forms are typed here from the papers, not taken from the engine or presets.yaml."""

import json

import pytest
import sympy
from click.testing import CliRunner

import mfu_sym
from mfu_sym import analysis
from mfu_sym.cli import main
from mfu_sym.model import Model
from mfu_sym.spec import from_mapping

B, L, s, h, V, heads = sympy.symbols("batch n_layers seq_len d_model vocab_size n_heads", positive=True)


def _gpt_style_symbolic(model):
    """Substitute the GPT-style architecture into the model's symbols: MHA, d_ff = 4h,
    d_head = h / heads; returns the model's symbols mapped to the papers' names."""
    sym = model.library.symbol
    return {sym("d_ff"): 4 * sym("d_model"), sym("n_kv_heads"): sym("n_heads"),
            sym("d_head"): sym("d_model") / sym("n_heads")}


def _papers(model):
    sym = model.library.symbol
    return {sym("batch"): B, sym("n_layers"): L, sym("seq_len"): s, sym("d_model"): h,
            sym("vocab_size"): V, sym("n_heads"): heads}


def _per_step(model, expression, hardware=False):
    total = model.batch * (model.hardware_training() if hardware else expression)
    return sympy.expand(total.subs(_gpt_style_symbolic(model)).xreplace(_papers(model)))


def test_narayanan_2021_eq3_symbolically(example):
    """F = 96 B s l h^2 (1 + s/(6h) + V/(16 l h)) (arXiv:2104.04473 Eq. 3), with full recompute."""
    model = mfu_sym.load(example("gpt3_175b.yaml"), preset="megatron-2021")
    paper = 96 * B * s * L * h**2 * (1 + s / (6 * h) + V / (16 * L * h))
    assert sympy.simplify(_per_step(model, model.training()) - sympy.expand(paper)) == 0


def test_korthikanti_2022_eq7_and_eq8_symbolically(example):
    """Eq. 7 model FLOPs 72 B L s h^2 (1 + s/(6h) + v/(12hL)); Eq. 8 hardware FLOPs with
    selective recompute 72 B L s h^2 (1 + s/(3h) + v/(12hL)) (arXiv:2205.05198 App. A)."""
    model = mfu_sym.load(example("gpt3_175b.yaml"), preset="megatron-2022")
    eq7 = 72 * B * L * s * h**2 * (1 + s / (6 * h) + V / (12 * h * L))
    eq8 = 72 * B * L * s * h**2 * (1 + s / (3 * h) + V / (12 * h * L))
    assert sympy.simplify(_per_step(model, model.training()) - sympy.expand(eq7)) == 0
    assert sympy.simplify(_per_step(model, None, hardware=True) - sympy.expand(eq8)) == 0


def test_narayanan_eq2_parameter_count(example):
    """P = 12 l h^2 (1 + 13/(12h) + (V + s)/(12 l h)) (arXiv:2104.04473 Eq. 2) counts the
    layers, their biases and LayerNorms, and the token and position tables; it leaves out
    the final LayerNorm (2h), which the model has."""
    model = mfu_sym.load(example("gpt3_175b.yaml"))
    sym = model.library.symbol
    params = sympy.expand(model.params().subs(_gpt_style_symbolic(model)).xreplace(_papers(model))
                          .xreplace({sym("n_positions"): s}))
    eq2 = 12 * L * h**2 * (1 + sympy.Rational(13, 12) / h + (V + s) / (12 * L * h))
    assert sympy.simplify(params - sympy.expand(eq2)) == 2 * h


@pytest.mark.parametrize("fields", [
    dict(d_model=64, n_layers=3, n_heads=8, n_kv_heads=2, d_ff=96, vocab_size=100),
    dict(d_model=64, n_layers=2, n_heads=4, d_head=24, d_ff=96, vocab_size=100, tied_embeddings=True,
         position_embedding="learned", n_positions=64, mlp="plain", attention_bias="all", mlp_bias=True),
    dict(d_model=32, n_layers=4, n_heads=4, n_kv_heads=1, d_ff=48, vocab_size=50, window=8,
         layer_types=["sliding_attention", "full_attention"] * 2, qk_norm="per_head"),
])
def test_palm_is_6n_plus_12lhqt_for_any_dense_config(fields):
    """PaLM App. B: 6N + 12 L H Q T per token, N every parameter but position embeddings."""
    model = Model(from_mapping({"name": "m", **fields}, "t"), mfu_sym.Conventions.from_preset("palm"))
    sym = model.library.symbol
    n = model.params() - model.params().subs(sym("n_positions"), 0) if fields.get("n_positions") else 0
    n = model.params() - n
    per_token = 6 * n + 12 * sym("n_layers") * sym("n_heads") * sym("d_head") * sym("seq_len")
    assert sympy.expand(model.training() - per_token * sym("seq_len")) == 0


def test_nanogpt_palm_ratio(example):
    """nanoGPT transformer_sizing.ipynb: PaLM's formula gives 875,062,886,400 for GPT-2 124M
    at 1024 tokens against the exact (full-mask) 874,944,921,600: ratio 1.0001."""
    palm = mfu_sym.load(example("gpt2_124m_nanogpt.yaml"), preset="palm")
    exact = mfu_sym.load(example("gpt2_124m_nanogpt.yaml"), preset="torch")
    assert palm.evaluate(palm.training(), seq_len=1024) == 875_062_886_400
    assert exact.evaluate(exact.training(), seq_len=1024) == 874_944_921_600
    ratio = palm.evaluate(palm.training(), seq_len=1024) / exact.evaluate(exact.training(), seq_len=1024)
    assert round(float(ratio), 4) == 1.0001


def test_palm_table_22_and_app_b(example):
    """PaLM 540B: 6 * 540.35e9 + 12 * 118 * 48 * 256 * 2048 = 3.28 TFLOPs per token
    (Table 22); the model file's own N is 540.35B (Table 1)."""
    model = mfu_sym.load(example("palm_540b.yaml"), preset="palm")
    assert round(int(model.evaluate(model.params())) / 1e9, 2) == 540.36
    per_token = model.evaluate(model.training(), seq_len=2048) / 2048
    assert round(float(per_token) / 1e12, 2) == 3.28


def test_kaplan_table_1(example):
    """Kaplan Table 1: C_forward = 2N + 2 n_layer n_ctx d_attn, N non-embedding."""
    model = mfu_sym.load(example("gpt3_175b.yaml"), preset="kaplan")
    sym = model.library.symbol
    non_embedding = model.param_counts()["non_embedding"]
    d_attn = sym("n_heads") * sym("d_head")
    forward_per_token = 2 * non_embedding + 2 * sym("n_layers") * sym("seq_len") * d_attn
    assert sympy.expand(model.forward() - forward_per_token * sym("seq_len")) == 0
    assert sympy.expand(model.training() - 3 * model.forward()) == 0


def test_6n(example):
    model = mfu_sym.load(example("mixtral_8x7b.yaml"), preset="6n")
    assert sympy.expand(model.training() - 6 * model.active_params() * model.seq_len) == 0


# Chinchilla Table A4 (arXiv:2203.15556) as nanoGPT's scaling_laws.ipynb reproduces it:
# (d_model, layers, ffw, heads, kv) -> F per 2048-token sequence without the embedding
# and logits terms, and the published ratio F / 6ND.
TABLE_A4 = [
    (640, 10, 2560, 10, 64, 929_877_196_800, 1.03),
    (1024, 20, 4096, 16, 64, 4_135_248_199_680, 1.10),
    (1280, 24, 5120, 10, 128, 7_353_453_772_800, 1.08),
    (1792, 26, 7168, 14, 128, 14_670_316_437_504, 1.04),
    (2048, 28, 8192, 16, 128, 20_220_437_594_112, 1.03),
    (3584, 40, 14336, 28, 128, 83_021_046_743_040, 0.99),
]


@pytest.mark.parametrize("d, layers, ffw, heads_, kv, flops, ratio", TABLE_A4)
def test_chinchilla_table_a4_reproduces_only_without_embedding_and_logits(d, layers, ffw, heads_, kv, flops, ratio):
    arch = from_mapping(dict(name="chinchilla", d_model=d, n_layers=layers, n_heads=heads_, d_head=kv, d_ff=ffw,
                             vocab_size=32000, mlp="plain"), "t")
    model = Model(arch, mfu_sym.Conventions.from_preset("chinchilla"))
    per_seq = lambda e: model.evaluate(e, seq_len=2048)
    without = per_seq(model.training() - model.training("embedding") - model.training("lm_head"))
    assert without == flops
    # nanoGPT's N: layers (with relative-position params d^2 + 2d a layer) plus the output matrix d x V
    n = layers * (4 * d * d + 2 * d * ffw + d * d + 2 * d) + d * 32000
    assert round(float(without / (6 * n * 2048)), 2) == ratio
    # App. F read literally (embedding and logits counted) does not reproduce the table:
    assert round(float(per_seq(model.training()) / (6 * n * 2048)), 2) != ratio


def test_chinchilla_counts_embedding_and_softmax(example):
    model = mfu_sym.load(example("llama3_8b.yaml"), preset="chinchilla")
    sym = model.library.symbol
    assert sympy.expand(model.forward("embedding") - 2 * sym("seq_len") * sym("vocab_size") * sym("d_model")) == 0
    assert sympy.expand(model.forward("nonmatmul") - 3 * sym("n_heads") * sym("seq_len")**2 * sym("n_layers")) == 0


def test_megatron_drops_the_router_and_halves_attention(example):
    exact = mfu_sym.load(example("deepseek_v3.yaml"))
    megatron = mfu_sym.load(example("deepseek_v3.yaml"), preset="megatron")
    assert megatron.training("router") == 0 and exact.training("router") != 0
    assert "mtp" in megatron.components
    sym = megatron.library.symbol
    assert sympy.expand(megatron.forward("attention_core").subs(sym("seq_len"), 2 * sym("t"))
                        - 2 * megatron.forward("attention_core").subs(sym("seq_len"), sym("t")) * 2) == 0


def test_maxtext_windows_and_mtp_logits(example):
    model = mfu_sym.load(example("gemma3_1b.yaml"), preset="maxtext")
    # 22 window layers of 512: 4 * h * d_h * S * min(W, S) / 2; 4 global layers: 4 * h * d_h * S^2 / 2
    S = 4096
    expected = 22 * 4 * 4 * 256 * S * 512 // 2 + 4 * 4 * 4 * 256 * S * S // 2
    assert model.evaluate(model.forward("attention_core"), seq_len=S) == expected
    deepseek = mfu_sym.load(example("deepseek_v3.yaml"), preset="maxtext")
    with_logits = mfu_sym.load(example("deepseek_v3.yaml"), preset="maxtext", mtp_logits=True)
    d, vocab = 7168, 129280
    assert with_logits.evaluate(with_logits.forward("mtp") - deepseek.forward("mtp"), seq_len=1) == 2 * d * vocab


def test_explicit_switches_override_the_preset(example):
    model = mfu_sym.load(example("llama3_8b.yaml"), preset="torch", attention_kernel="flash")
    assert model.conventions.attention_kernel == "flash" and model.conventions.overridden == ("attention_kernel",)
    assert "overridden: attention_kernel" in model.conventions.explain()["preset"]


def test_nonmatmul_switch_adds_elementwise_work(example):
    plain = mfu_sym.load(example("llama3_8b.yaml"))
    counted = mfu_sym.load(example("llama3_8b.yaml"), nonmatmul=("all",))
    assert counted.evaluate(counted.forward("nonmatmul"), seq_len=8) > 0
    assert sympy.expand(counted.forward() - plain.forward() - counted.forward("nonmatmul")) == 0


def test_unknown_preset_is_an_error(example):
    result = CliRunner().invoke(main, ["derive", example("llama3_8b.yaml"), "--preset", "plam"])
    assert result.exit_code == 1 and "Error: preset: unknown preset 'plam' (did you mean palm?" in result.output


def test_presets_command_lists_every_preset_with_a_source():
    data = json.loads(CliRunner().invoke(main, ["presets", "--format", "json"]).output)
    names = [p["name"] for p in data]
    assert names == ["exact", "6n", "palm", "nanogpt", "kaplan", "chinchilla", "megatron-2021", "megatron-2022",
                     "megatron", "maxtext", "nemo", "torchtitan", "torch"]
    assert all(p["reference"]["link"].startswith("https://") for p in data)


@pytest.mark.parametrize("name", ["llama3_8b", "gpt2_124m", "gemma3_1b", "mixtral_8x7b", "deepseek_v3",
                                  "qwen3_30b_a3b", "mistral_7b"])
def test_reconcile_and_analyze_for_every_kind_of_model(example, name):
    for command in (["reconcile", "--against", "palm", "--against", "megatron"], ["analyze"]):
        for fmt in ("text", "json"):
            result = CliRunner().invoke(main, [command[0], example(f"{name}.yaml"), *command[1:], "--format", fmt])
            assert result.exit_code == 0, result.output
            if fmt == "json":
                json.loads(result.stdout)


def test_reconcile_proves_the_megatron_identities_on_gpt3(example):
    data = json.loads(CliRunner().invoke(main, ["reconcile", example("gpt3_175b.yaml"), "--preset", "megatron-2022",
                                                "--against", "megatron-2021", "--format", "json"]).output)
    statuses = {i["statement"]: i["status"] for i in data["identities"]}
    assert set(statuses.values()) == {"proved"} and len(statuses) == 3


def test_reconcile_residual_by_component(example):
    model = mfu_sym.load(example("llama3_8b.yaml"))
    result = analysis.reconcile(model, analysis.with_preset(model, "6n"), seq_len=8192)
    sym = model.library.symbol
    # the embedding is in 6N but costs nothing: residual -6 d V per token
    assert sympy.expand(result["components"]["embedding"]["residual"]
                        + 6 * sym("d_model") * sym("vocab_size") * sym("seq_len")) == 0
    assert set(result["components"]) == {"embedding", "attention_core", "norms"}


def test_analyze_crossover_by_hand():
    """Causal, one layer: core 2 h d_h s (s + 1) x 3 = MLP 3 x 6 d d_ff s  ->  s = 3 d d_ff / (h d_h) - 1."""
    model = Model(from_mapping(dict(name="m", d_model=64, n_layers=1, n_heads=4, d_ff=128, vocab_size=10), "t"))
    roots = analysis.crossovers(model)
    assert roots["causal"]["exact"] == 3 * 64 * 128 // (4 * 16) - 1
    assert roots["full"]["exact"] == sympy.Rational(3 * 64 * 128, 2 * 4 * 16)


@pytest.mark.parametrize("preset", ["6n", "palm", "kaplan", "megatron", "chinchilla"])
def test_per_position_costs_follow_the_preset(example, preset):
    """forward_at(t) summed over the sequence is forward(), under every convention."""
    model = mfu_sym.load(example("deepseek_v3.yaml"), preset=preset)
    length = 7
    summed = sum(model.evaluate(model.forward_at(t), seq_len=length) for t in range(1, length + 1))
    assert summed == model.evaluate(model.forward(), seq_len=length)


def test_analyze_handles_maxtexts_window_term(example):
    """MaxText halves min(s, W) on window layers: a Min in s, solved and expanded as a
    Piecewise (it used to end in NotImplementedError)."""
    from mfu_sym import analysis
    model = mfu_sym.load(example("gemma3_27b.yaml"), preset="maxtext")
    result = analysis.analyze(model, 8192, 1, (1024, 131072))
    assert result["asymptotic"]["degree"] == 2
    root = result["crossover_seq_len"]["attention_core_vs_mlp"]["half"]
    s = model.seq_len
    gap = (model.training("attention_core") - model.training("mlp")).xreplace(model.values)
    assert gap.xreplace({s: sympy.Integer(int(root["approx"]) + 1)}) > 0
    assert gap.xreplace({s: sympy.Integer(int(root["approx"]))}) <= 0
