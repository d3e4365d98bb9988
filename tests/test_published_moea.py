"""Published parameter counts of the MoE group's flagships, against the engine reading
their published config.json (examples/hf/; provenance in examples/hf/SOURCES.md). Sources
beside each figure; tests/sources.md lists them.

Exact where the source gives the integer sum of the checkpoint's tensors; otherwise the
rounded figure within half its last digit."""

from pathlib import Path

import pytest

import mfu_sym

HF = Path(__file__).resolve().parent.parent / "examples" / "hf"


def _count(name, what="total"):
    model = mfu_sym.load(HF / name / "config.json")
    counts = model.param_counts()
    if what == "active_without_embedding":  # "active" without the embedding (a lookup), the LM head in
        return int(model.evaluate(counts["active"] - counts["embedding"]))
    return int(model.evaluate(counts[what]))


PUBLISHED = [
    # openai/gpt-oss-20b: "20.9B total parameters (3.6B active)" (gpt-oss-120b & gpt-oss-20b
    # model card, arXiv:2508.10925, §2.1); "20.9 billion total parameters (with 3.61 billion
    # activated per token)" (a hosting provider's model page); the Hugging Face model card: "21B
    # parameters with 3.6B active parameters". The card's active count includes the
    # unembedding but not the embedding (a lookup).
    ("gpt_oss_20b", "total", 20.9e9, 0.05e9),
    ("gpt_oss_20b", "total", 21e9, 0.5e9),
    ("gpt_oss_20b", "active_without_embedding", 3.61e9, 0.005e9),
    ("gpt_oss_20b", "active_without_embedding", 3.6e9, 0.05e9),
    # arcee-ai/Trinity-Nano-Preview (AFMoE): "Trinity Nano having 6B total parameters with 1B
    # activated per token" (Singh et al., "Arcee Trinity Large Technical Report", February 2026, abstract);
    # "only 800M non-embedding parameters active per token across 56 layers and 128 experts"
    # (Arcee, "The Trinity Manifesto", 2025-12-01): the LM head counted, the embedding (a
    # lookup) not.
    ("trinity_nano", "total", 6e9, 0.5e9),
    ("trinity_nano", "active", 1e9, 0.5e9),
    ("trinity_nano", "active_without_embedding", 0.8e9, 0.05e9),
]
# the examples pinned here (tests/test_published_counts.py checks that every example is pinned somewhere)
PUBLISHED_TOTAL = {f"hf/{name}/config.json": (published, half_digit) for name, what, published, half_digit in PUBLISHED
                   if what == "total"}


@pytest.mark.parametrize("name, what, published, half_digit", PUBLISHED)
def test_published_parameters(name, what, published, half_digit):
    count = _count(name, what)
    assert abs(count - published) <= half_digit, f"{count:,} vs published {published:,.0f} +- {half_digit:,.0f}"


def test_gpt_oss_20b_alternates_sliding_and_full_layers():
    """Model card §2.1: attention alternating between banded-window (128 tokens) and
    fully dense patterns; 24 layers, 32 experts, top 4."""
    from mfu_sym import stack
    arch = mfu_sym.load(HF / "gpt_oss_20b" / "config.json").arch
    assert stack.counts(arch.layers, "mixer") == {"sliding_attention": 12, "attention": 12}
    assert (arch.window, arch.n_experts, arch.top_k) == (128, 32, 4)


# Llama 4 Scout: no verbatim copy of the Hub config.json was found (see the report), so its
# text decoder is read here from the values of the Llama4Config that transformers printed
# for meta-llama/Llama-4-Scout-17B-16E (a published note, search-index file id
# 41112263523), the composite form, the vision tower not built.
SCOUT_TEXT = {"model_type": "llama4_text", "attention_bias": False, "attention_chunk_size": 8192, "head_dim": 128,
              "hidden_size": 5120, "interleave_moe_layer_step": 1, "intermediate_size": 8192,
              "intermediate_size_mlp": 16384, "num_attention_heads": 40, "num_experts_per_tok": 1,
              "num_hidden_layers": 48, "num_key_value_heads": 8, "num_local_experts": 16, "use_qk_norm": True,
              "vocab_size": 202048, "no_rope_layers": [1, 1, 1, 0] * 12}
# the vision tower and projector of the same note's parameter table (34 layers of 23,807,872,
# class and position embeddings, patch embedding, pre/post norms, adapter, projector)
SCOUT_VISION = 34 * 23_807_872 + 1408 + 812_416 + 827_904 + 4 * 1408 + 23_068_672 + 16_777_216 + 20_971_520


