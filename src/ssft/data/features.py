"""``data.name=features``: embeddings a user already has, from a ``.npz`` file (``data.path``).

The file holds ``X`` (N, D) float and ``y`` (N,) int with ``-1`` for unlabelled rows (the
convention of scikit-learn's semi-supervised estimators); optionally ``X_test`` / ``y_test`` (its
own test part; without them a test part is held out, ``data.holdout``) and ``classes`` (names).
Train on it with ``backbone.name=features:D``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from ssft.data.base import DATASETS, Dataset, Part
from ssft.data.paths import resolve_data_path, where_looked
from ssft.errors import DataError


class FeatureRows:
    """Rows of a float array ``(N, D)``, one input per row."""

    def __init__(self, array: np.ndarray) -> None:
        array = np.asarray(array)
        if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
            raise DataError(f"features must be a numeric array (N, D), got shape {array.shape} {array.dtype}")
        self.array = np.ascontiguousarray(array, dtype=np.float32)

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def __getitem__(self, i: int) -> np.ndarray:
        return self.array[i]

    def identity(self) -> str:
        """A digest of the rows, read in blocks (no copy of the whole array: it may be memory-mapped)."""
        h = hashlib.sha256()  # the digest of the whole buffer, as before, without holding a copy
        step = max(1, (16 << 20) // max(1, self.array[:1].nbytes))
        for s in range(0, len(self.array), step):
            h.update(np.ascontiguousarray(self.array[s : s + step]).data)
        return h.hexdigest()[:16]


def features_dataset(
    X: Any,
    y: Any,
    *,
    X_test: Any = None,
    y_test: Any = None,
    classes: list[str] | None = None,
    name: str = "features",
) -> Dataset:
    """A :class:`Dataset` over in-memory features; labels are class indices 0..K-1 or -1."""
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"labels must be integers (N,) with -1 for unlabelled, got {y.shape} {y.dtype}")
    labelled = y[y >= 0]
    if y_test is not None:
        labelled = np.concatenate([labelled, np.asarray(y_test)[np.asarray(y_test) >= 0]])
    k = int(labelled.max()) + 1 if labelled.size else 0
    if classes is None:
        classes = [str(c) for c in range(k)]
    train = Part(FeatureRows(X), y)
    test = Part(FeatureRows(X_test), np.asarray(y_test)) if X_test is not None else None
    if test is not None and test.inputs.array.shape[1] != train.inputs.array.shape[1]:  # type: ignore[union-attr]
        raise DataError("X_test and X must have the same number of columns")
    return Dataset(name, "features", list(classes), train, test)


@DATASETS.register(
    "features",
    help="data.path .npz of pre-computed features: X, y (-1 = unlabelled), optional X_test, y_test",
)
def load_features(cfg: Any) -> Dataset:
    if not cfg.path:
        raise DataError("dataset 'features' needs data.path: set data.path=<file.npz with X and y>")
    path = resolve_data_path(cfg.path)
    if not Path(path).is_file():
        raise DataError(f"features file {path} does not exist (looked in {where_looked(Path(path))})")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise DataError(
            f"cannot read {path} as .npz ({e}); write it with numpy.savez(path, X=..., y=...)"
        ) from None
    missing = [k for k in ("X", "y") if k not in arrays]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)}; it holds {', '.join(arrays) or 'nothing'}")
    classes = [str(c) for c in arrays["classes"]] if "classes" in arrays else None
    return features_dataset(
        arrays["X"],
        arrays["y"].astype(np.int64),
        X_test=arrays.get("X_test"),
        y_test=arrays["y_test"].astype(np.int64) if "y_test" in arrays else None,
        classes=classes,
    )
