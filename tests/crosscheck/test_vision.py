"""Vision towers against transformers, exactly: small random VLMs of every family, real
small images, the tower + projector run under the project's FlopCounterMode (forward and
backward), per component, at several image sizes; parameter counts against
sum(p.numel()); the image-processor rules against transformers' own processors.

Goldens come from transformers only; the engine's numbers are never copied into a test.
"""

import pytest
import torch
import transformers
from torch import nn

from mfu_sym.tracing.counter import NodeTagger, counted, snapshot, split_counts, subtract
from mfu_sym.vision import load_vision
from mfu_sym.vision import images as image_rules

TINY_TEXT = {"hidden_size": 40, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
             "num_key_value_heads": 1, "vocab_size": 128, "head_dim": 20}
PROJECTOR_WORDS = ("multi_modal_projector", "merger", "deepstack_merger_list", "connector", "vision_adapter")


# --------------------------------------------------------------------------- harness


def _component(path, module):
    """The engine's component of a leaf matmul module (Linear / Conv) at `path`."""
    if any(word in path for word in PROJECTOR_WORDS):
        return "projector"
    if "patch_embed" in path:
        return "patch_embedding"
    if ".self_attn." in path or ".attn." in path:
        return "attention_projections"
    if ".mlp." in path:
        return "mlp"
    raise AssertionError(f"unclassified matmul module {path} ({type(module).__name__})")


def _components(model, by_module):
    """component -> FLOPs from per-module totals: the projector modules whole; leaf
    Linear/Conv modules by name; the attention core = each attention module's total minus
    its linear children."""
    modules = dict(model.named_modules())
    out = dict.fromkeys(("patch_embedding", "attention_projections", "attention_core", "mlp", "projector"), 0)

    def in_projector(path):
        return any(word in path for word in PROJECTOR_WORDS)

    for path, flops in by_module.items():
        module = modules.get(path)
        if module is None:
            continue
        ancestors = [path.rsplit(".", k)[0] for k in range(1, path.count(".") + 1)]
        if in_projector(path):
            if not any(in_projector(a) and a in by_module for a in ancestors):
                out["projector"] += flops  # the outermost projector module that ran
        elif isinstance(module, (nn.Linear, nn.Conv2d, nn.Conv3d)):
            out[_component(path, module)] += flops
        elif type(module).__name__.endswith("Attention"):
            children = sum(by_module.get(f"{path}.{name}", 0) for name, child in module.named_children()
                           if isinstance(child, nn.Linear))
            out["attention_core"] += flops - children
    return out


class _Runner(nn.Module):
    def __init__(self, model, run):
        super().__init__()
        self.model, self.run = model, run

    def forward(self):
        return self.run()


def measure(model, run, frozen=False):
    """(forward, backward, forward by component, backward by component) of `run()`, whose
    outputs are summed for the backward (every output reaches the loss). `frozen`: only
    the projector's parameters train."""
    if frozen:
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(any(word in name for word in PROJECTOR_WORDS))
    runner = _Runner(model, run)  # FlopCounterMode names modules from the first one called
    with torch.enable_grad():
        with counted("vision tower") as (counter, recorder):
            with NodeTagger(model):
                outputs = runner()
            forward_counts = snapshot(counter)
            recorder.attribute_backward = True
            sum(o.float().sum() for o in outputs).backward()
            recorder.attribute_backward = False
            all_counts = snapshot(counter)
    forward, forward_modules, _ = split_counts(forward_counts, "_Runner.model")
    backward, _, _ = split_counts(subtract(all_counts, forward_counts), "_Runner.model")
    backward_modules = {k: v for k, v in recorder.backward_by_module.items() if v}
    assert backward_modules.get("", 0) == backward
    fwd_parts, bwd_parts = _components(model, forward_modules), _components(model, backward_modules)
    assert sum(fwd_parts.values()) == forward, (fwd_parts, forward)  # every FLOP classified
    assert sum(bwd_parts.values()) == backward, (bwd_parts, backward)
    return int(forward), int(backward), fwd_parts, bwd_parts


