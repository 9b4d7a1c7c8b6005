"""Raw items -> the exported graph's inputs, as ssft itself prepares them.

This is the reference a user's own preprocessing should reproduce, and what the export's
verification and ``Run.predict(..., engine="onnx")`` feed to onnxruntime.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ssft.errors import DataError


def image_pixels(items: Sequence[Any], size: int) -> np.ndarray:
    """Image paths or uint8 arrays -> uint8 (N, size, size, 3).

    Grey images are repeated to 3 channels and alpha is dropped, as ssft does. An image of another
    size is resized with ssft's antialiased bilinear filter and rounded to uint8 (at most half a
    grey level from the float values ssft's own resize hands the network)."""
    from ssft.backbones.base import _as_uint8_hwc, _resize_hwc
    from ssft.data.base import read_image

    out = np.zeros((len(items), size, size, 3), dtype=np.uint8)
    for i, item in enumerate(items):
        if isinstance(item, str | Path):
            item = read_image(Path(item))
        a = _as_uint8_hwc(item)
        if a.shape[2] == 1:
            a = np.repeat(a, 3, axis=2)
        if a.shape[:2] != (size, size):
            a = _resize_hwc(np.array(a), size).round_().clamp_(0, 255).byte().numpy()
        out[i] = a
    return out


def text_ids(items: Sequence[Any], tokenizer: Any, max_length: int) -> dict[str, np.ndarray]:
    """Texts -> ``input_ids`` and ``attention_mask`` int64 (N, L), padded to the longest text."""
    bad = next((x for x in items if not isinstance(x, str)), None)
    if bad is not None:
        raise DataError(f"this model reads text; got a {type(bad).__name__} item ({str(bad)[:40]!r})")
    enc = tokenizer(list(items), padding=True, truncation=True, max_length=max_length, return_tensors="np")
    return {k: np.asarray(enc[k], dtype=np.int64) for k in ("input_ids", "attention_mask")}


def onnx_inputs(run: Any, items: Sequence[Any]) -> dict[str, np.ndarray]:
    """The exported graph's inputs for raw ``items`` of a loaded run (:class:`ssft.api.Run`):
    ``{"pixels": uint8 (N, S, S, 3)}`` for images, ``{"input_ids", "attention_mask"}`` for text."""
    backbone = run.method.model.backbone
    if backbone.modality == "image":
        return {"pixels": image_pixels(items, backbone.preprocess.size)}
    return text_ids(items, backbone.tokenizer, backbone.preprocess.max_length)
