"""Deterministic augmentations for cached *views*, dispatched by :func:`make_view`: the weak image
crop/flip (:mod:`ssft.data.crop_flip`), strong image views (:mod:`ssft.data.randaugment`), text views
(:mod:`ssft.data.text_augment`) and embedding views (:mod:`ssft.data.feature_augment`).

View 0 is the item itself; every other view is drawn from a generator seeded by ``(seed, item,
view)``. The same item and view always give the same pixels, so a view can be extracted once into the feature
cache (``cache.views``) and reused by every run, like the un-augmented features.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ssft.data.crop_flip import augment

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