def test_llama4_scout_text_decoder(tmp_path):
    """Meta's model card: "17B (Activated) 109B (Total)" for Llama 4 Scout (17Bx16E),
    text and vision together; the text decoder's count plus the vision tower of the
    published parameter table gives 109B, and the active count 17B."""
    import json
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "llama4", "text_config": SCOUT_TEXT, "vision_config": {}}))
    model = mfu_sym.load(path)
    counts = {k: int(model.evaluate(v)) for k, v in model.param_counts().items()}
    assert abs(counts["total"] + SCOUT_VISION - 109e9) <= 0.5e9
    assert abs(counts["active"] - 17e9) <= 0.5e9
    assert counts["total"] == 107_769_861_120  # exact sum of Llama4ForCausalLM's parameters (meta device)


# the example file: the same note's whole multimodal config (examples/hf/SOURCES.md)
PINNED = {"hf/llama4_scout_17b_16e/config.json"}


def test_llama4_scout_example_with_its_vision_tower():
    """Meta's model card, "17B (Activated) 109B (Total)": the decoder read from the example's
    multimodal config.json plus its vision tower (mfu_sym.vision) gives 109B, exactly the
    decoder above and the published module table's vision tower."""
    from mfu_sym.vision import load_vision
    path = "examples/hf/llama4_scout_17b_16e/config.json"
    model = mfu_sym.load(path)
    counts = {k: int(model.evaluate(v)) for k, v in model.param_counts().items()}
    vision = int(load_vision(path).params["total"])
    assert counts["total"] == 107_769_861_120 and vision == SCOUT_VISION
    assert abs(counts["total"] + vision - 109e9) <= 0.5e9 and abs(counts["active"] - 17e9) <= 0.5e9


# MiniMax-M2 (and M2.1/M2.5, the same architecture): no verbatim copy of the Hub config.json
# was found; the sizes are those of a fixture described as the real model's
# (search-index file id 62677649764), read as transformers reads a minimax_m2 config.
MINIMAX_M2 = {"model_type": "minimax_m2", "vocab_size": 200064, "hidden_size": 3072, "intermediate_size": 1536,
              "num_hidden_layers": 62, "num_attention_heads": 48, "num_key_value_heads": 8, "head_dim": 128,
              "max_position_embeddings": 196608, "num_local_experts": 256, "num_experts_per_tok": 8,
              "tie_word_embeddings": False}


