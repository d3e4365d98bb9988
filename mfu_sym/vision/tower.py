"""VisionTower: exact FLOPs, parameters and decoder tokens of a VLM's vision tower (and
its projector) for the images of one sample.

Billing rule: the encoder runs once per image (per tile, crop or frame), so its FLOPs are
billed per sample from that sample's images, never per decoder token.
"""

from dataclasses import dataclass
from types import MappingProxyType

import sympy

from .images import EncoderInput, checked_input, encoder_inputs, image_size as parse_image_size
from .structure import decoder_tokens, terms
from .library import COMPONENTS, KERNELS
from ..errors import UsageError


@dataclass(frozen=True)
class InputCost:
    """One encoder input: its size, patches, decoder tokens and FLOPs by component."""

    input: EncoderInput
    decoder_tokens: int
    forward: MappingProxyType
    backward: MappingProxyType


@dataclass(frozen=True)
class SampleCost:
    """The vision work of one sample: every image's inputs, summed exactly.

    forward / backward: component -> sympy Integer, plus "total"; training = forward + backward.
    images: per image, the tuple of its InputCost (tiles, crops, or the resized image)."""

    images: tuple
    forward: MappingProxyType
    backward: MappingProxyType
    kernel: str
    train_encoder: bool = True

    @property
    def training(self):
        return self.forward["total"] + self.backward["total"]

    @property
    def patches(self):
        return sum(c.input.n_patches for image in self.images for c in image)

    @property
    def decoder_tokens(self):
        """Image tokens the decoder receives (placeholders filled with encoder features;
        the processor's special tokens around them are text tokens and not included)."""
        return sum(c.decoder_tokens for image in self.images for c in image)

    @property
    def encoder_inputs(self):
        return sum(len(image) for image in self.images)

    def as_dict(self):
        """Plain ints, for JSON."""
        return {"images": len(self.images), "encoder_inputs": self.encoder_inputs, "patches": self.patches,
                "decoder_tokens": self.decoder_tokens, "kernel": self.kernel,
                "train_encoder": self.train_encoder,
                "forward": {k: int(v) for k, v in self.forward.items()},
                "backward": {k: int(v) for k, v in self.backward.items()},
                "training": int(self.training),
                "per_image": [{"inputs": [[c.input.height, c.input.width] for c in image],
                               "patches": sum(c.input.n_patches for c in image),
                               "decoder_tokens": sum(c.decoder_tokens for c in image)} for image in self.images]}


