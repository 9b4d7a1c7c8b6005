"""Deterministic augmentations for cached *views* (weak crop/flip here; strong views and text views
in :mod:`ssft.data.randaugment` and :mod:`ssft.data.text_augment`, dispatched by :func:`make_view`).

View 0 is the image itself; view ``v >= 1`` is a random resized crop (area 60–100 %, aspect 3/4–4/3)
and, unless disabled, a horizontal flip, drawn from a generator seeded by ``(seed, item, v)``. The
same item and view always give the same pixels, so a view can be extracted once into the feature
cache (``cache.views``) and reused by every run, like the un-augmented features.
"""

from __future__ import annotations

import math
from typing import Any

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


VIEW_KINDS = ("weak", "strong")


def make_view(x: Any, *, kind: str, seed: int, item: int, view: int, flip: bool = True) -> Any:
    """View ``view`` of one raw item: an image (uint8 array), a text (str) or an embedding row.

    ``kind="weak"``: the crop/flip above (images), light word dropout (texts) or small gaussian
    noise (embeddings, :mod:`ssft.data.feature_augment`); view 0 is the item itself.
    ``kind="strong"``: a RandAugment-style view (:mod:`ssft.data.randaugment`), heavier word
    dropout and swaps (:mod:`ssft.data.text_augment`) or coordinate dropout plus more noise;
    numbered from 1.
    """
    if kind not in VIEW_KINDS:
        raise ValueError(f"unknown view kind {kind!r}; known: {', '.join(VIEW_KINDS)}")
    from ssft.data.feature_augment import feature_augment, is_feature_row

    if is_feature_row(x):
        return feature_augment(x, seed=seed, item=item, view=view, strong=kind == "strong")
    if isinstance(x, str):
        from ssft.data.text_augment import text_augment

        return text_augment(x, seed=seed, item=item, view=view, strong=kind == "strong")
    if kind == "strong":
        from ssft.data.randaugment import strong_augment

        return strong_augment(np.asarray(x), seed=seed, item=item, view=view, flip=flip)
    return augment(np.asarray(x), seed=seed, item=item, view=view, flip=flip)


class ViewInputs:
    """Random access to view ``view`` of every item of ``inputs`` (``item`` = position here)."""

    def __init__(self, inputs: Any, view: int, seed: int, flip: bool = True, kind: str = "weak") -> None:
        if kind not in VIEW_KINDS:
            raise ValueError(f"unknown view kind {kind!r}; known: {', '.join(VIEW_KINDS)}")
        self.inputs, self.view, self.seed, self.flip, self.kind = inputs, view, seed, flip, kind

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> Any:
        return make_view(
            self.inputs[i], kind=self.kind, seed=self.seed, item=int(i), view=self.view, flip=self.flip
        )
