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
        #: the transformer projector reads tokens: they are centred by the pool's mean token
        self.centers_tokens = self.center and getattr(cfg, "projector", "") == "transformer"
        if self.center:
            # set by the training loop from the training pool (set_feature_mean), saved with the model
            self.register_buffer("feature_mean", torch.zeros(backbone.dim))
        if self.centers_tokens:
            self.register_buffer("token_mean", torch.zeros(backbone.dim))
        # A run saved before a mean existed (e.g. the transformer projector, uncentred until then)
        # loads with a zero mean: exactly the uncentred model it was trained as.
        self.register_load_state_dict_pre_hook(_zero_missing_means)

    @property
    def latent_dim(self) -> int:
        return int(self.projector.out_dim)

    def head(self, feats: Features) -> HeadOutput:
        if self.center:
            mean = self.feature_mean.to(feats.pooled.dtype)
            tokens = feats.tokens
            if self.centers_tokens and tokens is not None:
                tokens = tokens - self.token_mean.to(tokens.dtype)
            feats = Features(feats.pooled - mean, tokens, feats.mask)
        z = self.projector(feats)
        return HeadOutput(z=z, scores=self.classifier(z), pooled=feats.pooled)

    @torch.no_grad()
    def set_feature_mean(self, mean: Tensor, token_mean: Tensor | None = None) -> None:
        """The (D,) mean pooled feature of the training pool that ``model.center`` subtracts, and for
        the transformer projector the (D,) mean token (required then, refused otherwise)."""
        if not self.center:
            raise ValueError("set_feature_mean needs a model built with model.center=true")
        if (token_mean is None) == self.centers_tokens:
            raise ValueError(
                "set_feature_mean takes token_mean exactly when the projector is the transformer one"
            )
        for name, value in (("feature_mean", mean), ("token_mean", token_mean)):
            if value is None:
                continue
            buf = getattr(self, name)
            if value.shape != buf.shape:
                raise ValueError(f"{name} must be ({buf.shape[0]},), got {tuple(value.shape)}")
            buf.copy_(value.to(buf))

    def encode(self, raw: list[Any], device: torch.device) -> Features:
        """Raw inputs -> backbone features (with gradients when the backbone is trainable)."""
        inputs = self.backbone.to_device(self.backbone.collator()(raw), device)
        return self.backbone.encode(inputs)

    def head_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if not n.startswith("backbone.") and p.requires_grad]

    def backbone_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.backbone.parameters() if p.requires_grad]


def _zero_missing_means(module: nn.Module, state: dict[str, Any], prefix: str, *args: Any) -> None:
    """Load-state pre-hook of :class:`SSFTModel`: a centring mean absent from ``state`` loads as 0."""
    for name in ("feature_mean", "token_mean"):
        buf = getattr(module, name, None)
        if isinstance(buf, Tensor) and prefix + name not in state:
            state[prefix + name] = torch.zeros_like(buf)