def params(*modules):
    return sum(p.numel() for m in modules for p in m.parameters())


def check(tower, cost, measured):
    forward, backward, fwd_parts, bwd_parts = measured
    assert int(cost.forward["total"]) == forward
    assert int(cost.backward["total"]) == backward
    for name, value in fwd_parts.items():
        assert int(cost.forward[name]) == value, (name, "forward")
        assert int(cost.backward[name]) == bwd_parts[name], (name, "backward")


def build(model_class, config, attn="eager"):
    torch.manual_seed(0)
    config._attn_implementation = attn
    for sub in ("vision_config", "text_config"):
        if getattr(config, sub, None) is not None:
            getattr(config, sub)._attn_implementation = attn
    return model_class(config).eval()


def pixels(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(1))


# --------------------------------------------------------------------------- Gemma 3


def gemma3_config(image=56, tokens=4, layers=2):
    return {"model_type": "gemma3", "mm_tokens_per_image": tokens,
            "text_config": {**TINY_TEXT, "model_type": "gemma3_text"},
            "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 48,
                              "num_hidden_layers": layers, "num_attention_heads": 4, "image_size": image,
                              "patch_size": 14, "vision_use_head": False}}


@pytest.mark.parametrize("image,tokens,n_images", [(56, 4, 1), (56, 16, 2), (28, 1, 3), (60, 4, 1)])
def test_gemma3(image, tokens, n_images):
    raw = gemma3_config(image, tokens)
    model = build(transformers.Gemma3Model, transformers.Gemma3Config(**_without_type(raw)))
    tower = load_vision(raw)
    assert tower.params["total"] == params(model.vision_tower, model.multi_modal_projector)
    x = pixels(n_images, 3, image, image)
    measured = measure(model, lambda: [model.get_image_features(pixel_values=x).pooler_output])
    cost = tower.per_sample(images=n_images, image_size=(image, image), processed=True)
    check(tower, cost, measured)
    assert cost.decoder_tokens == n_images * tokens
    assert cost.patches == n_images * (image // 14) ** 2


# --------------------------------------------------------------------------- Llama 4


def llama4_config(image=56):
    return {"model_type": "llama4",
            "text_config": {**TINY_TEXT, "model_type": "llama4_text", "intermediate_size_mlp": 64,
                            "num_local_experts": 2, "num_experts_per_tok": 1},
            "vision_config": {"hidden_size": 32, "intermediate_size": 128, "num_hidden_layers": 2,
                              "num_attention_heads": 4, "image_size": image, "patch_size": 14,
                              "pixel_shuffle_ratio": 0.5, "projector_input_dim": 24, "projector_output_dim": 24,
                              "vision_output_dim": 24}}


@pytest.mark.parametrize("image,n_tiles", [(56, 1), (28, 3)])
def test_llama4(image, n_tiles):
    raw = llama4_config(image)
    model = build(transformers.Llama4ForConditionalGeneration, transformers.Llama4Config(**_without_type(raw)))
    tower = load_vision(raw)
    assert tower.params["total"] == params(model.vision_model, model.multi_modal_projector)
    x = pixels(n_tiles, 3, image, image)

    def run():
        features = model.vision_model(x).last_hidden_state
        return [model.multi_modal_projector(features.view(-1, features.size(-1)))]
    cost = tower.per_sample(images=n_tiles, image_size=(image, image), processed=True)
    check(tower, cost, measure(model, run))
    assert cost.decoder_tokens == n_tiles * ((image // 14) // 2) ** 2


# --------------------------------------------------------------------------- Qwen2.5-VL / Qwen3-VL


def qwen2_5_config(window=56, full=(1,)):
    return {"model_type": "qwen2_5_vl",
            "text_config": {**TINY_TEXT, "model_type": "qwen2_5_vl_text",
                            "rope_parameters": {"rope_type": "default", "mrope_section": [2, 4, 4],
                                                "rope_theta": 10000.0}},
            "vision_config": {"depth": 3, "hidden_size": 32, "intermediate_size": 40, "num_heads": 4,
                              "out_hidden_size": 40, "patch_size": 14, "spatial_merge_size": 2,
                              "temporal_patch_size": 2, "window_size": window, "fullatt_block_indexes": list(full)}}


def qwen3_config(deepstack=(0, 1)):
    return {"model_type": "qwen3_vl",
            "text_config": {**TINY_TEXT, "model_type": "qwen3_vl_text",
                            "rope_parameters": {"rope_type": "default", "mrope_section": [2, 4, 4],
                                                "rope_theta": 10000.0}},
            "vision_config": {"depth": 3, "hidden_size": 32, "intermediate_size": 40, "num_heads": 4,
                              "out_hidden_size": 40, "patch_size": 16, "spatial_merge_size": 2,
                              "temporal_patch_size": 2, "num_position_embeddings": 16,
                              "deepstack_visual_indexes": list(deepstack)}}


def _qwen_run(model, tower, sizes):
    """Inputs of `sizes` (already multiples of patch x merge) as the processor lays them out."""
    cfg = tower.config
    grids = [(1, h // cfg.patch_size, w // cfg.patch_size) for h, w in sizes]
    rows = sum(t * gh * gw for t, gh, gw in grids)
    x = pixels(rows, cfg.in_channels * cfg.temporal_patch * cfg.patch_size ** 2)
    grid_thw = torch.tensor(grids)

    def run():
        out = model.get_image_features(pixel_values=x, image_grid_thw=grid_thw)
        return list(out.pooler_output) + [f for feats in getattr(out, "deepstack_features", None) or []
                                          for f in feats]
    return run


# windows of 56 px = 2x2 merged units: 112 x 168 leaves a remainder column, 140 x 84 a
# remainder row and column, 196 x 196 remainders both ways
@pytest.mark.parametrize("sizes", [[(112, 112)], [(112, 168)], [(140, 84), (196, 196)], [(28, 252)]])
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_qwen2_5_vl(sizes, attn):
    raw = qwen2_5_config()
    model = build(transformers.Qwen2_5_VLModel, transformers.Qwen2_5_VLConfig(**_without_type(raw)), attn)
    tower = load_vision(raw)
    assert tower.params["total"] == params(model.visual)
    kernel = "eager" if attn == "eager" else "flash"
    cost = tower.per_sample(image_sizes=sizes, processed=True, kernel=kernel)
    check(tower, cost, measure(model, _qwen_run(model, tower, sizes)))
    assert cost.decoder_tokens == sum(h * w // (28 * 28) for h, w in sizes)


@pytest.mark.parametrize("sizes", [[(64, 64)], [(96, 160)], [(32, 224), (128, 64)]])
def test_qwen3_vl(sizes):
    raw = qwen3_config()
    model = build(transformers.Qwen3VLModel, transformers.Qwen3VLConfig(**_without_type(raw)))
    tower = load_vision(raw)
    assert tower.params["total"] == params(model.visual)
    cost = tower.per_sample(image_sizes=sizes, processed=True)
    check(tower, cost, measure(model, _qwen_run(model, tower, sizes)))


# --------------------------------------------------------------------------- Idefics3 / SmolVLM


def idefics3_config(model_type="idefics3", image=56, scale=2):
    return {"model_type": model_type, "scale_factor": scale,
            "text_config": {**TINY_TEXT, "model_type": "llama"},
            "vision_config": {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
                              "num_attention_heads": 4, "image_size": image, "patch_size": 14}}


@pytest.mark.parametrize("model_type,model_class,config_class", [
    ("idefics3", "Idefics3Model", "Idefics3Config"), ("smolvlm", "SmolVLMModel", "SmolVLMConfig")])
@pytest.mark.parametrize("image,scale,n_tiles", [(56, 2, 1), (84, 3, 2), (60, 2, 2)])
def test_idefics3_smolvlm(model_type, model_class, config_class, image, scale, n_tiles):
    raw = idefics3_config(model_type, image, scale)
    model = build(getattr(transformers, model_class), getattr(transformers, config_class)(**_without_type(raw)))
    tower = load_vision(raw)
    assert tower.params["total"] == params(model.vision_model, model.connector)
    x = pixels(1, n_tiles, 3, image, image)
    cost = tower.per_sample(images=n_tiles, image_size=(image, image), processed=True)
    check(tower, cost, measure(model, lambda: list(model.get_image_features(pixel_values=x).pooler_output)))
    assert cost.decoder_tokens == n_tiles * ((image // 14) // scale) ** 2


# --------------------------------------------------------------------------- LLaVA (CLIP)


def llava_config(feature_layer=-2, strategy="default", bias=True, layers=3):
    return {"model_type": "llava", "vision_feature_layer": feature_layer,
            "vision_feature_select_strategy": strategy, "multimodal_projector_bias": bias,
            "text_config": {**TINY_TEXT, "model_type": "llama"},
            "vision_config": {"model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 48,
                              "num_hidden_layers": layers, "num_attention_heads": 4, "image_size": 56,
                              "patch_size": 14}}


@pytest.mark.parametrize("feature_layer,strategy,bias", [(-2, "default", True), (-1, "full", False),
                                                         ([-3, -2], "default", True), (1, "full", True)])
def test_llava(feature_layer, strategy, bias):
    raw = llava_config(feature_layer, strategy, bias)
    model = build(transformers.LlavaModel, transformers.LlavaConfig(**_without_type(raw)))
    tower = load_vision(raw)
    assert tower.params["total"] == params(model.vision_tower, model.multi_modal_projector)
    x = pixels(2, 3, 56, 56)
    run = lambda: list(model.get_image_features(  # noqa: E731
        pixel_values=x, vision_feature_layer=feature_layer, vision_feature_select_strategy=strategy).pooler_output)
    cost = tower.per_sample(images=2, image_size=(56, 56), processed=True)
    check(tower, cost, measure(model, run))


def test_llava_default_vision_config_is_llava_15():
    """No vision_config: LlavaConfig's own CLIP ViT-L/14-336 defaults, not CLIPVisionConfig's."""
    raw = {"model_type": "llava", "text_config": {**TINY_TEXT, "model_type": "llama"}}
    with torch.device("meta"):
        model = transformers.LlavaModel(transformers.LlavaConfig(**_without_type(raw)))
    assert load_vision(raw).params["total"] == params(model.vision_tower, model.multi_modal_projector)


# --------------------------------------------------------------------------- processors


@pytest.mark.parametrize("height,width", [(1008, 1008), (480, 640), (1080, 1920), (37, 500), (4000, 3000),
                                          (100, 100), (28, 5000)])
def test_smart_resize_matches_transformers(height, width):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize
    for factor, low, high in [(28, 3136, 12845056), (28, 3136, 1003520), (32, 65536, 16777216)]:
        assert image_rules.smart_resize(height, width, factor, low, high, 200) == \
            smart_resize(height, width, factor, low, high)


def test_smart_resize_refuses_what_transformers_refuses():
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize
    with pytest.raises(ValueError):
        smart_resize(10, 2010, 28, 3136, 12845056)
    with pytest.raises(ValueError):  # UsageError is a ValueError
        image_rules.smart_resize(10, 2010, 28, 3136, 12845056, 200)


# Llama 4's image processor needs torchvision, which the project does not install: its
# tiling rule is checked by hand in tests/test_vision.py (test_llama4_*).


@pytest.mark.parametrize("model_type", ["idefics3", "smolvlm"])
@pytest.mark.parametrize("height,width", [(56, 56), (60, 200), (200, 60), (111, 113), (30, 31), (500, 90)])
def test_idefics3_processor_tiles(model_type, height, width):
    """Tiles the real processor makes, with the tower's 56-pixel tiles and 4 tiles a side."""
    # the PIL processors: the torchvision ones need torchvision, which the project does not install
    cls = transformers.Idefics3ImageProcessorPil if model_type == "idefics3" else transformers.SmolVLMImageProcessorPil
    processor = cls(size={"longest_edge": 4 * 56}, max_image_size={"longest_edge": 56})
    image = (torch.rand(height, width, 3) * 255).to(torch.uint8).numpy()
    out = processor(images=[[image]], return_tensors="pt")
    made = out["pixel_values"].shape[1]
    tower = load_vision(idefics3_config(model_type, 56))
    inputs = tower.inputs((height, width))
    assert len(inputs) == made
    assert all((i.height, i.width) == tuple(out["pixel_values"].shape[-2:]) for i in inputs)


# --------------------------------------------------------------------------- published configs


@pytest.mark.parametrize("name,model_class", [
    ("gemma-3-27b-it", "Gemma3Model"), ("Qwen2.5-VL-7B-Instruct", "Qwen2_5_VLModel"),
    ("Llama-4-Scout-17B-16E", "Llama4ForConditionalGeneration"), ("SmolVLM-Instruct", "Idefics3Model"),
    ("llava-1.5-7b-hf", "LlavaModel"), ("Qwen3-VL-4B-Instruct", "Qwen3VLModel")])
def test_published_params(name, model_class):
    """Parameters of the published towers, built at full size on the meta device."""
    from pathlib import Path
    import json
    raw = json.loads((Path(__file__).resolve().parents[1] / "data" / "vision" / f"{name}.json").read_text())
    built = dict(raw)  # the projector needs only the text width: a one-layer decoder of that width
    if "text_config" in raw:
        text = raw["text_config"]
        built["text_config"] = {k: text[k] for k in ("model_type", "hidden_size", "head_dim") if k in text}
        built["text_config"]["num_hidden_layers"] = 1
    else:
        built["num_hidden_layers"] = 1
    config = transformers.AutoConfig.for_model(**built)
    with torch.device("meta"):
        model = getattr(transformers, model_class)(config)
    parts = [getattr(model, n) for n in ("vision_tower", "vision_model", "visual", "multi_modal_projector",
                                         "connector") if hasattr(model, n)]
    assert load_vision(raw).params["total"] == params(*parts)


def _without_type(raw):
    return {k: v for k, v in raw.items() if k != "model_type"}



# --------------------------------------------------------------------------- frozen encoder


def _frozen_cases():
    yield "gemma3", lambda: (gemma3_config(), transformers.Gemma3Model, transformers.Gemma3Config)
    yield "llama4", lambda: (llama4_config(), transformers.Llama4ForConditionalGeneration,
                             transformers.Llama4Config)
    yield "qwen2_5_vl", lambda: (qwen2_5_config(), transformers.Qwen2_5_VLModel, transformers.Qwen2_5_VLConfig)
    yield "qwen3_vl", lambda: (qwen3_config(), transformers.Qwen3VLModel, transformers.Qwen3VLConfig)
    yield "idefics3", lambda: (idefics3_config(), transformers.Idefics3Model, transformers.Idefics3Config)
    yield "llava", lambda: (llava_config(), transformers.LlavaModel, transformers.LlavaConfig)


@pytest.mark.parametrize("family,make", list(_frozen_cases()), ids=[c[0] for c in _frozen_cases()])
def test_frozen_encoder(family, make):
    """Only the projector trains (MaxText's freeze_vision_encoder_params): no backward in
    the encoder; the projector's first matmul computes its input gradient only where a
    trainable norm sits before it."""
    raw, model_class, config_class = make()
    model = build(model_class, config_class(**_without_type(raw)))
    tower = load_vision(raw)
    if family in ("qwen2_5_vl", "qwen3_vl"):
        sizes = [(112, 168)] if family == "qwen2_5_vl" else [(96, 160)]
        run = _qwen_run(model, tower, sizes)
        cost = tower.per_sample(image_sizes=sizes, processed=True, train_encoder=False)
    else:
        side = tower.config.image_size
        shape = (1, 2, 3, side, side) if family == "idefics3" else (2, 3, side, side)
        x = pixels(*shape)
        runs = {
            "gemma3": lambda: [model.get_image_features(pixel_values=x).pooler_output],
            "llama4": lambda: [model.multi_modal_projector(model.vision_model(x).last_hidden_state.flatten(0, 1))],
            "idefics3": lambda: list(model.get_image_features(pixel_values=x).pooler_output),
            "llava": lambda: list(model.get_image_features(pixel_values=x, vision_feature_layer=-2,
                                                           vision_feature_select_strategy="default").pooler_output),
        }
        run = runs[family]
        cost = tower.per_sample(images=2, image_size=(side, side), processed=True, train_encoder=False)
    check(tower, cost, measure(model, run, frozen=True))


@pytest.mark.parametrize("height,width", [(480, 640), (1008, 1008), (37, 500), (2000, 3000), (64, 64), (333, 777)])
def test_processors_make_the_inputs_the_tower_counts(height, width):
    """The real (PIL) image processors, configured as the published checkpoints, make the
    grids and pixel sizes the tower's rules predict."""
    import json
    from pathlib import Path
    data = Path(__file__).resolve().parents[1] / "data" / "vision"
    image = (torch.rand(height, width, 3) * 255).to(torch.uint8).numpy()
    qwen_processors = {
        "Qwen2.5-VL-7B-Instruct": transformers.Qwen2VLImageProcessorPil(
            size={"shortest_edge": 3136, "longest_edge": 12845056}, patch_size=14, merge_size=2, temporal_patch_size=2),
        "Qwen3-VL-4B-Instruct": transformers.Qwen2VLImageProcessorPil(
            size={"shortest_edge": 65536, "longest_edge": 16777216}, patch_size=16, merge_size=2,
            temporal_patch_size=2),
    }
    for name, processor in qwen_processors.items():
        grid = processor(images=[image], return_tensors="pt")["image_grid_thw"].tolist()
        (one,) = load_vision(json.loads((data / f"{name}.json").read_text())).inputs((height, width))
        assert grid == [[1, one.grid_h, one.grid_w]]
    squares = {"gemma-3-27b-it": transformers.Gemma3ImageProcessorPil(size={"height": 896, "width": 896}),
               "llava-1.5-7b-hf": transformers.CLIPImageProcessorPil(size={"shortest_edge": 336},
                                                                     crop_size={"height": 336, "width": 336})}
    for name, processor in squares.items():
        shape = processor(images=[image], return_tensors="pt")["pixel_values"].shape
        inputs = load_vision(json.loads((data / f"{name}.json").read_text())).inputs((height, width))
        assert [(i.height, i.width) for i in inputs] == [tuple(shape[-2:])] * shape[0]


@pytest.mark.parametrize("height,width", [(384, 384), (1000, 1500), (100, 2000), (5000, 300), (777, 333)])
def test_smolvlm_instruct_processor_tiles(height, width):
    """SmolVLM-Instruct's processor (longest edge 1536, 384-px tiles; its preprocessor_config)."""
    import json
    from pathlib import Path
    raw = json.loads((Path(__file__).resolve().parents[1] / "data" / "vision" / "SmolVLM-Instruct.json").read_text())
    processor = transformers.Idefics3ImageProcessorPil(size={"longest_edge": 1536},
                                                       max_image_size={"longest_edge": 384})
    image = (torch.rand(height, width, 3) * 255).to(torch.uint8).numpy()
    made = processor(images=[[image]], return_tensors="pt")["pixel_values"].shape[1]
    assert len(load_vision(raw).inputs((height, width))) == made
