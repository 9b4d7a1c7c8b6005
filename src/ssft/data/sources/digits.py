"""``data.name=digits``: scikit-learn's bundled 8x8 handwritten digits (offline, one split)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ssft.data.base import DATASETS, ArrayImages, Dataset, Part
from ssft.data.sources.common import DIGIT_CLASSES


@DATASETS.register("digits", help="scikit-learn's 1,797 8x8 handwritten digits (offline, one split)")
def load_digits(cfg: Any) -> Dataset:
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    # Pixel values are counts 0..16 of an 4x4 block; scale to the uint8 range.
    images = np.rint(np.asarray(d.images, dtype=np.float64) * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return Dataset("digits", "image", list(DIGIT_CLASSES), Part(ArrayImages(images), d.target))
