"""The data contract: a dataset is one or two labelled parts of random-access inputs.

Images are uint8 arrays ``(H, W)``, ``(H, W, 3)`` (or RGBA/16-bit, normalised by the backbone's
``prepare``); texts are ``str``. Labels are ``int64`` with ``-1`` meaning unlabelled.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ssft.errors import DataError
from ssft.registry import Registry

UNLABELED = -1


class ArrayImages:
    """Images held in one uint8 array ``(N, H, W)`` or ``(N, H, W, C)``."""

    def __init__(self, array: np.ndarray) -> None:
        if array.ndim not in (3, 4):
            raise DataError(f"image array must be (N, H, W) or (N, H, W, C), got {array.shape}")
        self.array = array

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def __getitem__(self, i: int) -> np.ndarray:
        return self.array[i]

    def identity(self) -> str:
        return hashlib.sha256(np.ascontiguousarray(self.array).tobytes()).hexdigest()[:16]


class FileImages:
    """Images read lazily from files with Pillow; a bad file raises a DataError naming it."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self.paths = [Path(p) for p in paths]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> np.ndarray:
        return read_image(self.paths[i])

    def identity(self) -> str:
        h = hashlib.sha256()
        for p in self.paths:
            h.update(str(p).encode())
            try:
                st = p.stat()
                h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
            except OSError:
                h.update(b"missing")
        return h.hexdigest()[:16]


def read_image(path: Path) -> np.ndarray:
    """Decode one image file to a uint8 array (H, W, 3); grey, RGBA, palette and 16-bit are converted."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                a = np.asarray(im, dtype=np.float64)
                top = a.max() or 1.0
                a = (a * (255.0 / max(top, 255.0 if top <= 255 else top))).clip(0, 255)
                return np.repeat(a.astype(np.uint8)[:, :, None], 3, axis=2)
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"image file {path} does not exist; check data.root / the CSV paths") from None
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        Image.DecompressionBombError,
    ) as e:
        raise DataError(
            f"cannot decode image {path} ({e}); the file is corrupt or not an image: "
            "replace or delete it, or pass data.skip_bad=true to drop bad files"
        ) from None


Inputs = ArrayImages | FileImages | list[str]


@dataclass
class Part:
    """One split of a dataset: inputs and their labels (-1 = unlabelled)."""

    inputs: Inputs
    labels: np.ndarray

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if len(self.inputs) != len(self.labels):
            raise DataError(f"{len(self.inputs)} inputs but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Dataset:
    """A loaded dataset. ``test`` is None when the source has one split only (a held-out part is
    then carved from ``train``, see :mod:`ssft.data.splits`)."""

    name: str
    modality: Literal["image", "text", "features"]
    classes: list[str]
    train: Part
    test: Part | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def identity(self) -> str:
        """A fingerprint of the data itself, part of the feature-cache key."""
        h = hashlib.sha256(self.name.encode())
        for part in (self.train, self.test):
            if part is None:
                continue
            inp = part.inputs
            if isinstance(inp, list):
                for s in inp:
                    h.update(s.encode("utf-8", "replace"))
                    h.update(b"\0")
            else:
                h.update(inp.identity().encode())
        return h.hexdigest()[:16]

    def check_labels(self) -> None:
        """Every label is -1 or in 0..K-1 (a label out of range is never silently used)."""
        k = self.num_classes
        for pname, part in (("train", self.train), ("test", self.test)):
            if part is None:
                continue
            bad = np.flatnonzero((part.labels < UNLABELED) | (part.labels >= k))
            if bad.size:
                i = int(bad[0])
                raise DataError(
                    f"{self.name}: label {int(part.labels[i])} of {pname} item {i} is out of range; "
                    f"there are {k} classes ({', '.join(self.classes[:10])}{'...' if k > 10 else ''}), "
                    f"so labels must be 0..{k - 1} (or empty for unlabelled)"
                )


Loader = Callable[..., Dataset]
DATASETS: Registry[Loader] = Registry("dataset")
