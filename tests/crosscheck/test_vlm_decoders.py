"""The decoder of a vision-language composite config, read by `mfu_sym.load`, against what
transformers 5.23 builds and executes: the *ForConditionalGeneration's language model and
LM head, run text-only (input_ids, no pixels) forward and backward under the project's
FlopCounterMode. Parameters are those of the language model and the LM head (tied
tensors once); the vision tower and projector are excluded (counted per sample with
--images, tests/crosscheck/test_vision.py). The counter computes the full S x S square,
so the engine runs with mask=full and attention_kernel=eager (tests/crosscheck/test_dense.py).

Every config is also read in the forms users have it (as written, with aliases, as
transformers resolves it, as save_pretrained writes it): the same exact counts, and the
parameters of the model transformers builds from each form."""


import pytest
import torch
from transformers import AutoModelForImageTextToText

from .compare import assert_same, engine
from .test_config_fidelity import _forms
from .reference import (Measurement, _counted, _default_experts_implementation, _input_ids, _make_config,
                        _NodeTagger, _snapshot, _split_counts, _subtract, meta_safe_masking)

SEQ = [(1, 9), (2, 5)]

SIGLIP = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1, "num_attention_heads": 2,
          "image_size": 28, "patch_size": 14}
CLIP = {"model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
        "num_attention_heads": 2, "image_size": 28, "patch_size": 14, "projection_dim": 32}
