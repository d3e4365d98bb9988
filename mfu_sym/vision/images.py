"""Image -> encoder inputs: each family's image-processor rule, as transformers 5.23 runs it.

An image of H x W pixels becomes one or more encoder inputs (a resized square, tiles plus
a global thumbnail, or one dynamically resized image); each input is a grid of patches
the tower runs on. The rules reproduce the processors' own arithmetic (their float
rounding included), so the patch and token counts are the ones the model sees.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

from ..errors import ConfigError, UsageError

@dataclass(frozen=True)
class EncoderInput:
    """One input of the vision tower: `height` x `width` pixels, a `grid_h` x `grid_w` patch grid."""

    height: int
    width: int
    grid_h: int
    grid_w: int

    @property
    def n_patches(self):
        return self.grid_h * self.grid_w


def image_size(value, field="image_size"):
    """(height, width) from (H, W) or "HxW": positive integers, else a UsageError."""
    if isinstance(value, str):
        parts = value.lower().split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise UsageError(None, field, f"{value!r} is not HxW (e.g. 896x896)")
        value = tuple(int(p) for p in parts)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise UsageError(None, field, f"{value!r} is not a (height, width) pair")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise UsageError(None, field, f"{value!r}: sizes must be positive integers")
    return int(value[0]), int(value[1])


def encoder_inputs(config, height, width):
    """The encoder inputs the family's processor makes of one H x W image."""
    rule = config.processor["rule"]
    return _RULES[rule](config, height, width)


def checked_input(config, height, width):
    """An already processed input of `height` x `width` pixels, if the tower accepts it."""
    patch = config.patch_size
    if config.image_size:  # fixed square inputs (SigLIP, CLIP, Llama 4 tiles, Idefics3 tiles)
        if (height, width) != (config.image_size, config.image_size):
            raise UsageError(None, "image_size", f"{height}x{width}: this tower takes {config.image_size}x"
                                                 f"{config.image_size} inputs (its position table is fixed; the "
                                                 "processor resizes or tiles images to that size)")
    else:
        unit = patch * config.merge
        if height % unit or width % unit:
            raise UsageError(None, "image_size", f"{height}x{width}: both sides must be multiples of patch_size x "
                                                 f"spatial_merge_size = {unit} (the processor resizes to them)")
    return EncoderInput(height, width, height // patch, width // patch)


def _square(config):
    side = config.image_size
    return EncoderInput(side, side, side // config.patch_size, side // config.patch_size)


def _resize_square(config, height, width):
    """Gemma 3 (resize to image_size^2) and LLaVA (shortest edge, centre crop): one input."""
    return [_square(config)]


def _supported_resolutions(max_tiles):
    """Llama4ImageProcessor.find_supported_resolutions: every rows x cols grid with at most
    `max_tiles` tiles, grouped by aspect ratio in the processor's order (the order breaks
    ties in get_best_fit)."""
    by_ratio = {}
    for count in range(max_tiles, 0, -1):
        for rows in sorted(d for d in range(1, count + 1) if count % d == 0):
            by_ratio.setdefault(rows / (count // rows), []).append((rows, count // rows))
    return [grid for grids in by_ratio.values() for grid in grids]


def _positive(config, key):
    value = config.processor.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(None, f"processor.{key}", f"{value!r} is not a positive integer")
    return value


def _llama4_tiles(config, height, width):
    rows, cols = best_fit(height, width, config.image_size, _positive(config, "max_patches"))
    tiles = [_square(config)] * (rows * cols)
    if rows * cols > 1:
        tiles.append(_square(config))  # the global thumbnail tile
    return tiles


def best_fit(height, width, tile, max_tiles):
    """Llama4ImageProcessor.get_best_fit on canvases of rows x cols tiles of `tile` pixels."""
    candidates = []
    for rows, cols in _supported_resolutions(max_tiles):
        scale = min(Fraction(cols * tile, width), Fraction(rows * tile, height))
        candidates.append((scale, rows, cols))
    upscaling = [c for c in candidates if c[0] >= 1]
    chosen = min(c[0] for c in upscaling) if upscaling else max(c[0] for c in candidates)
    fits = [c for c in candidates if c[0] == chosen]
    _, rows, cols = min(fits, key=lambda c: c[1] * c[2])  # argmin of the area: the first one on ties
    return rows, cols


def smart_resize(height, width, factor, min_pixels, max_pixels, max_aspect=None):
    """transformers qwen2_vl smart_resize, float arithmetic and all (`max_aspect`: the
    longest side over the shortest it accepts)."""
    if max_aspect is not None and max(height, width) / min(height, width) > max_aspect:
        raise UsageError(None, "image_size", f"{height}x{width}: the aspect ratio must be at most "
                                             f"{max_aspect} (transformers' smart_resize refuses it)")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def _smart_resize(config, height, width):
    factor = config.patch_size * config.merge
    h, w = smart_resize(height, width, factor, _positive(config, "min_pixels"), _positive(config, "max_pixels"),
                        _positive(config, "max_aspect"))
    return [EncoderInput(h, w, h // config.patch_size, w // config.patch_size)]


def idefics3_tile_grid(height, width, tile, longest_edge, max_image=4096):
    """(rows, cols) of Idefics3ImageProcessor's split (0, 0 when the image is one tile):
    resize the longest edge to `longest_edge` (even short side), cap at 4096, resize both
    sides up to multiples of `tile`, split."""
    aspect = width / height
    if width >= height:
        w, h = longest_edge, int(longest_edge / aspect)
        h += h % 2
    else:
        h, w = longest_edge, int(longest_edge * aspect)
        w += w % 2
    h, w = max(h, 1), max(w, 1)
    aspect = w / h
    if w >= h and w > max_image:
        w, h = max_image, int(max_image / aspect)
    elif h > w and h > max_image:
        h, w = max_image, int(max_image * aspect)
    h, w = max(h, 1), max(w, 1)
    aspect = w / h  # resize_for_vision_encoder
    if w >= h:
        w = math.ceil(w / tile) * tile
        h = math.ceil(int(w / aspect) / tile) * tile
    else:
        h = math.ceil(h / tile) * tile
        w = math.ceil(int(h * aspect) / tile) * tile
    if h > tile or w > tile:
        return math.ceil(h / tile), math.ceil(w / tile)
    return 0, 0


def _split_tiles(config, height, width):
    tile = config.image_size
    rows, cols = idefics3_tile_grid(height, width, tile, _positive(config, "tiles_per_side") * tile)
    count = rows * cols + 1 if rows * cols else 1  # the tiles and the global image, or the image alone
    return [_square(config)] * count


_RULES = {"resize_square": _resize_square, "llama4_tiles": _llama4_tiles, "smart_resize": _smart_resize,
          "split_tiles": _split_tiles}