class VisionTower:
    """The vision tower (+ projector) of one config. Build it with `mfu_sym.vision.load_vision`."""

    def __init__(self, config, library):
        self.config = config
        self.library = library
        self.terms = tuple(terms(config, library))
        self._constants = self._constant_values()

    # ---- facts ------------------------------------------------------------------------
    @property
    def family(self):
        return self.config.family

    @property
    def notes(self):
        return self.config.notes

    def _constant_values(self):
        c, s = self.config, self.library.symbol
        return {s("d_vision"): c.d_vision, s("d_vision_ff"): c.d_ff, s("patch_size"): c.patch_size,
                s("in_channels"): c.in_channels, s("temporal_patch"): c.temporal_patch, s("merge"): c.merge,
                s("d_text"): c.d_text, s("d_out"): c.d_out or 1, s("d_adapter"): c.d_adapter or 1,
                s("d_adapter_out"): c.d_adapter_out or 1, s("n_positions_vision"): c.n_positions or 1}

    def _term_values(self, term):
        return {self.library.symbol(name): sympy.Integer(value) if isinstance(value, int) else value
                for name, value in term.at}

    @property
    def params(self):
        """component -> exact parameter count, plus "total"; equals sum(p.numel()) of the
        transformers vision tower and its projector (merger, adapter, connector)."""
        out = dict.fromkeys(COMPONENTS, sympy.Integer(0))
        for term in self.terms:
            formula = self.library.formulas[term.formula]
            count = term.forward_count if term.params_count < 0 else term.params_count
            if term.formula == "vit_attention_core" or formula.params == 0:
                continue
            out[formula.component] += count * formula.params.subs({**self._constants, **self._term_values(term)})
        out = {k: sympy.Integer(v) for k, v in out.items()}
        out["total"] = sum(out.values(), sympy.Integer(0))
        return MappingProxyType(out)

    # ---- symbolic forms ---------------------------------------------------------------
    def _backward(self, term, formula, kernel, train_encoder):
        """A term's backward: as the formula says, or with a frozen encoder (train_encoder
        False: only the projector trains) none in the encoder, and the projector's first
        matmul computing only its weight gradient (its input carries no gradient)."""
        if train_encoder:
            return formula.backward[kernel]
        if formula.component != "projector":
            return sympy.Integer(0)
        return formula.backward[kernel] if term.downstream else formula.backward_frozen_input

    def expressions(self, kernel="eager", train_encoder=True):
        """component -> {"forward", "backward"}: sympy expressions of ONE encoder input in its
        patch grid (grid_h x grid_w patches), the config's sizes substituted."""
        _check_kernel(kernel)
        forward = dict.fromkeys(COMPONENTS, sympy.Integer(0))
        backward = dict.fromkeys(COMPONENTS, sympy.Integer(0))
        for term in self.terms:
            formula = self.library.formulas[term.formula]
            values = {**self._constants, **self._term_values(term)}
            forward[formula.component] += term.forward_count * formula.forward.subs(values)
            backward[formula.component] += term.backward_count * self._backward(
                term, formula, kernel, train_encoder).subs(values)
        return {k: {"forward": forward[k], "backward": backward[k]} for k in COMPONENTS}

    def decoder_tokens_expression(self):
        s = self.library.symbol
        return decoder_tokens(self.config, self.library, s("grid_h") * s("grid_w"))

    # ---- numbers ----------------------------------------------------------------------
    def inputs(self, image_size, processed=False):
        """The encoder inputs of one image of `image_size` (H, W) or "HxW": the family's
        processor rule, or the size itself when `processed` (checked against the tower)."""
        height, width = parse_image_size(image_size)
        if processed:
            return [checked_input(self.config, height, width)]
        return encoder_inputs(self.config, height, width)

    def input_cost(self, encoder_input, kernel="eager", train_encoder=True):
        """Exact FLOPs of one encoder input (InputCost)."""
        _check_kernel(kernel)
        s = self.library.symbol
        grid = {s("grid_h"): encoder_input.grid_h, s("grid_w"): encoder_input.grid_w}
        forward = dict.fromkeys(COMPONENTS, sympy.Integer(0))
        backward = dict.fromkeys(COMPONENTS, sympy.Integer(0))
        for term in self.terms:
            formula = self.library.formulas[term.formula]
            values = {**self._constants, **{k: v.subs(grid) for k, v in self._term_values(term).items()}}
            forward[formula.component] += term.forward_count * formula.forward.subs(values)
            backward[formula.component] += term.backward_count * self._backward(
                term, formula, kernel, train_encoder).subs(values)
        tokens = self.decoder_tokens_expression().subs(grid)
        for value in (*forward.values(), *backward.values(), tokens):
            if not value.is_Integer:  # a grid the merge or pooling cannot divide
                raise UsageError(None, "image_size", f"{encoder_input.height}x{encoder_input.width}: the counts are "
                                                     f"not whole numbers here ({value}); the tower cannot run it")
        return InputCost(encoder_input, int(tokens), MappingProxyType(forward), MappingProxyType(backward))

    def per_sample(self, images=1, image_size=None, image_sizes=None, kernel="eager", processed=False,
                   train_encoder=True):
        """Exact vision FLOPs of one sample holding `images` images of `image_size`
        (H, W) or "HxW" (default: the tower's native square), or the images listed in
        `image_sizes`. `processed`: the sizes are encoder inputs already (no processor rule).
        `train_encoder` False: a frozen encoder (only the projector trains; MaxText's
        freeze_vision_encoder_params). Returns a SampleCost: per-component forward/backward,
        patches, decoder tokens."""
        _check_kernel(kernel)
        if not isinstance(train_encoder, bool):
            raise UsageError(None, "train_encoder", f"{train_encoder!r} is not true or false")
        if image_sizes is None:
            if isinstance(images, bool) or not isinstance(images, int) or images < 0:
                raise UsageError(None, "images", f"{images!r} is not a whole number of images (expected >= 0)")
            if image_size is None and images:
                image_size = self.default_image_size()
            image_sizes = [image_size] * images
        elif image_size is not None:
            raise UsageError(None, "image_size", "give image_size (with images) or image_sizes, not both")
        cache, per_image = {}, []
        for size in image_sizes:
            key = parse_image_size(size)
            if key not in cache:
                cache[key] = tuple(self.input_cost(i, kernel, train_encoder) for i in self.inputs(key, processed))
            per_image.append(cache[key])
        forward = {k: sympy.Integer(0) for k in COMPONENTS}
        backward = {k: sympy.Integer(0) for k in COMPONENTS}
        for image in per_image:
            for cost in image:
                for k in COMPONENTS:
                    forward[k] += cost.forward[k]
                    backward[k] += cost.backward[k]
        forward["total"] = sum(forward.values(), sympy.Integer(0))
        backward["total"] = sum(backward.values(), sympy.Integer(0))
        return SampleCost(tuple(per_image), MappingProxyType(forward), MappingProxyType(backward), kernel,
                          train_encoder)

    def default_image_size(self):
        """The tower's native input, image_size^2; dynamic-resolution towers (Qwen) have none
        and need an explicit size."""
        if self.config.image_size:
            return (self.config.image_size, self.config.image_size)
        raise UsageError(None, "image_size", f"{self.family} resizes each image dynamically: give --image-size HxW")


def _check_kernel(kernel):
    if kernel not in KERNELS:
        raise UsageError(None, "attention_kernel", f"{kernel!r} (expected one of {', '.join(KERNELS)})")
