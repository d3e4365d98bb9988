"""Vision towers: hand derivations, published figures, the image rules, and every error path.

Goldens are written out as the arithmetic of the modules transformers builds (or copied
from a published table, cited), never taken from the engine's output. The exact
comparison with what transformers executes is tests/crosscheck/test_vision.py.
"""

import json
from pathlib import Path

import pytest
import sympy

from mfu_sym.errors import ConfigError, FormulaError, UsageError
from mfu_sym.vision import decoder_config, families, load_vision
from mfu_sym.vision import images as image_rules
from mfu_sym.vision import library as vision_library

DATA = Path(__file__).resolve().parent / "data" / "vision"


def published(name):
    return json.loads((DATA / f"{name}.json").read_text())


# --------------------------------------------------------------------------- Gemma 3


def test_gemma3_27b_896_by_hand():
    """frontier-architectures.md §6.1: 896^2 -> 4096 patches -> 256 tokens, 5.46 TF forward
    (attention 2.09 TF) plus the projector."""
    tower = load_vision(published("gemma-3-27b-it"))
    cost = tower.per_sample(images=1, image_size=(896, 896))
    p, h, f, layers, text = 64 * 64, 1152, 4304, 27, 5376
    assert cost.patches == 4096 and cost.decoder_tokens == 256
    assert cost.forward["patch_embedding"] == 2 * p * 3 * 14 * 14 * h
    assert cost.forward["attention_projections"] == layers * 8 * p * h * h
    assert cost.forward["attention_core"] == layers * 4 * p * p * h
    assert cost.forward["mlp"] == layers * 4 * p * h * f
    assert cost.forward["projector"] == 2 * 256 * h * text
    encoder = cost.forward["total"] - cost.forward["projector"]
    assert round(encoder / 10 ** 10) == 546  # 5.46 TF
    assert round(cost.forward["attention_core"] / 10 ** 10) == 209  # 2.09 TF
    # backward: 2x everywhere but the patch embedding (pixels need no gradient)
    assert cost.backward["patch_embedding"] == cost.forward["patch_embedding"]
    for part in ("attention_projections", "attention_core", "mlp", "projector"):
        assert cost.backward[part] == 2 * cost.forward[part]


def test_gemma3_any_image_is_one_896_square():
    tower = load_vision(published("gemma-3-27b-it"))
    one = tower.per_sample(images=1, image_size=(896, 896))
    for size in [(480, 640), "1080x1920", (10, 10)]:
        assert tower.per_sample(images=1, image_size=size).forward == one.forward
    three = tower.per_sample(images=3, image_size=(500, 700))
    assert three.forward["total"] == 3 * one.forward["total"] and three.decoder_tokens == 768


def test_gemma3_params_by_hand():
    h, f, text = 1152, 4304, 5376
    embeddings = 3 * 14 * 14 * h + h + 64 * 64 * h  # conv weight, conv bias, position table
    layer = (4 * h * h + 4 * h) + (2 * h * f + f + h) + 2 * 2 * h  # attention, MLP, two LayerNorms
    projector = h * text + h  # mm_input_projection_weight, mm_soft_emb_norm
    params = load_vision(published("gemma-3-27b-it")).params
    assert params["total"] == embeddings + 27 * layer + 2 * h + projector
    assert params["projector"] == h * text


# --------------------------------------------------------------------------- Qwen2.5-VL


def test_qwen2_5_vl_7b_1008_by_hand():
    """§6.1: 1008^2 -> 72 x 72 = 5184 patches -> 1296 tokens, 7.26 TF exact (windows of
    112 px = 8 x 8 patches in 28 layers, 4 full-attention layers, gated MLP, merger)."""
    tower = load_vision(published("Qwen2.5-VL-7B-Instruct"))
    cost = tower.per_sample(images=1, image_size=(1008, 1008))
    p, h, f, out = 5184, 1280, 3420, 3584
    assert cost.patches == p and cost.decoder_tokens == 1296
    windows = 9 * 9 * 64 ** 2  # 81 windows of 64 patches
    assert cost.forward["patch_embedding"] == 2 * p * 3 * 2 * 14 * 14 * h
    assert cost.forward["attention_projections"] == 32 * 8 * p * h * h
    assert cost.forward["attention_core"] == 4 * h * (4 * p * p + 28 * windows)
    assert cost.forward["mlp"] == 32 * 6 * p * h * f
    assert cost.forward["projector"] == 2 * 1296 * (5120 * 5120 + 5120 * out)
    assert round(cost.forward["total"] / 10 ** 10) == 726  # 7.26 TF


