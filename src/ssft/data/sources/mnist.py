"""MNIST from IDX files (``data.name=mnist``) and its striped variants (``mnist_stripes_white`` /
``mnist_stripes_yellow``, see :mod:`ssft.data.stripes`)."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np

from ssft.data.base import DATASETS, ArrayImages, Dataset, Part
from ssft.data.sources.common import DIGIT_CLASSES, data_root, download, first_existing, missing_files
from ssft.data.stripes import WHITE, YELLOW, add_stripes
from ssft.errors import DataError

MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_IDX_IMAGES, _IDX_LABELS = 2051, 2049


def read_idx(path: Path, *, images: bool) -> np.ndarray:
    """Read an IDX file (raw or .gz): uint8 images ``(N, H, W)`` or labels ``(N,)``.

    The magic number and the size announced in the header are checked; a truncated or foreign file
    is a DataError naming it.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(
            f"cannot read {path} ({e}); the file is truncated or corrupt: delete it and download it again"
        ) from None
    kind = "images" if images else "labels"
    magic_expected = _IDX_IMAGES if images else _IDX_LABELS
    head = 16 if images else 8
    if len(data) < head:
        raise DataError(f"{path} is {len(data)} bytes, too short for an IDX {kind} header; download it again")
    magic = int.from_bytes(data[0:4], "big")
    if magic != magic_expected:
        raise DataError(
            f"{path} is not an IDX {kind} file (magic number {magic:#010x}, expected {magic_expected:#010x}); "
            "check that the images and labels files are not swapped or replace the file"
        )
    n = int.from_bytes(data[4:8], "big")
    shape: tuple[int, ...] = (n,)
    if images:
        shape = (n, int.from_bytes(data[8:12], "big"), int.from_bytes(data[12:16], "big"))
    size = int(np.prod(shape))
    if len(data) - head != size:
        raise DataError(
            f"{path} holds {len(data) - head} bytes of {kind} but its header announces {shape} = {size}; "
            "the file is truncated or corrupt: delete it and download it again"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=head).reshape(shape).copy()


def _mnist_files(root: Path, prefix: str) -> tuple[Path | None, Path | None]:
    def find(kind: str) -> Path | None:
        base = f"{prefix}-{kind}"
        # The official names, gzipped or not, and the common `train-images.idx3-ubyte` variant.
        names = [f"{base}-ubyte", f"{base}-ubyte.gz", f"{prefix}-{kind.replace('-idx', '.idx')}-ubyte"]
        return first_existing(root, names)

    return find("images-idx3"), find("labels-idx1")


def _mnist_part(root: Path, prefix: str) -> Part | None:
    img, lab = _mnist_files(root, prefix)
    if img is None and lab is None:
        return None
    if img is None or lab is None:
        have, miss = (img, "labels") if img is not None else (lab, "images")
        raise DataError(
            f"{have} has no matching {prefix} {miss} file in {root}; "
            f"put {prefix}-{miss}-idx{3 if miss == 'images' else 1}-ubyte.gz next to it"
        )
    x = read_idx(img, images=True)
    y = read_idx(lab, images=False)
    if len(x) != len(y):
        raise DataError(f"{img} has {len(x)} images but {lab} has {len(y)} labels; one of them is wrong")
    return Part(ArrayImages(x), y)


def _mnist_download(root: Path) -> None:
    for prefix in ("train", "t10k"):
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{prefix}-{kind}-ubyte.gz"
            if not (root / name).is_file() and not (root / name[:-3]).is_file():
                download([m + name for m in MNIST_MIRRORS], root / name)


def _load_mnist_parts(cfg: Any, name: str) -> tuple[Part, Part | None]:
    root = data_root(cfg, name, create=True)
    train, test = _mnist_part(root, "train"), _mnist_part(root, "t10k")
    if train is None and test is None:
        if not cfg.download:
            raise missing_files(
                name, root, ["train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"], MNIST_MIRRORS[0]
            )
        _mnist_download(root)
        train, test = _mnist_part(root, "train"), _mnist_part(root, "t10k")
    if train is None:
        # Only the 10k test set is there (as in ../shared/data): one split, a test part is held out.
        assert test is not None
        return test, None
    return train, test


@DATASETS.register("mnist", help="MNIST IDX files in data.root (t10k only = one split); data.download")
def load_mnist(cfg: Any) -> Dataset:
    train, test = _load_mnist_parts(cfg, "mnist")
    return Dataset("mnist", "image", list(DIGIT_CLASSES), train, test)


def _striped(cfg: Any, name: str, color: tuple[int, int, int]) -> Dataset:
    train, test = _load_mnist_parts(cfg, name)
    parts = [p for p in (train, test) if p is not None]
    arrays = [p.inputs.array for p in parts]  # type: ignore[union-attr]
    # One parameter draw over train then test: image i gets the same stripes in both colours.
    rgb = add_stripes(np.concatenate(arrays), cfg.stripes_seed, color)
    n_train = len(train)
    new_train = Part(ArrayImages(rgb[:n_train]), train.labels)
    new_test = Part(ArrayImages(rgb[n_train:]), test.labels) if test is not None else None
    return Dataset(
        name, "image", list(DIGIT_CLASSES), new_train, new_test, {"stripes_seed": cfg.stripes_seed}
    )


@DATASETS.register("mnist_stripes_white", help="MNIST with white stripes (data.stripes_seed), as mnist")
def load_mnist_stripes_white(cfg: Any) -> Dataset:
    return _striped(cfg, "mnist_stripes_white", WHITE)


@DATASETS.register("mnist_stripes_yellow", help="MNIST with yellow stripes, aligned with the white ones")
def load_mnist_stripes_yellow(cfg: Any) -> Dataset:
    return _striped(cfg, "mnist_stripes_yellow", YELLOW)