def _fp8_block_scales(rows, cols, block=128):
    """One float32 scale per 128 x 128 block of an FP8 weight (weight_block_size [128, 128])."""
    return -(-rows // block) * -(-cols // block)


def test_minimax_m2_against_the_hub_safetensors_total(tmp_path):
    """The Hub's safetensors total of the FP8 checkpoint, 228,703,644,928 (a published
    test's ground truth "from HF API", search-index file id 4289690615), counts every
    tensor stored: the model's parameters, plus per layer one float32 scale per 128 x 128
    block of each FP8 matrix (attention and experts; the router and LM head stay bf16)
    and the router's e_score_correction_bias buffer (256 values, not a parameter)."""
    import json
    path = tmp_path / "config.json"
    path.write_text(json.dumps(MINIMAX_M2))
    model = mfu_sym.load(path)
    counts = {k: int(model.evaluate(v)) for k, v in model.param_counts().items()}
    h, heads, kv, d, experts, f = 3072, 48, 8, 128, 256, 1536
    scales = (_fp8_block_scales(heads * d, h) + 2 * _fp8_block_scales(kv * d, h) + _fp8_block_scales(h, heads * d)
              + experts * (2 * _fp8_block_scales(f, h) + _fp8_block_scales(h, f)))
    assert counts["total"] + 62 * (scales + experts) == 228_703_644_928
    # "230 billion total parameters with 10 billion active" (transformers' model page for
    # MiniMax-M2): the active count without the embedding (a lookup)
    assert abs(counts["active"] - counts["embedding"] - 10e9) <= 0.5e9


# Granite 3.0/3.1 3B-A800M (granitemoe): the sizes of ibm-granite/granite-3.1-3b-a800m-instruct's
# config.json as a published planner quotes them (search-index file id 71463455676); no whole
# copy of the Hub file was found. Granite 3.1 extends 3.0's context (RoPE theta) with the same
# architecture.
GRANITE_3B_A800M = {"model_type": "granitemoe", "hidden_size": 1536, "intermediate_size": 512, "num_hidden_layers": 32,
                    "num_attention_heads": 24, "num_key_value_heads": 8, "num_local_experts": 40,
                    "num_experts_per_tok": 8, "vocab_size": 49155, "tie_word_embeddings": True,
                    "max_position_embeddings": 131072}


def test_granite_3b_a800m_parameters(tmp_path):
    """3,298,793,472 parameters: granite-3.1-3b-a800m-instruct's count read off its file
    (a published model roster and gate log, search-index file ids 70921079371, 71471098890)
    and ibm-granite/granite-guardian-3.2-3b-a800m's (the same architecture; run metadata in
    search-index file ids 68517529394, 68688959620); "~800M active" (the model names)."""
    import json
    path = tmp_path / "config.json"
    path.write_text(json.dumps(GRANITE_3B_A800M))
    model = mfu_sym.load(path)
    counts = {k: int(model.evaluate(v)) for k, v in model.param_counts().items()}
    assert counts["total"] == 3_298_793_472
    assert abs(counts["active"] - counts["embedding"] - 800e6) <= 50e6


# Phi-3.5-MoE (phimoe): sizes of microsoft/Phi-3.5-MoE-instruct from a trimmed copy of its
# config (search-index file id 54525692000: 32 layers, hidden 4096, 32 heads, 8 KV heads,
# experts of 6400, 16 experts, top 2, vocabulary 32,064); the checkpoint's attention and LM
# head biases (attention_bias, lm_head_bias: true; the trimmed copy leaves them out, a Phi-3.5
# MoE loader's test fixture sets both, id 70217094165). No whole copy of the Hub file was found.
PHI35_MOE = {"model_type": "phimoe", "vocab_size": 32064, "hidden_size": 4096, "intermediate_size": 6400,
             "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "num_local_experts": 16,
             "num_experts_per_tok": 2, "attention_bias": True, "lm_head_bias": True, "tie_word_embeddings": False}


def test_phi35_moe_parameters(tmp_path):
    """41,873,153,344 parameters (a published per-module count of Phi-3.5-MoE, search-index
    file id 5536979741), exact only with both biases (without the LM head's: 32,064 fewer;
    without the attention biases: 327,680 fewer); "16x3.8B parameters with 6.6B active
    parameters when using 2 experts" (Microsoft's model card)."""
    import json
    path = tmp_path / "config.json"
    path.write_text(json.dumps(PHI35_MOE))
    model = mfu_sym.load(path)
    counts = {k: int(model.evaluate(v)) for k, v in model.param_counts().items()}
    assert counts["total"] == 41_873_153_344
    assert abs(counts["active"] - 6.6e9) <= 0.05e9


# ---------------------------------------------------------------- published flagship configs (issue 14)

# examples/hf/granite3_1_3b_a800m_instruct: ibm-granite/granite-3.1-3b-a800m-instruct's config.json
# (provenance in examples/hf/SOURCES.md), pinned to the count published for that checkpoint
# (tests/sources.md, "Granite 3.1 3B-A800M").
PUBLISHED_TOTAL["hf/granite3_1_3b_a800m_instruct/config.json"] = (3_298_793_472, 0)


def test_granite_3_1_3b_a800m_published_config():
    """The published file gives the sizes the planner's copy quotes (GRANITE_3B_A800M above) and
    the count published for the checkpoint, 3,298,793,472 (the LM head tied to the embedding)."""
    model = mfu_sym.load(HF / "granite3_1_3b_a800m_instruct" / "config.json")
    counts = {k: int(model.evaluate(v)) for k, v in model.param_counts().items()}
    assert counts["total"] == 3_298_793_472
    assert counts["lm_head"] == 0


# examples/hf/minimax_m2: MiniMaxAI/MiniMax-M2's config.json in transformers' own format (the
# Hub's blob view at revision fbd8a14; provenance in examples/hf/SOURCES.md), pinned to the
# Hub's safetensors total of the FP8 checkpoint as test_minimax_m2_against_the_hub_safetensors_total
# reads it (the block scales and router buffers added by hand).
PUBLISHED_TOTAL["hf/minimax_m2/config.json"] = (228_703_644_928, 0)


def test_minimax_m2_published_config_against_the_hub_safetensors_total():
    """The published file describes the model the fixture above describes (the same count),
    and its quantization_config names the FP8 blocks (weight_block_size 128 x 128) and the
    tensors kept unquantized (gate, e_score_correction_bias, lm_head) that the scales follow."""
    import json
    config = json.loads((HF / "minimax_m2" / "config.json").read_text())
    quant = config["quantization_config"]
    assert quant["weight_block_size"] == [128, 128]
    assert set(quant["modules_to_not_convert"]) == {"gate", "e_score_correction_bias", "lm_head"}
    model = mfu_sym.load(HF / "minimax_m2" / "config.json")
    counts = {k: int(model.evaluate(v)) for k, v in model.param_counts().items()}
    h, heads, kv, d, experts, f = 3072, 48, 8, 128, 256, 1536
    scales = (_fp8_block_scales(heads * d, h) + 2 * _fp8_block_scales(kv * d, h) + _fp8_block_scales(h, heads * d)
              + experts * (2 * _fp8_block_scales(f, h) + _fp8_block_scales(h, f)))
    assert counts["total"] + 62 * (scales + experts) == 228_703_644_928