def test_qwen2_5_vl_all_full_and_plain_mlp_is_the_survey_9_60():
    """§6.1/6.2: 9.60 TF by Megatron-Bridge's vit_flops form (every layer full attention,
    2-matrix MLP, no patch embedding term), +32 % over the exact count."""
    p, h, f = 5184, 1280, 3420
    approx = 32 * ((8 * h * h + 4 * h * f) * p + 4 * h * p * p) + 1296 * (2 * (4 * h) ** 2 + 2 * 4 * h * 3584)
    assert round(approx / 10 ** 10) == 960
    exact = load_vision(published("Qwen2.5-VL-7B-Instruct")).per_sample(image_size=(1008, 1008))
    assert round(100 * approx / exact.forward["total"]) == 132


def brute_window_pairs(grid_h, grid_w, merge, units):
    """Sum of squared window lengths, enumerating windows as transformers'
    get_vision_window_index lays them out (top-left origin, remainders last)."""
    hm, wm = grid_h // merge, grid_w // merge
    total = 0
    for top in range(0, hm, units):
        for left in range(0, wm, units):
            rows, cols = min(units, hm - top), min(units, wm - left)
            total += (rows * cols * merge * merge) ** 2
    return total


@pytest.mark.parametrize("grid_h,grid_w", [(2, 2), (8, 8), (8, 10), (10, 8), (14, 36), (72, 72), (70, 46),
                                           (2, 144), (38, 26)])
def test_window_pairs_closed_form_equals_enumeration(grid_h, grid_w):
    lib = vision_library.load()
    s = lib.symbol
    value = lib.quantities["window_pairs"].value.subs({s("grid_h"): grid_h, s("grid_w"): grid_w, s("merge"): 2,
                                                       s("window_units"): 4})
    assert value == brute_window_pairs(grid_h, grid_w, 2, 4)


def test_qwen_dynamic_resolution_by_hand():
    tower = load_vision(published("Qwen2.5-VL-7B-Instruct"))
    # 480 x 640: round(480/28)=17 -> 476, round(640/28)=23 -> 644; 34 x 46 patches
    (one,) = tower.inputs((480, 640))
    assert (one.height, one.width, one.n_patches) == (476, 644, 34 * 46)
    assert tower.per_sample(image_size=(480, 640)).decoder_tokens == 17 * 23
    # tiny image: scaled up to at least min_pixels (3136), in multiples of 28
    tiny = tower.inputs((10, 10))[0]
    assert tiny.height * tiny.width >= 3136 and tiny.height % 28 == tiny.width % 28 == 0
    # huge image: scaled down under max_pixels 12845056
    big = tower.inputs((8000, 8000))[0]
    assert big.height * big.width <= 12845056 and big.height % 28 == 0
    # processor overrides
    small = load_vision(published("Qwen2.5-VL-7B-Instruct"), processor={"max_pixels": 1003520})
    assert small.inputs((1008, 1008))[0].height * small.inputs((1008, 1008))[0].width <= 1003520


