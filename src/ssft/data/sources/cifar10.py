"""``data.name=cifar10``: CIFAR-10 from the python pickle batches (``cifar-10-batches-py``)."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from ssft.data.base import DATASETS, ArrayImages, Dataset, Part
from ssft.data.sources.common import data_root, download, missing_files
from ssft.errors import DataError

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
_CIFAR_DIR = "cifar-10-batches-py"


def _cifar_dir(root: Path) -> Path | None:
    for d in (root / _CIFAR_DIR, root):
        if (d / "test_batch").is_file() or (d / "data_batch_1").is_file():
            return d
    return None


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            # Only the known batch files of the official archive are unpickled.
            d = pickle.load(f, encoding="bytes")
        data = np.asarray(d[b"data"], dtype=np.uint8)
        labels = np.asarray(d[b"labels"], dtype=np.int64)
        images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, ValueError, TypeError) as e:
        raise DataError(
            f"cannot read CIFAR-10 batch {path} ({type(e).__name__}: {e}); the file is corrupt or "
            "not a python-version batch: delete the folder and download it again"
        ) from None
    if len(images) != len(labels):
        raise DataError(f"{path}: {len(images)} images but {len(labels)} labels; download it again")
    return np.ascontiguousarray(images), labels


@DATASETS.register(
    "cifar10", help="CIFAR-10 python batches (cifar-10-batches-py) in data.root; data.download"
)
def load_cifar10(cfg: Any) -> Dataset:
    root = data_root(cfg, "cifar10", create=True)
    d = _cifar_dir(root)
    if d is None:
        if not cfg.download:
            raise missing_files("cifar10", root, [f"{_CIFAR_DIR}/data_batch_1..5, test_batch"], CIFAR10_URL)
        archive = download([CIFAR10_URL], root / "cifar-10-python.tar.gz")
        try:
            with tarfile.open(archive) as tar:
                members = [m for m in tar.getmembers() if m.name.startswith(_CIFAR_DIR + "/") and m.isfile()]
                members = [m for m in members if ".." not in Path(m.name).parts]
                # Members are filtered above; the "data" filter (Python >= 3.11.4) also refuses links out.
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(root, members=members, **safe)  # type: ignore[arg-type]
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DataError(f"cannot unpack {archive} ({e}); delete it and download it again") from None
        d = _cifar_dir(root)
        if d is None:
            raise DataError(f"{archive} did not contain {_CIFAR_DIR}/; delete it and download it again")
    train_files = [d / f"data_batch_{i}" for i in range(1, 6) if (d / f"data_batch_{i}").is_file()]
    classes = list(CIFAR10_CLASSES)
    meta = d / "batches.meta"
    if meta.is_file():
        try:
            with open(meta, "rb") as f:
                names = pickle.load(f, encoding="bytes")[b"label_names"]
            classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, AttributeError):
            classes = list(CIFAR10_CLASSES)
    parts: list[Part | None] = []
    for files in (train_files, [d / "test_batch"] if (d / "test_batch").is_file() else []):
        if not files:
            parts.append(None)
            continue
        xs, ys = zip(*(_read_cifar_batch(p) for p in files), strict=True)
        parts.append(Part(ArrayImages(np.concatenate(xs)), np.concatenate(ys)))
    train, test = parts
    if train is None:
        train, test = test, None
    assert train is not None
    return Dataset("cifar10", "image", classes, train, test)
