"""``features:<D>``: pre-computed D-dimensional embeddings used as they are.

For embeddings a user already has (from any model): each input is one row of length ``D``; the
pooled latent is the row and the token sequence is that one row, so every head and method of ssft
runs on top of it unchanged. Nothing is learnt or loaded here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ssft.backbones.base import Backbone, Features
from ssft.backbones.families import register_family
from ssft.errors import BackboneError, DataError


@dataclass(frozen=True)
class FeaturePreprocess:
    """No preprocessing: rows are used as given (recorded for the feature-cache fingerprint)."""

    dim: int
    kind: str = "features"


class FeaturesBackbone(Backbone):
    modality = "features"  # type: ignore[assignment]
    num_prefix_tokens = 1

    def __init__(self, name: str) -> None:
        super().__init__()
        _, _, rest = name.partition(":")
        try:
            dim = int(rest)
        except ValueError:
            dim = 0
        if dim < 1:
            raise BackboneError(
                f"backbone {name!r}: pre-computed features need their width, e.g. backbone.name=features:384"
            )
        self.name, self.dim = f"features:{dim}", dim
        self.preprocess = FeaturePreprocess(dim)  # type: ignore[assignment]

    def prepare(self, raw: Sequence[Any]) -> dict[str, Tensor]:
        x = np.asarray(np.stack([np.asarray(r, dtype=np.float32).reshape(-1) for r in raw]), dtype=np.float32)
        if x.shape[1] != self.dim:
            raise DataError(
                f"the features have {x.shape[1]} values per item but the backbone is {self.name}; "
                f"set backbone.name=features:{x.shape[1]}"
            )
        if not np.isfinite(x).all():
            raise DataError("the features hold NaN or infinite values; clean them before training")
        return {"x": torch.from_numpy(x)}

    def encode(self, inputs: dict[str, Tensor]) -> Features:
        x = inputs["x"].float()
        return Features(pooled=x, tokens=x[:, None, :], mask=None)


@register_family("features")
def build_features(cfg: Any) -> Backbone:
    """``features:<D>``: the name alone says everything (the width)."""
    return FeaturesBackbone(cfg.name)
