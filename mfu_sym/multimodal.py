"""Vision-language samples, billed per sample.

A sample is one decoder sequence of `seq_len` tokens (its text and the placeholders its
images fill) and the images themselves, which the vision tower encodes once each
(mfu_sym/vision/): the sample costs the decoder's FLOPs for the sequence plus the
encoder's for its images. Encoder FLOPs depend on the images, not on the number of
decoder tokens, so they are never spread over decoder tokens; a per-token figure is the
sample's FLOPs over its decoder tokens, which equals per-sample billing only because every
sample of the run holds the same images (said in the output).
"""

import sympy

from .errors import UsageError

BILLING = ("per sample: the vision encoder runs once per image (tile), so its FLOPs are the sample's images' "
           "and are added to the decoder's for the sample's sequence, never billed per decoder token")


def load_tower(model_file, model):
    """The vision tower of MODEL's config.json, under the model's counting conventions
    (a params-based preset, or elementwise counting, has no rule for the encoder)."""
    conventions = model.conventions
    if conventions.flops_from == "params":
        raise UsageError(None, "images", f"the {conventions.preset} preset counts 2 FLOPs per decoder parameter; "
                                         "the vision encoder is counted by its formulas (use a formula preset)")
    if conventions.nonmatmul:
        raise UsageError(None, "images", "the vision encoder's elementwise work is not modelled: give --matmul-only")
    origin = model.arch.origin
    if origin is None or origin.kind != "hf":  # the project's YAML has no vision part
        raise UsageError(str(model_file), "images", "a vision tower is read from a multimodal config.json")
    from .vision import load_vision
    return load_vision(origin.data, root=model.library.root)


def sample_cost(model, tower, seq_len, images, image_size=None, frozen=False):
    """Exact FLOPs of one sample: the decoder's over `seq_len` tokens and the encoder's over
    `images` images of `image_size` ("HxW"; default: the tower's native size). The images'
    decoder tokens must fit in the sequence."""
    kernel = model.conventions.attention_kernel
    cost = tower.per_sample(images=images, image_size=image_size, kernel=kernel, train_encoder=not frozen)
    length, _ = model.run_length(seq_len)
    if cost.decoder_tokens > length:
        raise UsageError(None, "images", f"the images fill {cost.decoder_tokens:,} decoder tokens, more than the "
                                         f"sequence length {length:,} (seq_len counts the text and the image tokens)")
    report = model.report(seq_len=length, batch=1)
    decoder = {"forward": report["flops"]["forward"], "backward": report["flops"]["backward"],
               "training": report["flops"]["training"], "hardware_training": report["flops"]["hardware_training"]}
    encoder = {"forward": cost.forward["total"], "backward": cost.backward["total"],
               "training": cost.forward["total"] + cost.backward["total"]}
    encoder["hardware_training"] = encoder["training"]  # recomputation is not modelled in the encoder
    return {
        "images": images, "image_size": _size_text(tower, image_size, images), "frozen_encoder": bool(frozen),
        "family": tower.family, "kernel": kernel,
        "patches": cost.patches, "encoder_inputs": cost.encoder_inputs,
        "image_tokens": cost.decoder_tokens, "text_tokens": length - cost.decoder_tokens, "seq_len": length,
        "decoder": decoder, "encoder": encoder,
        "encoder_components": {k: {"forward": cost.forward[k], "backward": cost.backward[k]}
                               for k in cost.forward if k != "total"},
        "encoder_params": tower.params["total"],
        "sample": {phase: decoder[phase] + encoder[phase] for phase in decoder},
        "billing": BILLING,
    }


def _size_text(tower, image_size, images):
    if not images:
        return "none"
    if image_size is None:
        height, width = tower.default_image_size()
        return f"{height}x{width} (the tower's native size)"
    return str(image_size)


def per_token(sample):
    """(model, hardware) FLOPs of a sample over its decoder tokens: what MFU multiplies a
    token rate by (every sample of the run holds the same images)."""
    tokens = sympy.Integer(sample["seq_len"])
    return sample["sample"]["training"] / tokens, sample["sample"]["hardware_training"] / tokens