LLAMA = {"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "vocab_size": 128}
QWEN25_TEXT = {"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 3, "num_attention_heads": 4,
               "num_key_value_heads": 2, "vocab_size": 120, "use_sliding_window": True, "sliding_window": 4,
               "max_window_layers": 1, "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]}}
QWEN25_VISION = {"depth": 1, "hidden_size": 32, "intermediate_size": 48, "num_heads": 2, "out_hidden_size": 64,
                 "fullatt_block_indexes": [0], "patch_size": 14}
QWEN3_TEXT = {"hidden_size": 64, "intermediate_size": 80, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 2, "head_dim": 24, "vocab_size": 112, "attention_bias": True,
              "rope_parameters": {"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [4, 4, 4],
                                  "mrope_interleaved": True}}
QWEN3_VISION = {"depth": 1, "hidden_size": 32, "intermediate_size": 48, "num_heads": 2, "out_hidden_size": 64,
                "deepstack_visual_indexes": [0], "num_position_embeddings": 16, "patch_size": 16}
IDEFICS_VISION = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1, "num_attention_heads": 2,
                  "image_size": 28, "patch_size": 14}

CONFIGS = {
    # composite tie_word_embeddings (default true) decides; the text config's false is read by nothing
    "gemma3": {"model_type": "gemma3", "mm_tokens_per_image": 4, "vision_config": SIGLIP,
               "text_config": {"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 4,
                               "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 16,
                               "vocab_size": 128, "sliding_window": 4, "tie_word_embeddings": False,
                               "layer_types": ["sliding_attention", "full_attention", "sliding_attention",
                                               "sliding_attention"]}},
    "gemma3-untied": {"model_type": "gemma3", "mm_tokens_per_image": 4, "vision_config": SIGLIP,
                      "tie_word_embeddings": False,
                      "text_config": {"hidden_size": 48, "intermediate_size": 64, "num_hidden_layers": 2,
                                      "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16,
                                      "vocab_size": 96, "sliding_window": 4}},
    # the released layout: text fields at the top level, no text_config
    "qwen2_5_vl-flat": {"model_type": "qwen2_5_vl", "vision_config": QWEN25_VISION, "vision_token_id": 7,
                        "image_token_id": 100, "video_token_id": 101, "vision_start_token_id": 102,
                        "vision_end_token_id": 103, **QWEN25_TEXT},
    # nested; text_config.tie_word_embeddings forwarded to the composite (BC in __post_init__)
    "qwen2_5_vl-nested-tied": {"model_type": "qwen2_5_vl", "vision_config": QWEN25_VISION,
                               "image_token_id": 100, "video_token_id": 101, "vision_start_token_id": 102,
                               "vision_end_token_id": 103,
                               "text_config": {**QWEN25_TEXT, "tie_word_embeddings": True}},
    "qwen3_vl": {"model_type": "qwen3_vl", "vision_config": QWEN3_VISION, "tie_word_embeddings": True,
                 "image_token_id": 100, "video_token_id": 101, "vision_start_token_id": 102,
                 "vision_end_token_id": 103, "text_config": QWEN3_TEXT},
    # Qwen3-VL does not forward text_config.tie_word_embeddings: untied
    "qwen3_vl-text-tie-ignored": {"model_type": "qwen3_vl", "vision_config": QWEN3_VISION,
                                  "image_token_id": 100, "video_token_id": 101, "vision_start_token_id": 102,
                                  "vision_end_token_id": 103,
                                  "text_config": {**QWEN3_TEXT, "tie_word_embeddings": True}},
    # no model_type in text_config: llama (LlavaConfig's SubConfigSpec default)
    "llava-llama": {"model_type": "llava", "vision_config": CLIP, "image_token_index": 120,
                    "text_config": LLAMA},
    # any text model: a Mistral with its window on every layer, tie forwarded from text_config
    "llava-mistral-tied": {"model_type": "llava", "vision_config": CLIP, "image_token_index": 120,
                           "text_config": {**LLAMA, "model_type": "mistral", "sliding_window": 4,
                                           "tie_word_embeddings": True}},
    "llava-qwen2": {"model_type": "llava", "vision_config": CLIP, "image_token_index": 110,
                    "text_config": {**QWEN25_TEXT, "model_type": "qwen2", "rope_scaling": None}},
    "idefics3": {"model_type": "idefics3", "vision_config": IDEFICS_VISION, "scale_factor": 2,
                 "image_token_id": 120, "text_config": {**LLAMA, "model_type": "llama", "head_dim": 24}},
    # Idefics3 does not forward text_config.tie_word_embeddings: untied
    "smolvlm": {"model_type": "smolvlm", "vision_config": IDEFICS_VISION, "scale_factor": 2,
                "image_token_id": 120, "text_config": {**LLAMA, "tie_word_embeddings": True}},
    # MoE text model: dense layer 0 (mlp_only_layers), experts elsewhere; the text class's
    # tie_word_embeddings default (true) is read by nothing: untied
    "qwen3_vl_moe": {"model_type": "qwen3_vl_moe", "vision_config": QWEN3_VISION, "image_token_id": 100,
                     "video_token_id": 101, "vision_start_token_id": 102, "vision_end_token_id": 103,
                     "text_config": {**QWEN3_TEXT, "num_experts": 4, "num_experts_per_tok": 2,
                                     "moe_intermediate_size": 32, "mlp_only_layers": [0], "head_dim": None}},
    "smolvlm-tied": {"model_type": "smolvlm", "vision_config": IDEFICS_VISION, "scale_factor": 2,
                     "image_token_id": 120, "tie_word_embeddings": True, "text_config": LLAMA},
}


def build(config, device="cpu"):
    """The *ForConditionalGeneration, float32, eval mode (reference.build_model's conventions;
    AutoModelForCausalLM does not map these model_types, or maps gemma3 to the same class)."""
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(
            _make_config(config), attn_implementation="eager", dtype=torch.float32,
            # experts as a per-expert loop of mm (real devices) or bmm (meta): both counted
            experts_implementation=_default_experts_implementation(device))
    model.eval()
    return model


def language_model(model):
    inner = model.model
    return getattr(inner, "language_model", None) or inner.text_model


def decoder_params(model):
    """Parameters of the language model and the LM head, a tied tensor once."""
    seen = {id(p): p for module in (language_model(model), model.lm_head) for p in module.parameters()}
    return int(sum(p.numel() for p in seen.values()))


def measure_text_only(config, *, batch, seq_len):
    """reference.measure for the composite: input_ids only, logits.sum().backward()."""
    model = build(config)
    root = type(model).__name__
    input_ids = _input_ids(model, batch, seq_len, "cpu")
    with torch.enable_grad():
        with _counted(f"vlm({config['model_type']})") as (counter, rec):
            with _NodeTagger(model) as tagger:
                logits = model(input_ids=input_ids, use_cache=False).logits
            fwd_counts = _snapshot(counter)
            rec.attribute_backward = True
            logits.sum().backward()
            rec.attribute_backward = False
            all_counts = _snapshot(counter)
    fwd_total, fwd_mod, fwd_op = _split_counts(fwd_counts, root)
    bwd_total, _, bwd_op = _split_counts(_subtract(all_counts, fwd_counts), root)
    bwd_mod = {p: v for p, v in rec.backward_by_module.items() if v and (p == "" or p in tagger.entered)}
    assert bwd_mod.get("", 0) == bwd_total
    # the vision tower and projector did not run (text-only)
    ran = {p for p in {**fwd_mod, **bwd_mod} if p not in ("", "model", "lm_head")}
    assert not {p for p in ran if not p.startswith(("model.language_model", "model.text_model"))}
    return model, Measurement(params=decoder_params(model), forward=fwd_total, backward=bwd_total,
                              training=fwd_total + bwd_total, by_module={"forward": fwd_mod, "backward": bwd_mod},
                              by_op={"forward": fwd_op, "backward": bwd_op}, attn_implementation="eager",
                              batch=batch, seq_len=seq_len)


@pytest.mark.parametrize("batch, seq_len", SEQ)
@pytest.mark.parametrize("name", list(CONFIGS))
def test_decoder_exact(tmp_path, name, batch, seq_len):
    config = CONFIGS[name]
    model, measured = measure_text_only(config, batch=batch, seq_len=seq_len)
    ours = engine(config, tmp_path, mask="full", attention_kernel="eager")
    assert ours.arch.tied_embeddings == (model.lm_head.weight is language_model(model).embed_tokens.weight)
    assert_same(ours, measured, batch=batch, seq_len=seq_len)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_form(tmp_path, name):
    config = CONFIGS[name]
    _, measured = measure_text_only(config, batch=1, seq_len=7)
    for form, data in _forms(config, tmp_path).items():
        with meta_safe_masking():
            assert decoder_params(build(data, device="meta")) == measured.params, form
        ours = engine(data, tmp_path, mask="full", attention_kernel="eager").report(seq_len=7, batch=1)
        assert (ours["params"]["total"], ours["flops"]["forward"], ours["flops"]["training"]) == (
            measured.params, measured.forward, measured.training), form


def _keys_per_layer(config, seq_len):
    """Sum over queries of the keys each decoder layer's attention lets it see, from the
    masks transformers passes to it in a text-only forward (eager: additive, 0 = attend)."""
    model = build(config)
    seen = {}

    def capture(index):
        def hook(module, args, kwargs):
            mask = kwargs.get("attention_mask")
            seen[index] = int((mask[0, 0] == 0).sum()) if mask is not None else seq_len * (seq_len + 1) // 2
        return hook

    layers = language_model(model).layers
    for i, layer in enumerate(layers):
        layer.self_attn.register_forward_pre_hook(capture(i), with_kwargs=True)
    with torch.no_grad():
        model(input_ids=torch.zeros(1, seq_len, dtype=torch.long))
    return [seen[i] for i in range(len(layers))]


@pytest.mark.parametrize("name", ["gemma3", "gemma3-untied", "qwen2_5_vl-flat", "qwen2_5_vl-nested-tied",
                                  "llava-mistral-tied", "llava-qwen2"])
def test_keys_per_layer_match_transformers_masks(tmp_path, name):
    """The windows (which layers, how wide) as transformers' masks apply them: the exact
    causal count (the default mask) reads them."""
    config, seq_len = CONFIGS[name], 12
    arch = engine(config, tmp_path).arch
    kinds = arch.layer_types or ("full_attention",) * arch.n_layers
    ours = [sum(min(t, arch.window) if kind == "sliding_attention" else t for t in range(1, seq_len + 1))
            for kind in kinds]
    assert ours == _keys_per_layer(config, seq_len)
