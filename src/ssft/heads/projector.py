"""Projectors: the small trainable network between the backbone and the classifier.

* ``transformer`` (TwinTURBO, arXiv 2503.07851): tokens ``(B, N, D)`` -> linear to width ``d`` ->
  a learned [CLS] token is prepended -> ``depth`` pre-norm transformer layers -> aggregation -> ``z``.
* ``mlp``: the pooled latent ``z* (B, D)`` -> two-layer MLP -> ``z (B, d)``.
* ``identity``: ``z = z*`` (a linear probe when followed by a linear classifier).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ssft.backbones.base import Features
from ssft.heads.aggregators import build_aggregation


class TransformerProjector(nn.Module):
    """Small transformer encoder over backbone tokens with token aggregation.

    Input ``Features`` with tokens ``(B, N, D)`` and mask ``(B, N)``; output ``z (B, width)``.
    Padding tokens are masked in attention and in the aggregation.
    """

    #: the learned [CLS] token is an embedding, not a weight matrix: no weight decay
    no_weight_decay = ("cls",)

    def __init__(
        self,
        in_dim: int,
        width: int = 256,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.1,
        aggregation: str = "cls",
    ) -> None:
        super().__init__()
        self.out_dim = width
        self.inp = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, width))
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        nn.init.trunc_normal_(self.cls, std=0.02)
        layer = nn.TransformerEncoderLayer(
            width,
            heads,
            dim_feedforward=int(width * mlp_ratio),
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        # enable_nested_tensor is off: it is a fast path for inference only and warns with norm_first.
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False) if depth else None
        self.norm = nn.LayerNorm(width)
        self.aggregate = build_aggregation(aggregation, width, heads)

    def forward(self, feats: Features) -> Tensor:
        if feats.tokens is None:
            raise ValueError(
                "the transformer projector needs backbone tokens (B, N, D) but the features hold only "
                "the pooled latent; use cache.store=all|reduced or model.projector=mlp"
            )
        x = self.inp(feats.tokens)
        b = x.shape[0]
        x = torch.cat([self.cls.expand(b, -1, -1).to(x.dtype), x], dim=1)
        mask = None
        if feats.mask is not None:
            mask = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=x.device), feats.mask.bool()], dim=1)
        if self.encoder is not None:
            x = self.encoder(x, src_key_padding_mask=None if mask is None else ~mask)
        return self.aggregate(self.norm(x), mask)


class MLPProjector(nn.Module):
    """Pooled latent ``(B, D)`` -> ``(B, width)``."""

    def __init__(self, in_dim: int, width: int = 256, dropout: float = 0.1) -> None:
        super().__init__()
        self.out_dim = width
        self.net = nn.Sequential(
            nn.LayerNorm(in_dim),
            nn.Linear(in_dim, width),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(width, width),
        )

    def forward(self, feats: Features) -> Tensor:
        return self.net(feats.pooled)


class IdentityProjector(nn.Module):
    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.out_dim = in_dim

    def forward(self, feats: Features) -> Tensor:
        return feats.pooled
