"""Forward passes without gradients: class probabilities over a source's items, pooled features,
and backbone features of raw inputs (prediction on new data)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ssft.backbones.base import Backbone, Features
from ssft.methods.base import Method
from ssft.train.runtime import autocast_for
from ssft.train.streams import FeatureSource


@torch.no_grad()
def predict(
    method: Method,
    source: FeatureSource,
    idx: np.ndarray,
    batch_size: int,
    device: torch.device,
    precision: str = "auto",
) -> np.ndarray:
    """Class probabilities (n, K) for items ``idx`` of a source."""
    was = method.training
    method.eval()
    out = []
    for start in range(0, len(idx), batch_size):
        with autocast_for(device, precision):
            feats = source.get(idx[start : start + batch_size])
            probs = method.probabilities(feats)
        out.append(probs.float().cpu())
    method.train(was)
    return torch.cat(out).numpy() if out else np.zeros((0, method.num_classes))


def pooled_features(source: FeatureSource, idx: np.ndarray, batch_size: int) -> np.ndarray:
    """The pooled features (n, D) of items ``idx`` of a source, as float32, written batch by batch
    into one array (no second copy of the whole)."""
    out: np.ndarray | None = None
    with torch.no_grad():
        for s in range(0, len(idx), batch_size):
            part = source.get(idx[s : s + batch_size]).pooled.float().cpu().numpy()
            if out is None:
                out = np.empty((len(idx), part.shape[1]), dtype=np.float32)
            out[s : s + len(part)] = part
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def encode_raw(
    backbone: Backbone, raw: list[Any], device: torch.device, batch_size: int, precision: str = "auto"
) -> Features:
    """Backbone features of raw inputs, batched, without gradients (prediction on new data), under
    the same autocast as extraction and training."""
    parts = []
    collate = backbone.collator()
    with torch.inference_mode(), autocast_for(device, precision):
        for s in range(0, len(raw), batch_size):
            inputs = backbone.to_device(collate(raw[s : s + batch_size]), device)
            parts.append(backbone.encode(inputs).to("cpu", torch.float32))
    return Features.cat(parts)
