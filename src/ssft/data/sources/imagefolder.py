"""``data.name=imagefolder``: a folder of images, one sub-folder per class, plus optional
unlabelled images (``data.unlabeled_dir``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ssft.data.base import DATASETS, UNLABELED, Dataset, FileImages, Part
from ssft.data.paths import resolve_data_path, where_looked
from ssft.data.sources.common import data_root, drop_bad_images
from ssft.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _image_files(folder: Path) -> list[Path]:
    """Image files below ``folder`` (recursive, sorted, hidden files skipped)."""
    out = []
    for p in folder.rglob("*"):
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file():
            rel = p.relative_to(folder).parts
            if not any(part.startswith(".") for part in rel):
                out.append(p)
    return sorted(out)


@DATASETS.register(
    "imagefolder", help="data.root/<class>/*.png|jpg...; data.unlabeled_dir = unlabelled images"
)
def load_imagefolder(cfg: Any) -> Dataset:
    root = data_root(cfg, "imagefolder")
    if not root.is_dir():
        raise DataError(
            f"data.root={root} is not a folder (looked in {where_looked(root)}); "
            "point it at a folder with one sub-folder per class"
        )
    unl = resolve_data_path(cfg.unlabeled_dir) if cfg.unlabeled_dir else None
    unl_res = unl.resolve() if unl is not None else None
    class_dirs = sorted(
        d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and d.resolve() != unl_res
    )
    if not class_dirs:
        raise DataError(
            f"data.root={root} has no class sub-folders; put the images of each class in "
            f"{root}/<class name>/ (extensions {', '.join(IMAGE_EXTENSIONS)})"
        )
    paths: list[Path] = []
    labels: list[int] = []
    empty = []
    for c, d in enumerate(class_dirs):
        files = _image_files(d)
        if not files:
            empty.append(d.name)
        paths += files
        labels += [c] * len(files)
    if empty:
        raise DataError(
            f"class folder(s) {', '.join(empty)} in {root} hold no image "
            f"({', '.join(IMAGE_EXTENSIONS)}); add images or remove the folder(s)"
        )
    if unl is not None:
        if not unl.is_dir():
            raise DataError(f"data.unlabeled_dir={unl} is not a folder; fix the path or unset it")
        files = _image_files(unl)
        if not files:
            raise DataError(f"data.unlabeled_dir={unl} holds no image ({', '.join(IMAGE_EXTENSIONS)})")
        paths += files
        labels += [UNLABELED] * len(files)
    extra: dict[str, Any] = {}
    if cfg.skip_bad:
        paths, labels, extra["bad_files"] = drop_bad_images(paths, labels)
        present = set(labels)
        gone = [d.name for c, d in enumerate(class_dirs) if c not in present]
        if gone:
            raise DataError(
                f"every image of class folder(s) {', '.join(gone)} is unreadable; fix or remove them"
            )
    return Dataset(
        "imagefolder",
        "image",
        [d.name for d in class_dirs],
        Part(FileImages(paths), np.asarray(labels, dtype=np.int64)),
        None,
        extra,
    )
