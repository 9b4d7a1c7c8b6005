"""Strong, RandAugment-style image views (Cubuk et al. 2020, as used by FixMatch, Sohn et al. 2020).

A strong view is the weak crop/flip of :func:`ssft.data.crop_flip.augment`, then ``ops`` operations
drawn from :data:`OPS` each at a uniformly drawn magnitude, then a cutout square of side up to half
the image, filled with grey. Every draw comes from a generator seeded by ``(seed, item, view)``, so
the same item and view always give the same pixels and a view can be extracted once into the cache.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from ssft.data.crop_flip import augment

# Every op maps (image, magnitude m in [0, 1], sign +-1) to an image of the same size and mode.
Op = Callable[[Image.Image, float, int], Image.Image]


def _grey(img: Image.Image) -> int | tuple[int, ...]:
    return 128 if img.mode == "L" else (128,) * len(img.getbands())


def _affine(img: Image.Image, matrix: tuple[float, ...]) -> Image.Image:
    return img.transform(img.size, Image.AFFINE, matrix, resample=Image.BILINEAR, fillcolor=_grey(img))


OPS: dict[str, Op] = {
    "identity": lambda img, m, s: img,
    "autocontrast": lambda img, m, s: ImageOps.autocontrast(img),
    "equalize": lambda img, m, s: ImageOps.equalize(img),
    "brightness": lambda img, m, s: ImageEnhance.Brightness(img).enhance(1 + s * 0.9 * m),
    "color": lambda img, m, s: ImageEnhance.Color(img).enhance(1 + s * 0.9 * m),
    "contrast": lambda img, m, s: ImageEnhance.Contrast(img).enhance(1 + s * 0.9 * m),
    "sharpness": lambda img, m, s: ImageEnhance.Sharpness(img).enhance(1 + s * 0.9 * m),
    "posterize": lambda img, m, s: ImageOps.posterize(img, 8 - int(round(4 * m))),
    "solarize": lambda img, m, s: ImageOps.solarize(img, 256 - int(round(256 * m))),
    "rotate": lambda img, m, s: img.rotate(s * 30 * m, resample=Image.BILINEAR, fillcolor=_grey(img)),
    "shear_x": lambda img, m, s: _affine(img, (1, s * 0.3 * m, 0, 0, 1, 0)),
    "shear_y": lambda img, m, s: _affine(img, (1, 0, 0, s * 0.3 * m, 1, 0)),
    "translate_x": lambda img, m, s: _affine(img, (1, 0, s * 0.3 * m * img.size[0], 0, 1, 0)),
    "translate_y": lambda img, m, s: _affine(img, (1, 0, 0, 0, 1, s * 0.3 * m * img.size[1])),
}


def strong_augment(
    image: np.ndarray,
    *,
    seed: int,
    item: int,
    view: int,
    flip: bool = True,
    ops: int = 2,
    cutout: float = 0.5,
) -> np.ndarray:
    """One deterministic strong view of a uint8 image ``(H, W[, C])``, same shape and dtype.

    ``view`` must be >= 1 (a strong view is never the image itself). ``cutout`` is the largest side
    of the grey square as a fraction of the shorter image side (0 = no cutout).
    """
    if view < 1:
        raise ValueError(f"strong views are numbered from 1, got view={view}")
    rng = np.random.default_rng([seed, item, view, 505])
    base = augment(image, seed=seed + 7919, item=item, view=view, flip=flip)  # crop (+ flip) first
    squeeze = base.ndim == 3 and base.shape[2] == 1
    pil = Image.fromarray(base[:, :, 0] if squeeze else base)
    names = list(OPS)
    for k in rng.choice(len(names), size=ops, replace=True):
        magnitude, sign = float(rng.uniform(0.05, 1.0)), int(rng.choice([-1, 1]))
        pil = OPS[names[int(k)]](pil, magnitude, sign)
    out = np.array(pil)
    if cutout > 0:
        h, w = out.shape[:2]
        side = max(1, int(round(rng.uniform(0.0, cutout) * min(h, w))))
        cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
        out[max(0, cy - side // 2) : cy + (side + 1) // 2, max(0, cx - side // 2) : cx + (side + 1) // 2] = (
            128
        )
    if squeeze:
        out = out[:, :, None]
    return np.ascontiguousarray(out)
