"""``data.name=svhn``: SVHN cropped digits from ``train_32x32.mat`` / ``test_32x32.mat``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ssft.data.base import DATASETS, ArrayImages, Dataset, Part
from ssft.data.sources.common import DIGIT_CLASSES, data_root, download, missing_files
from ssft.errors import DataError

SVHN_URL = "http://ufldl.stanford.edu/housenumbers/"


def _read_svhn(path: Path) -> Part:
    from scipy.io import loadmat

    try:
        m = loadmat(path)
        x = np.asarray(m["X"])
        y = np.asarray(m["y"]).reshape(-1).astype(np.int64)
    except (OSError, ValueError, KeyError, TypeError, NotImplementedError) as e:
        raise DataError(
            f"cannot read SVHN file {path} ({type(e).__name__}: {e}); it is corrupt or not the cropped-digits "
            "format (X: 32x32x3xN, y: N): download it again"
        ) from None
    if x.ndim != 4 or x.shape[2] != 3 or x.shape[3] != y.size:
        raise DataError(
            f"{path}: X has shape {x.shape} and y {y.size} labels; expected X (32, 32, 3, N), y (N,)"
        )
    y[y == 10] = 0  # SVHN stores the digit 0 as class 10
    images = np.ascontiguousarray(x.transpose(3, 0, 1, 2)).astype(np.uint8, copy=False)
    return Part(ArrayImages(images), y)


@DATASETS.register("svhn", help="SVHN cropped digits train_32x32.mat / test_32x32.mat in data.root")
def load_svhn(cfg: Any) -> Dataset:
    root = data_root(cfg, "svhn", create=True)
    names = ("train_32x32.mat", "test_32x32.mat")
    if not any((root / n).is_file() for n in names):
        if not cfg.download:
            raise missing_files("svhn", root, names, SVHN_URL)
        for n in names:
            download([SVHN_URL + n], root / n)
    train, test = (_read_svhn(root / n) if (root / n).is_file() else None for n in names)
    if train is None:
        train, test = test, None
    assert train is not None
    return Dataset("svhn", "image", list(DIGIT_CLASSES), train, test)
