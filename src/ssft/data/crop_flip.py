"""The weak image view: a deterministic random resized crop and horizontal flip.

View 0 is the image itself; view ``v >= 1`` is a random resized crop (area 60–100 %, aspect 3/4–4/3)
and, unless disabled, a horizontal flip, drawn from a generator seeded by ``(seed, item, v)``. It is
its own module because both :mod:`ssft.data.augment` (weak views) and :mod:`ssft.data.randaugment`
(a strong view starts from a crop/flip) build on it.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image


def augment(image: np.ndarray, *, seed: int, item: int, view: int, flip: bool = True) -> np.ndarray:
    """One deterministic augmented view of a uint8 image ``(H, W[, C])``, same shape and dtype."""
    if view == 0:
        return image
    rng = np.random.default_rng([seed, item, view, 404])
    a = np.asarray(image)
    h, w = a.shape[:2]
    for _ in range(10):
        area = rng.uniform(0.6, 1.0) * h * w
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        ch, cw = round(math.sqrt(area / ratio)), round(math.sqrt(area * ratio))
        if 0 < ch <= h and 0 < cw <= w:
            break
    else:
        ch, cw = h, w
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = a[top : top + ch, left : left + cw]
    squeeze = crop.ndim == 3 and crop.shape[2] == 1
    pil = Image.fromarray(crop[:, :, 0] if squeeze else crop)
    out = np.asarray(pil.resize((w, h), Image.BILINEAR))
    if squeeze:
        out = out[:, :, None]
    if flip and rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)
