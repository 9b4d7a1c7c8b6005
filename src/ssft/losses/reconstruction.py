"""Reconstruction of the backbone latent from [content; style] (content-style decomposition)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def reconstruction_loss(*, recon: Tensor, target: Tensor, kind: str = "cosine") -> Tensor:
    """``1 - cos(ẑ, z*)`` or the mean squared error per dimension, averaged over the batch. The
    target ``z*`` is detached, so a trainable backbone cannot win by collapsing its latent."""
    t = target.detach().float()
    r = recon.float()
    if kind == "cosine":
        return (1.0 - F.cosine_similarity(r, t, dim=-1)).mean()
    if kind == "mse":
        return F.mse_loss(r, t)
    raise ValueError(f"unknown reconstruction kind {kind!r}; known: cosine, mse")