def test_qwen3_vl_4b_by_hand():
    tower = load_vision(published("Qwen3-VL-4B-Instruct"))
    cost = tower.per_sample(image_size=(1024, 1024))  # multiple of 32: kept as it is
    p, h, f, out = 64 * 64, 1024, 4096, 2560
    assert cost.patches == p and cost.decoder_tokens == p // 4
    assert cost.forward["attention_core"] == 24 * 4 * p * p * h  # full attention in every layer
    assert cost.forward["mlp"] == 24 * 4 * p * h * f  # plain two-matrix MLP
    assert cost.forward["projector"] == 4 * 2 * (p // 4) * (4096 * 4096 + 4096 * out)  # merger + 3 deepstack
    assert cost.forward["patch_embedding"] == 2 * p * 3 * 2 * 16 * 16 * h


# --------------------------------------------------------------------------- Llama 4


def test_llama4_scout_tile_by_hand():
    """§5.3: a 336^2 tile -> 576 patches + class token = 577 tokens -> pixel shuffle to 144
    tokens; 1.02 TF per tile."""
    tower = load_vision(published("Llama-4-Scout-17B-16E"))
    cost = tower.per_sample(images=1, image_size=(336, 336))
    h, f, t = 1408, 5632, 577
    assert cost.patches == 576 and cost.decoder_tokens == 144 and cost.encoder_inputs == 1
    expected = (2 * 576 * 588 * h + 34 * (8 * t * h * h + 4 * t * h * f + 4 * t * t * h)
                + 2 * 144 * (5632 * 4096 + 4096 * 4096) + 2 * 144 * 4096 * 5120)
    assert cost.forward["total"] == expected
    assert round(expected / 10 ** 10) == 102


def test_llama4_scout_params_from_the_published_module_table():
    """Per-module parameter table of Llama-4-Scout-17B-16E (tests/data/vision/SOURCES.md)."""
    layer = 4 * 1982464 + 4 * 1408 + 7929856 + 5632 + 7929856 + 1408 + 4 * 1408
    vision = 1408 + 812416 + 827904 + 4 * 1408 + 34 * layer + 23068672 + 16777216
    assert load_vision(published("Llama-4-Scout-17B-16E")).params["total"] == vision + 20971520


@pytest.mark.parametrize("height,width,tiles", [
    (336, 336, 1),      # fits one tile: no global tile
    (200, 300, 1),      # upscale by 1.12 fits (1, 1); (2, 1) ties the scale with a larger area
    (672, 672, 5),      # scale 1 on (2, 2): 4 tiles + the global tile
    (1000, 3000, 13),   # no upscale fits 16 tiles: least downscale 0.672 on (2, 6): 12 + 1
])
def test_llama4_tiles_by_hand(height, width, tiles):
    tower = load_vision(published("Llama-4-Scout-17B-16E"))
    assert len(tower.inputs((height, width))) == tiles
    assert tower.per_sample(image_size=(height, width)).decoder_tokens == 144 * tiles


def test_llama4_max_patches_override():
    tower = load_vision(published("Llama-4-Scout-17B-16E"), processor={"max_patches": 4})
    # at most 4 tiles: (1, 3) and (1, 4) both scale by 0.336, the best of all; (1, 3) has less area
    assert image_rules.best_fit(1000, 3000, 336, 4) == (1, 3)
    assert len(tower.inputs((1000, 3000))) == 4


# --------------------------------------------------------------------------- Idefics3 / SmolVLM


def test_smolvlm_instruct_tile_is_81_tokens():
    """SmolVLM-Instruct: 384-px tiles, patch 14 -> 27 x 27 = 729 patches (a stride-14 conv
    keeps floor(384/14)), pixel shuffle 3 -> 81 tokens: the config's own image_seq_len."""
    raw = published("SmolVLM-Instruct")
    tower = load_vision(raw)
    cost = tower.per_sample(images=1, image_size=(384, 384), processed=True)  # one tile
    assert cost.patches == 729 and cost.decoder_tokens == raw["image_seq_len"] == 81


@pytest.mark.parametrize("height,width,tiles", [
    (384, 384, 17),    # longest edge to 1536: 1536 x 1536 -> 4 x 4 tiles + global
    (1000, 1500, 13),  # 1024 x 1536 -> ceil to 1152 x 1536: 3 x 4 + 1
    (100, 2000, 5),    # 76 x 1536 -> 384 x 1536: 1 x 4 + 1
])
def test_smolvlm_tiles_by_hand(height, width, tiles):
    assert len(load_vision(published("SmolVLM-Instruct")).inputs((height, width))) == tiles


# --------------------------------------------------------------------------- LLaVA


def test_llava_15_by_hand():
    """CLIP ViT-L/14-336: 576 patches + class token; vision_feature_layer -2: all 24 layers
    run forward (transformers keeps every hidden state), 23 get a gradient; the class token
    is dropped before the 2-layer MLP projector (576 decoder tokens)."""
    tower = load_vision(published("llava-1.5-7b-hf"))
    cost = tower.per_sample(images=1, image_size=(336, 336))
    h, f, t, text = 1024, 4096, 577, 4096
    layer = 8 * t * h * h + 4 * t * h * f + 4 * t * t * h
    assert cost.decoder_tokens == 576
    assert cost.forward["total"] == 2 * 576 * 588 * h + 24 * layer + 2 * 576 * (h * text + text * text)
    assert cost.backward["total"] == 2 * 576 * 588 * h + 23 * 2 * layer + 2 * 2 * 576 * (h * text + text * text)


def test_llava_15_params_by_hand():
    h, f, text = 1024, 4096, 4096
    clip = h + 3 * 14 * 14 * h + 577 * h + 2 * h + 24 * (4 * h * h + 4 * h + 2 * h * f + f + h + 4 * h) + 2 * h
    assert clip == 303507456  # CLIP ViT-L/14 at 336 px
    projector = h * text + text + text * text + text
    assert load_vision(published("llava-1.5-7b-hf")).params["total"] == clip + projector


# --------------------------------------------------------------------------- symbolic forms


@pytest.mark.parametrize("name,size", [("Qwen2.5-VL-7B-Instruct", (476, 644)), ("gemma-3-27b-it", (896, 896)),
                                       ("llava-1.5-7b-hf", (336, 336)), ("Qwen3-VL-4B-Instruct", (96, 160))])
def test_expressions_evaluate_to_the_counts(name, size):
    tower = load_vision(published(name))
    grid_h, grid_w = tower.library.symbol("grid_h"), tower.library.symbol("grid_w")
    (one,) = tower.inputs(size, processed=True)
    cost = tower.input_cost(one)
    for part, forms in tower.expressions().items():
        at = {grid_h: one.grid_h, grid_w: one.grid_w}
        assert forms["forward"].subs(at) == cost.forward[part]
        assert forms["backward"].subs(at) == cost.backward[part]
    assert tower.decoder_tokens_expression().subs({grid_h: one.grid_h, grid_w: one.grid_w}) == cost.decoder_tokens


def test_flash_kernel_changes_only_the_attention_backward():
    tower = load_vision(published("gemma-3-27b-it"))
    eager, flash = tower.per_sample(kernel="eager"), tower.per_sample(kernel="flash")
    assert eager.forward == flash.forward
    assert flash.backward["attention_core"] * 4 == eager.backward["attention_core"] * 5
    assert all(eager.backward[k] == flash.backward[k] for k in eager.backward if k not in ("attention_core", "total"))


def test_counts_are_exact_integers():
    cost = load_vision(published("Qwen2.5-VL-7B-Instruct")).per_sample(images=2, image_size=(333, 777))
    assert all(isinstance(v, sympy.Integer) for v in (*cost.forward.values(), *cost.backward.values()))
    assert cost.as_dict()["forward"]["total"] == int(cost.forward["total"])


def test_zero_images_cost_nothing():
    cost = load_vision(published("gemma-3-27b-it")).per_sample(images=0)
    assert cost.forward["total"] == 0 and cost.decoder_tokens == 0 and cost.patches == 0


def test_decoders_of_the_composites_load():
    from mfu_sym import hf
    arch = hf.from_config(decoder_config(published("gemma-3-27b-it")), "gemma-3-27b-it")
    assert arch is not None
    assert decoder_config(published("gemma-3-27b-it"))["model_type"] == "gemma3_text"
    assert decoder_config(published("llava-1.5-7b-hf"))["model_type"] == "llama"
    assert decoder_config(published("Llama-4-Scout-17B-16E"))["model_type"] == "llama4"


def test_families():
    assert set(families()) == {"gemma3", "llama4", "qwen2_5_vl", "qwen3_vl", "idefics3", "smolvlm", "llava"}


def test_unknown_vision_key_is_a_note():
    raw = published("gemma-3-27b-it")
    raw["vision_config"] = {**raw["vision_config"], "some_new_key": 1}
    assert any("some_new_key" in note for note in load_vision(raw).notes)


# --------------------------------------------------------------------------- errors


def _with(name, outer=None, vision=None):
    raw = published(name)
    raw.update(outer or {})
    if vision is not None:
        raw["vision_config"] = {**raw["vision_config"], **vision}
    return raw


@pytest.mark.parametrize("raw,field", [
    ({"model_type": "llama"}, "model_type"),
    ({"model_type": 3}, "model_type"),
    ({"model_type": "gemma3", "vision_config": [1]}, "vision_config"),
    ({"model_type": "gemma3", "text_config": "x"}, "text_config"),
    (_with("gemma-3-27b-it", vision={"vision_use_head": True}), "vision_config.vision_use_head"),
    (_with("gemma-3-27b-it", {"mm_tokens_per_image": 200}), "mm_tokens_per_image"),
    (_with("gemma-3-27b-it", {"mm_tokens_per_image": 9}), "mm_tokens_per_image"),
    (_with("gemma-3-27b-it", vision={"hidden_size": "big"}), "vision_config.hidden_size"),
    (_with("gemma-3-27b-it", vision={"hidden_size": 0}), "vision_config.hidden_size"),
    (_with("gemma-3-27b-it", vision={"num_attention_heads": 5}), "vision_config.num_attention_heads"),
    (_with("gemma-3-27b-it", vision={"patch_size": 1000}), "vision_config.patch_size"),
    (_with("gemma-3-27b-it", {"text_config": {"hidden_size": -1}}), "text_config.hidden_size"),
    (_with("Llama-4-Scout-17B-16E", vision={"intermediate_size": 4096}), "vision_config.intermediate_size"),
    (_with("Llama-4-Scout-17B-16E", vision={"pixel_shuffle_ratio": 0.7}), "vision_config.pixel_shuffle_ratio"),
    (_with("Llama-4-Scout-17B-16E", vision={"projector_output_dim": 2048}), "vision_config.projector_output_dim"),
    (_with("Llama-4-Scout-17B-16E", vision={"image_size": 350}), "vision_config.pixel_shuffle_ratio"),
    (_with("Qwen2.5-VL-7B-Instruct", vision={"fullatt_block_indexes": [7, 32]}),
     "vision_config.fullatt_block_indexes"),
    (_with("Qwen2.5-VL-7B-Instruct", vision={"fullatt_block_indexes": "all"}), "vision_config.fullatt_block_indexes"),
    (_with("Qwen2.5-VL-7B-Instruct", vision={"window_size": 100}), "vision_config.window_size"),
    (_with("Qwen3-VL-4B-Instruct", vision={"deepstack_visual_indexes": [-1]}),
     "vision_config.deepstack_visual_indexes"),
    (_with("SmolVLM-Instruct", {"scale_factor": 4}), "scale_factor"),
    (_with("llava-1.5-7b-hf", {"vision_feature_layer": 30}), "vision_feature_layer"),
    (_with("llava-1.5-7b-hf", {"vision_feature_select_strategy": "cls"}), "vision_feature_select_strategy"),
    (_with("llava-1.5-7b-hf", {"multimodal_projector_bias": "yes"}), "multimodal_projector_bias"),
])
def test_config_errors(raw, field):
    with pytest.raises(ConfigError) as err:
        load_vision(raw)
    assert err.value.field == field


def test_processor_override_errors():
    with pytest.raises(ConfigError) as err:
        load_vision(published("gemma-3-27b-it"), processor={"max_pixels": 5})
    assert err.value.field == "processor.max_pixels"
    tower = load_vision(published("Qwen2.5-VL-7B-Instruct"), processor={"min_pixels": 0})
    with pytest.raises(ConfigError):
        tower.inputs((100, 100))
    tower = load_vision(published("SmolVLM-Instruct"), processor={"tiles_per_side": True})
    with pytest.raises(ConfigError):
        tower.inputs((100, 100))


@pytest.mark.parametrize("call", [
    lambda t: t.per_sample(images=1, image_size=(0, 10)),
    lambda t: t.per_sample(images=1, image_size=(-5, 10)),
    lambda t: t.per_sample(images=1, image_size="12 by 5"),
    lambda t: t.per_sample(images=1, image_size=(1.5, 10)),
    lambda t: t.per_sample(images=1, image_size=(10, 10, 3)),
    lambda t: t.per_sample(images=-1),
    lambda t: t.per_sample(images=True),
    lambda t: t.per_sample(images=1, image_size=(10, 10), image_sizes=[(10, 10)]),
    lambda t: t.per_sample(kernel="triton"),
    lambda t: t.per_sample(image_size=(895, 896), processed=True),
])
def test_usage_errors_fixed_size(call):
    with pytest.raises(UsageError):
        call(load_vision(published("gemma-3-27b-it")))


@pytest.mark.parametrize("call", [
    lambda t: t.per_sample(images=1),  # dynamic resolution: a size is required
    lambda t: t.per_sample(image_size=(100, 30000)),  # aspect ratio over 200
    lambda t: t.per_sample(image_size=(476, 650), processed=True),  # not multiples of 28
])
def test_usage_errors_dynamic(call):
    with pytest.raises(UsageError):
        call(load_vision(published("Qwen2.5-VL-7B-Instruct")))


def test_missing_file_and_bad_json(tmp_path):
    with pytest.raises(ConfigError):
        load_vision(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError):
        load_vision(bad)
    with pytest.raises(ConfigError):
        decoder_config({"model_type": "mistral"})
    with pytest.raises(ConfigError):
        decoder_config({"model_type": "llava", "text_config": 5})


def test_formula_file_errors(tmp_path):
    """A vision formula with a float or an undeclared name is refused at load."""
    (tmp_path / "vision.yaml").write_text(
        (Path(__file__).resolve().parents[1] / "formulas" / "vision.yaml").read_text()
        .replace("forward: 8 * n_tokens * d_vision**2", "forward: 8.5 * n_tokens * d_vision**2"))
    with pytest.raises(FormulaError):
        vision_library.load([tmp_path])
    (tmp_path / "vision.yaml").write_text(
        (Path(__file__).resolve().parents[1] / "formulas" / "vision.yaml").read_text()
        .replace("forward: 8 * n_tokens * d_vision**2", "forward: 8 * n_tokens * d_model**2"))
    with pytest.raises(FormulaError):
        vision_library.load([tmp_path])


def test_frozen_encoder_by_hand():
    """Only the projector trains: no encoder backward. LLaVA's linear_1 reads frozen CLIP
    states (weight gradient only); Gemma 3's matmul follows a trainable RMSNorm (both
    gradients)."""
    llava = load_vision(published("llava-1.5-7b-hf")).per_sample(image_size=(336, 336), train_encoder=False)
    h, text = 1024, 4096
    assert llava.backward["total"] == llava.backward["projector"] == 2 * 576 * h * text + 2 * 2 * 576 * text * text
    assert llava.forward == load_vision(published("llava-1.5-7b-hf")).per_sample(image_size=(336, 336)).forward
    gemma = load_vision(published("gemma-3-27b-it")).per_sample(train_encoder=False)
    assert gemma.backward["total"] == 2 * gemma.forward["projector"]
    assert gemma.as_dict()["train_encoder"] is False
    with pytest.raises(UsageError):
        load_vision(published("gemma-3-27b-it")).per_sample(train_encoder="no")
