"""The classification model: backbone -> projector -> classifier.

The backbone may be frozen (its features then usually come from the feature cache) or trainable;
:meth:`SSFTModel.head` runs projector and classifier on :class:`~ssft.backbones.base.Features`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ssft.backbones.base import Backbone, Features
from ssft.heads.classifier import CosineClassifier, LinearClassifier
from ssft.heads.projector import IdentityProjector, MLPProjector, TransformerProjector


@dataclass
class HeadOutput:
    """z (B, d) projector latent, scores (B, K) class scores, pooled (B, D) backbone latent z*."""

    z: Tensor
    scores: Tensor
    pooled: Tensor


def build_projector(cfg: Any, in_dim: int) -> nn.Module:
    if cfg.projector == "transformer":
        return TransformerProjector(
            in_dim, cfg.width, cfg.depth, cfg.heads, cfg.mlp_ratio, cfg.dropout, cfg.aggregation
        )
    if cfg.projector == "mlp":
        return MLPProjector(in_dim, cfg.width, cfg.dropout)
    return IdentityProjector(in_dim)


def build_classifier(cfg: Any, dim: int, num_classes: int) -> nn.Module:
    if cfg.classifier == "cosine":
        return CosineClassifier(
            dim,
            num_classes,
            rescaling=cfg.sigmoid_rescaling,
            init_temperature=cfg.init_temperature,
            init_bias=cfg.init_bias,
            max_temperature=cfg.max_temperature,
        )
    return LinearClassifier(dim, num_classes)


class SSFTModel(nn.Module):
    """Backbone + projector + classifier. ``cfg`` is a :class:`~ssft.config.ModelConfig`."""

    def __init__(self, backbone: Backbone, cfg: Any, num_classes: int, center: bool | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.num_classes = num_classes
        self.projector = build_projector(cfg, backbone.dim)
        self.classifier = build_classifier(cfg, self.projector.out_dim, num_classes)
        # ``center`` resolved by the caller (ssft.methods.base.centers_input); else model.center as set
        self.center = bool(getattr(cfg, "center", False)) if center is None else center
        if self.center:
            # set by the training loop from the training pool (set_feature_mean), saved with the model
            self.register_buffer("feature_mean", torch.zeros(backbone.dim))

    @property
    def latent_dim(self) -> int:
        return int(self.projector.out_dim)

    def head(self, feats: Features) -> HeadOutput:
        if self.center:
            mean = self.feature_mean.to(feats.pooled.dtype)
            feats = Features(feats.pooled - mean, feats.tokens, feats.mask)
        z = self.projector(feats)
        return HeadOutput(z=z, scores=self.classifier(z), pooled=feats.pooled)

    @torch.no_grad()
    def set_feature_mean(self, mean: Tensor) -> None:
        """The (D,) mean pooled feature of the training pool that ``model.center`` subtracts."""
        if not self.center:
            raise ValueError("set_feature_mean needs a model built with model.center=true")
        if mean.shape != self.feature_mean.shape:
            raise ValueError(f"feature mean must be ({self.feature_mean.shape[0]},), got {tuple(mean.shape)}")
        self.feature_mean.copy_(mean.to(self.feature_mean))

    def encode(self, raw: list[Any], device: torch.device) -> Features:
        """Raw inputs -> backbone features (with gradients when the backbone is trainable)."""
        inputs = self.backbone.to_device(self.backbone.collator()(raw), device)
        return self.backbone.encode(inputs)

    def head_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if not n.startswith("backbone.") and p.requires_grad]

    def backbone_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.backbone.parameters() if p.requires_grad]
