"""The decoder of a vision-language composite config.json (Gemma 3, Qwen2.5-VL, Qwen3-VL,
LLaVA, Idefics3, SmolVLM), read by `mfu_sym.load` as transformers 5.23 builds the
*ForConditionalGeneration's language model and LM head (formulas/hf_families_vlm.yaml).
The vision tower and projector are counted apart (mfu_sym.vision, `--images`): the
decoder's parameters plus the tower's are the checkpoint's total.

Exact agreement with what transformers builds and executes: tests/crosscheck/test_vlm_decoders.py."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import mfu_sym
from mfu_sym.cli import main
from mfu_sym.errors import ConfigError
from mfu_sym.vision import load_vision

DATA = Path(__file__).resolve().parent / "data" / "vision"
NOTE = "vision_config: the vision tower and projector are not in these counts (counted per sample with --images)"

# Published totals: sum(p.numel()) of the whole checkpoint (Hugging Face safetensors metadata,
# as public copies print it), and the decoder read here (the text model's own published size
# where one exists). The vision tower's parameters are load_vision(...).params["total"].
PUBLISHED = {
    # gemma-3-27b-it: 27,432,406,640 (the Hub's parameter count, copied in e.g. a llama.cpp
    # /v1/models "n_params" and the keras-hub MedGemma 27B preset metadata "params").
    "gemma-3-27b-it.json": (27_432_406_640, 27_009_346_304),
    # Qwen2.5-VL-7B-Instruct: 8,292,166,656 (the Hub's numParameters; a public fine-tuning script
    # prints 8292166656 total, 676550144 in `visual`, 7615616512 after freezing it).
    "Qwen2.5-VL-7B-Instruct.json": (8_292_166_656, 7_615_616_512),
    # Qwen3-VL-4B-Instruct: 4,437,815,808 (public evaluation logs' total_parameters); the decoder is
    # Qwen3-4B's layout with the same vocabulary and tied embeddings: 4,022,468,096.
    "Qwen3-VL-4B-Instruct.json": (4_437_815_808, 4_022_468_096),
    # llava-1.5-7b-hf: 7,063,427,072 (a public test asserts count_parameters(LlavaForConditional
    # Generation(LlavaConfig.from_pretrained("llava-hf/llava-1.5-7b-hf"))) == 7063427072); the
    # decoder is Llama-2-7B (6,738,415,616) with 64 more rows in the embedding and the LM head.
    "llava-1.5-7b-hf.json": (7_063_427_072, 6_738_415_616 + 2 * 64 * 4096),
}


def _load(name):
    return mfu_sym.load(DATA / name)


def _params(model):
    return int(model.report(seq_len=16, batch=1)["params"]["total"])


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_decoder_plus_tower_is_the_published_total(name):
    total, decoder = PUBLISHED[name]
    model = _load(name)
    assert _params(model) == decoder
    assert decoder + int(load_vision(DATA / name).params["total"]) == total


def test_smolvlm_decoder():
    """SmolVLM-Instruct (model_type idefics3): a llama text_config, LM head untied (the
    composite's tie_word_embeddings false), vocabulary 49155. No exact published total was
    found to compare with (the Hub rounds to 2.25B)."""
    model = _load("SmolVLM-Instruct.json")
    arch = model.arch
    assert (arch.d_model, arch.n_layers, arch.n_heads, arch.d_head, arch.d_ff, arch.vocab_size) == (
        2048, 24, 32, 64, 8192, 49155)
    assert arch.tied_embeddings is False
    d, layer = 2048, 4 * 2048 * 2048 + 3 * 2048 * 8192 + 2 * 2048
    assert _params(model) == 24 * layer + d + 2 * 49155 * d
    assert abs(_params(model) + int(load_vision(DATA / "SmolVLM-Instruct.json").params["total"]) - 2.25e9) < 0.005e9


@pytest.mark.parametrize("name", ["gemma-3-27b-it.json", "Qwen2.5-VL-7B-Instruct.json", "Qwen3-VL-4B-Instruct.json",
                                  "llava-1.5-7b-hf.json", "SmolVLM-Instruct.json"])
def test_the_note_says_the_tower_is_counted_with_images(name):
    notes = _load(name).arch.notes
    assert NOTE in notes
    assert all("\n" not in note for note in notes)


def test_published_details():
    gemma = _load("gemma-3-27b-it.json").arch
    assert gemma.tied_embeddings is True  # Gemma3Config's default, read from the composite
    assert (gemma.n_layers, gemma.window, gemma.d_head, gemma.vocab_size) == (62, 1024, 128, 262208)
    qwen25 = _load("Qwen2.5-VL-7B-Instruct.json").arch
    assert (qwen25.attention_bias, qwen25.window, qwen25.qk_norm, qwen25.d_head) == ("qkv", 0, "none", 128)
    assert any("vision_token_id" in note for note in qwen25.notes)  # not a field of either class
    qwen3 = _load("Qwen3-VL-4B-Instruct.json").arch
    assert (qwen3.qk_norm, qwen3.d_head, qwen3.tied_embeddings) == ("per_head", 128, True)
    llava = _load("llava-1.5-7b-hf.json").arch
    assert (llava.vocab_size, llava.context_len) == (32064, 4096)
    assert any("vocab_size" in note for note in llava.notes)  # the composite's vocab_size is read by nothing


def test_every_cli_command_reads_the_composite(tmp_path):
    result = CliRunner().invoke(main, ["derive", str(DATA / "Qwen2.5-VL-7B-Instruct.json"), "--seq-len", "64"])
    assert result.exit_code == 0, result.output
    assert "7,615,616,512" in result.output
    assert "counted per sample with --images" in result.output


# ---------------------------------------------------------------- how transformers reads them

def arch(tmp_path, config):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return mfu_sym.load_architecture(path)


TEXT = {"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 128}


def test_qwen2_5_vl_flat_and_nested_are_the_same(tmp_path):
    flat = arch(tmp_path, {"model_type": "qwen2_5_vl", **TEXT})
    nested = arch(tmp_path, {"model_type": "qwen2_5_vl", "text_config": TEXT})
    assert (flat.d_model, flat.n_layers, flat.d_ff, flat.vocab_size, flat.attention_bias) == (
        nested.d_model, nested.n_layers, nested.d_ff, nested.vocab_size, nested.attention_bias) == (
        64, 2, 96, 128, "qkv")
    # a text_config given: the top-level text keys are not read (notes)
    both = arch(tmp_path, {"model_type": "qwen2_5_vl", "hidden_size": 32, "text_config": TEXT})
    assert both.d_model == 64 and any("hidden_size" in note for note in both.notes)


def test_qwen2_5_vl_head_dim_is_hidden_over_heads(tmp_path):
    read = arch(tmp_path, {"model_type": "qwen2_5_vl", **TEXT, "head_dim": 24})
    assert read.d_head == 16 and any("head_dim" in note for note in read.notes)


def test_qwen2_5_vl_windows_need_use_sliding_window(tmp_path):
    off = arch(tmp_path, {"model_type": "qwen2_5_vl", **TEXT, "sliding_window": 4, "max_window_layers": 1})
    assert off.window == 0
    on = arch(tmp_path, {"model_type": "qwen2_5_vl", **TEXT, "use_sliding_window": True, "sliding_window": 4,
                         "max_window_layers": 1})
    assert (on.window, on.layer_types) == (4, ("full_attention", "sliding_attention"))


@pytest.mark.parametrize("config, tied", [
    ({"model_type": "gemma3", "text_config": {**TEXT, "head_dim": 16}}, True),
    ({"model_type": "gemma3", "text_config": {**TEXT, "head_dim": 16, "tie_word_embeddings": True},
      "tie_word_embeddings": False}, False),
    ({"model_type": "gemma3", "text_config": {**TEXT, "head_dim": 16}, "tie_word_embeddings": None}, False),
    ({"model_type": "qwen2_5_vl", **TEXT}, False),
    ({"model_type": "qwen2_5_vl", **TEXT, "tie_word_embeddings": True}, True),
    ({"model_type": "qwen2_5_vl", "text_config": {**TEXT, "tie_word_embeddings": True}}, True),
    ({"model_type": "qwen3_vl", "text_config": {**TEXT, "tie_word_embeddings": True}}, False),
    ({"model_type": "qwen3_vl", "text_config": TEXT, "tie_word_embeddings": True}, True),
    ({"model_type": "llava", "text_config": {**TEXT, "tie_word_embeddings": True}}, True),
    ({"model_type": "llava", "text_config": {**TEXT, "model_type": "gemma2", "head_dim": 16}}, True),
    ({"model_type": "idefics3", "text_config": {**TEXT, "tie_word_embeddings": True}}, False),
    ({"model_type": "smolvlm", "text_config": TEXT, "tie_word_embeddings": True}, True),
])
def test_the_composite_ties_the_lm_head(tmp_path, config, tied):
    assert arch(tmp_path, config).tied_embeddings is tied


def test_text_model_types(tmp_path):
    assert arch(tmp_path, {"model_type": "llava"}).name.startswith("llama")  # LlavaConfig's default text class
    assert arch(tmp_path, {"model_type": "llava", "text_config": {**TEXT, "model_type": "qwen2"}}).attention_bias \
        == "qkv"
    assert arch(tmp_path, {"model_type": "smolvlm", "text_config": {**TEXT, "model_type": "mistral",
                                                                       "sliding_window": 4}}).window == 4
    # Gemma 3 and the Qwen composites fix the text class, whatever model_type text_config names
    assert arch(tmp_path, {"model_type": "qwen3_vl", "text_config": {**TEXT, "model_type": "llama"}}).qk_norm \
        == "per_head"
    # the composite's LM head has no bias, whatever the text family's causal LM has
    phimoe = {**TEXT, "model_type": "phimoe", "num_local_experts": 4, "lm_head_bias": True}
    assert arch(tmp_path, {"model_type": "llava", "text_config": phimoe}).lm_head_bias is False


def test_text_model_types_standalone(tmp_path):
    assert arch(tmp_path, {"model_type": "qwen2_5_vl_text", **TEXT}).attention_bias == "qkv"
    assert arch(tmp_path, {"model_type": "qwen3_vl_text", **TEXT}).d_head == 128  # the class default
    assert arch(tmp_path, {"model_type": "qwen3_vl_text", **TEXT, "attention_bias": True}).attention_bias == "all"


@pytest.mark.parametrize("config, field, message", [
    ({"model_type": "gemma3", "text_config": [1]}, "text_config", "expected a JSON object"),
    ({"model_type": "qwen3_vl", "text_config": "x"}, "text_config", "expected a JSON object"),
    ({"model_type": "gemma3", "tie_word_embeddings": "yes"}, "tie_word_embeddings", "not true or false"),
    ({"model_type": "llava", "tie_word_embeddings": 1}, "tie_word_embeddings", "not true or false"),
    ({"model_type": "llava", "text_config": {"model_type": 5}}, "text_config.model_type", "expected text"),
    ({"model_type": "llava", "text_config": {"model_type": "resnet"}}, "text_config.model_type",
     "unknown model_type 'resnet'"),
    ({"model_type": "idefics3", "text_config": {"model_type": "gemma3"}}, "text_config.model_type",
     "itself a composite config"),
    ({"model_type": "llava", "text_config": {"model_type": "bert"}}, "text_config.model_type", "not supported"),
    ({"model_type": "qwen3_vl", "text_config": {"hidden_size": -8}}, "text_config.hidden_size", "not positive"),
    # flat Qwen2.5-VL: the key is where the file wrote it
    ({"model_type": "qwen2_5_vl", "hidden_size": -8}, "hidden_size", "not positive"),
    ({"model_type": "qwen2_5_vl", **TEXT, "hidden_size": 66}, "text_config.d_head", "not divisible"),
    ({"model_type": "qwen2_5_vl", "text_config": {**TEXT, "tie_word_embeddings": "x"}},
     "text_config.tie_word_embeddings", "not true or false"),
    ({"model_type": "qwen2_5_vl_text", **TEXT, "use_sliding_window": True, "sliding_window": 0}, "sliding_window",
     "not positive"),
])
def test_bad_configs(tmp_path, config, field, message):
    with pytest.raises(ConfigError) as error:
        arch(tmp_path, config)
    assert error.value.field == field
    assert message in error.value.message
