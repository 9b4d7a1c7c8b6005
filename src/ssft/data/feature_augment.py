"""Deterministic views of a pre-computed embedding (``features:<D>`` backbones, the estimator).

An embedding has no pixels to crop and no words to drop, so its views are made in feature space,
relative to the row's own scale (its root mean square ``r``), so that the same settings suit
embeddings of any norm:

* weak: ``x + ε``, ``ε ~ N(0, (0.1 r)^2)`` per coordinate (view 0 is the row itself);
* strong: dropout of 20 % of the coordinates (the survivors scaled by 1 / 0.8, as in dropout),
  then ``ε ~ N(0, (0.3 r)^2)``.

The draws come from a generator seeded by ``(seed, item, view)``, so a view is the same row every
time and can be extracted once into the feature cache like an image view. The noise and dropout
levels were measured on development embeddings (benchmarks/feature_views_dev.py).
"""

from __future__ import annotations

import numpy as np

WEAK_NOISE, STRONG_NOISE, STRONG_DROP = 0.1, 0.3, 0.2


def is_feature_row(x: object) -> bool:
    """Whether ``x`` is one embedding row (a 1-D float array), not an image or a text."""
    return isinstance(x, np.ndarray) and x.ndim == 1 and np.issubdtype(x.dtype, np.floating)


def feature_augment(x: np.ndarray, *, seed: int, item: int, view: int, strong: bool = False) -> np.ndarray:
    """One deterministic view of the embedding row ``x`` (D,), float32 of the same shape."""
    row = np.asarray(x, dtype=np.float32)
    if row.ndim != 1:
        raise ValueError(f"feature views need one embedding row of shape (D,), got shape {row.shape}")
    if view == 0 and not strong:
        return row
    rng = np.random.default_rng([seed, item, view, 707 if strong else 505])
    scale = float(np.sqrt(np.mean(row.astype(np.float64) ** 2))) or 1.0
    out = row.astype(np.float64)
    if strong:
        keep = rng.random(row.shape[0]) >= STRONG_DROP
        out = out * keep / (1.0 - STRONG_DROP)
    out = out + rng.normal(0.0, (STRONG_NOISE if strong else WEAK_NOISE) * scale, row.shape[0])
    return out.astype(np.float32)
