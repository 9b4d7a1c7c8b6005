"""Check that the inputs given to ``ssft predict`` are of the kind the run's backbone reads.

A text run given image paths would classify the paths as text, confidently and wrongly; an image
run given texts would fail on the first "file". Both are refused with one message saying why.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssft.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def looks_like_image_path(value: Any) -> bool:
    return isinstance(value, str | Path) and str(value).lower().endswith(IMAGE_EXTENSIONS)


def check_modality(inputs: Sequence[Any], modality: str, *, source: str, backbone: str) -> None:
    """Raise a DataError when ``inputs`` (paths or texts read from ``source``) do not suit ``modality``."""
    if not inputs:
        return
    images = sum(looks_like_image_path(v) for v in inputs)
    example = str(next((v for v in inputs if not looks_like_image_path(v)), inputs[0]))[:60]
    if modality == "text" and images == len(inputs):
        raise DataError(
            f"this run's backbone ({backbone}) reads text, but {source} gives image files "
            f"(e.g. {inputs[0]}); give a CSV with a text column (--column NAME)"
        )
    if modality == "image" and images < len(inputs):
        raise DataError(
            f"this run's backbone ({backbone}) reads images, but {source} gives "
            f"{len(inputs) - images} value(s) that are not image file paths (e.g. {example!r}); "
            "give a folder of images, or a CSV column of image paths (--column NAME)"
        )


def for_predict(error: DataError) -> DataError:
    """A data error raised while predicting, without advice that only training accepts.

    Reading a corrupt image says "pass data.skip_bad=true", a training key: ``ssft predict`` has no
    such option and must name the file to remove instead.
    """
    text = str(error)
    head, sep, _ = text.partition(", or pass data.skip_bad=true")
    if not sep:
        return error
    return DataError(f"{head}: remove it from the inputs and run ssft predict again")
