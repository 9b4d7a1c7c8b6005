"""``data.name=galaxy_mnist``: GalaxyMNIST 64x64 images from HDF5 (``train/test_dataset.hdf5``)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ssft.data.base import DATASETS, ArrayImages, Dataset, Part
from ssft.data.sources.common import data_root, download, missing_files
from ssft.errors import DataError

GALAXY_MIRROR = "http://www.jb.man.ac.uk/research/MiraBest/MiraBest_F/"
GALAXY_CLASSES = ["smooth_round", "smooth_cigar", "edge_on_disk", "unbarred_spiral"]


def _galaxy_file(root: Path, split: str) -> Path | None:
    for d in (root, root / "GalaxyMNIST" / "raw"):
        p = d / f"{split}_dataset.hdf5"
        if p.is_file():
            return p
        gz = d / f"{split}_dataset.hdf5.gz"
        if gz.is_file():
            try:
                with gzip.open(gz, "rb") as src, open(p.with_suffix(".hdf5.part"), "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (OSError, EOFError) as e:
                raise DataError(f"cannot decompress {gz} ({e}); delete it and download it again") from None
            p.with_suffix(".hdf5.part").replace(p)
            return p
    return None


def _read_galaxy(path: Path) -> Part:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            x = np.asarray(f["images"][:])
            y = np.asarray(f["labels"][:]).reshape(-1).astype(np.int64)
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise DataError(
            f"cannot read GalaxyMNIST file {path} ({type(e).__name__}: {e}); it needs datasets 'images' "
            "(N, H, W, 3) uint8 and 'labels' (N,): download it again"
        ) from None
    if x.ndim != 4 or x.shape[0] != y.size:
        raise DataError(
            f"{path}: images {x.shape} and {y.size} labels; expected images (N, H, W, 3), labels (N,)"
        )
    if x.shape[-1] != 3 and x.shape[1] == 3:
        x = x.transpose(0, 2, 3, 1)  # tolerate NCHW
    return Part(ArrayImages(np.ascontiguousarray(x).astype(np.uint8, copy=False)), y)


@DATASETS.register("galaxy_mnist", help="GalaxyMNIST 64x64 HDF5 (train/test_dataset.hdf5) in data.root")
def load_galaxy_mnist(cfg: Any) -> Dataset:
    root = data_root(cfg, "galaxy_mnist", create=True)
    files = {s: _galaxy_file(root, s) for s in ("train", "test")}
    if all(v is None for v in files.values()):
        if not cfg.download:
            raise missing_files(
                "galaxy_mnist", root, ["train_dataset.hdf5", "test_dataset.hdf5"], GALAXY_MIRROR
            )
        for s in ("train", "test"):
            download([f"{GALAXY_MIRROR}{s}_dataset.hdf5.gz"], root / f"{s}_dataset.hdf5.gz")
        files = {s: _galaxy_file(root, s) for s in ("train", "test")}
    train = _read_galaxy(files["train"]) if files["train"] else None
    test = _read_galaxy(files["test"]) if files["test"] else None
    if train is None:
        train, test = test, None
    assert train is not None
    return Dataset("galaxy_mnist", "image", list(GALAXY_CLASSES), train, test)
