"""--images on derive and mfu: a vision-language sample's encoder FLOPs billed per sample,
beside the decoder's (frontier-architectures.md §5.3, §6)."""

import pytest

import mfu_sym

from cli_helpers import assert_one_error_line, run, run_json

SCOUT = "tests/data/vision/Llama-4-Scout-17B-16E.json"
# one 336² tile of Llama 4 Scout, forward (frontier-architectures.md §5.3, derived by hand):
PATCH = 2 * 576 * 588 * 1408
TILE = (PATCH + 34 * (8 * 577 * 1408**2 + 4 * 577 * 1408 * 5632 + 4 * 577**2 * 1408)
        + 2 * 144 * (5632 * 4096 + 4096 * 4096) + 2 * 144 * 4096 * 5120)


def test_one_native_tile_is_the_published_derivation():
    out = run_json("derive", SCOUT, "--seq-len", 2048, "--images", 1)
    vision = out["vision"]
    assert vision["encoder"]["forward"] == TILE          # ≈ 1.02 TFLOP
    assert vision["encoder"]["training"] == 3 * TILE - PATCH  # the pixels need no gradient
    assert (vision["encoder_inputs"], vision["image_tokens"], vision["text_tokens"]) == (1, 144, 2048 - 144)


def test_a_tiled_image_is_its_tiles_plus_the_global_one():
    out = run_json("derive", SCOUT, "--seq-len", 4096, "--images", 1, "--image-size", "672x1008")
    assert out["vision"]["encoder_inputs"] == 7 and out["vision"]["encoder"]["forward"] == 7 * TILE
    assert out["vision"]["image_tokens"] == 7 * 144


def test_sample_is_decoder_plus_encoder_per_sample():
    out = run_json("derive", SCOUT, "--seq-len", 4096, "--batch", 3, "--images", 2)
    v = out["vision"]
    decoder = mfu_sym.load(SCOUT).report(seq_len=4096, batch=1)["flops"]
    assert v["decoder"]["training"] == decoder["training"] == out["flops"]["training"] // 3
    assert v["sample"]["training"] == decoder["training"] + 2 * (3 * TILE - PATCH)
    assert "never billed per decoder token" in v["billing"]


def test_frozen_encoder_runs_forward_only():
    v = run_json("derive", SCOUT, "--seq-len", 2048, "--images", 1, "--freeze-vision")["vision"]
    assert v["frozen_encoder"] and v["encoder"]["forward"] == TILE
    assert v["encoder"]["backward"] < v["encoder"]["forward"]  # the projector's weight gradients only


def test_mfu_is_billed_per_sample():
    out = run_json("mfu", SCOUT, "--hardware", "h100", "--gpus", 8, "--seq-len", 4096, "--step-time", 2,
                   "--batch", 8, "--images", 1, "--image-size", "672x1008")
    sample = out["run"]["vision"]["flops_per_sample"]["total"]
    decoder = mfu_sym.load(SCOUT).report(seq_len=4096, batch=1)["flops"]["training"]
    assert sample == decoder + 7 * (3 * TILE - PATCH)
    assert out["mfu"] == pytest.approx(8 * sample / 2 / (8 * 989e12), rel=1e-12)
    by_rate = run_json("mfu", SCOUT, "--hardware", "h100", "--gpus", 8, "--seq-len", 4096,
                       "--tokens-per-sec", 8 * 4096 / 2, "--images", 1, "--image-size", "672x1008")
    assert by_rate["mfu"] == pytest.approx(out["mfu"], rel=1e-12)


@pytest.mark.parametrize("args, message", [
    (("--seq-len", 100, "--images", 1), "more than the sequence length 100"),
    (("--seq-len", 2048, "--images", 1, "--image-size", "0x5"), "image"),
    (("--seq-len", 2048, "--images", 1, "--preset", "6n"), "counts 2 FLOPs per decoder parameter"),
    (("--seq-len", 2048, "--images", 1, "--nonmatmul"), "give --matmul-only"),
])
def test_image_errors(args, message):
    result = run("derive", SCOUT, *args)
    assert result.exit_code == 1 and message in result.output.splitlines()[-1] and "Traceback" not in result.output


def test_a_text_model_has_no_vision_tower():
    result = run("derive", "examples/llama3_8b.yaml", "--seq-len", 2048, "--images", 1)
    assert_one_error_line(result, "images", "multimodal config.json")
    result = run("derive", "examples/hf/llama3_8b/config.json", "--seq-len", 2048, "--images", 1)
    assert result.exit_code == 1 and "has no vision tower" in result.output


@pytest.mark.parametrize("args, message", [
    (("--image-size", "336x336"), "apply only with --images"),
    (("--images", 1, "--documents", "1024x2"), "not modelled"),
    (("--images", 1, "--format", "latex"), "applies to the text and JSON output"),
])
def test_image_usage(args, message):
    result = run("derive", SCOUT, "--seq-len", 2048, *args)
    assert result.exit_code == 2 and message in result.output


def test_text_output_shows_both_parts():
    result = run("derive", SCOUT, "--seq-len", 2048, "--images", 1)
    assert result.exit_code == 0, result.output
    assert "Images: 1 a sample of 336x336" in result.output and "with the images" in result.output


@pytest.mark.parametrize("config, args, encoder_tf, image_tokens", [
    # frontier-architectures.md §6.1: Gemma 3 SigLIP at 896² 5.46 TF a image, 256 tokens;
    # Qwen2.5-VL-7B at 1008², 7.26 TF exact, 1296 tokens
    ("gemma-3-27b-it", ("--images", 2), 2 * 5.46, 512),
    ("Qwen2.5-VL-7B-Instruct", ("--images", 1, "--image-size", "1008x1008"), 7.26, 1296),
])
def test_published_vlms_print_encoder_and_decoder_per_sample(config, args, encoder_tf, image_tokens):
    from mfu_sym.vision import load_vision
    path = f"tests/data/vision/{config}.json"
    out = run_json("derive", path, "--seq-len", 4096, *args)
    v = out["vision"]
    assert v["image_tokens"] == image_tokens and v["encoder"]["forward"] / 1e12 == pytest.approx(encoder_tf, rel=1e-3)
    size = args[3] if len(args) > 2 else None
    cost = load_vision(path).per_sample(images=args[1], image_size=size)
    assert v["encoder"]["training"] == cost.training
    assert v["decoder"]["training"] == mfu_sym.load(path).report(seq_len=4096, batch=1)["flops"]["training"]
    assert v["sample"]["training"] == v["encoder"]["training"] + v["decoder"]["training"]
    text = run("derive", path, "--seq-len", 4096, *args).output
    assert "vision encoder" in text and "decoder" in text and "billed per sample" in text


def test_no_images_is_the_decoder_alone():
    out = run_json("derive", "tests/data/vision/Qwen2.5-VL-7B-Instruct.json", "--seq-len", 1024, "--images", 0)
    assert out["vision"]["encoder"]["training"] == 0 and out["vision"]["image_tokens"] == 0
    assert out["vision"]["sample"]["training"] == out["flops"]["training"]


def test_a_snapshot_directory_has_its_vision_tower(tmp_path):
    import shutil
    shutil.copy(SCOUT, tmp_path / "config.json")
    assert run_json("derive", tmp_path, "--seq-len", 2048, "--images", 1)["vision"]["encoder"]["forward"] == TILE


def test_settings_for_no_images_are_refused():
    result = run("derive", SCOUT, "--seq-len", 2048, "--images", 0, "--image-size", "336x336")
    assert result.exit_code == 2 and "need at least one image" in result.output
