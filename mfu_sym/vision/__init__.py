"""Vision towers of VLMs (Gemma 3, Llama 4, Qwen2.5-VL, Qwen3-VL, Idefics3 / SmolVLM,
LLaVA) as exact formula families: per-sample encoder FLOPs, parameters, patches and the
decoder tokens the images add. Formulas and facts: formulas/vision.yaml.

    >>> from mfu_sym.vision import load_vision
    >>> tower = load_vision("config.json")              # the whole multimodal config
    >>> cost = tower.per_sample(images=2, image_size=(896, 896))
    >>> cost.forward["total"], cost.backward["total"], cost.decoder_tokens

Names load on first use (as in mfu_sym/__init__.py), so the package imports no submodule
at import time.
"""

_LAZY = {
    "load_vision": "load", "decoder_config": "load", "families": "load", "VisionTower": "tower",
    "SampleCost": "tower", "InputCost": "tower", "EncoderInput": "images",
}
__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'mfu_sym.vision' has no attribute {name!r}")
