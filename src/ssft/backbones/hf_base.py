"""What every ``transformers``-backed backbone shares: the pooling choice (part of the fingerprint,
since it changes the cached latent), a padding-aware mean, finding the transformer blocks, and
gradient checkpointing through the model's own switch. :mod:`ssft.backbones.timm` and
:mod:`ssft.backbones.openclip` use the pooling check and block finder too.
"""

from __future__ import annotations

import hashlib
from typing import Any

from torch import Tensor, nn

from ssft.backbones.base import Backbone
from ssft.errors import BackboneError, ConfigError

POOLINGS = ("default", "cls", "mean")


def check_pooling(pooling: str) -> str:
    if pooling not in POOLINGS:
        raise ConfigError(f"backbone.pooling={pooling!r} is unknown; expected one of {', '.join(POOLINGS)}")
    return pooling


def masked_mean(tokens: Tensor, mask: Tensor | None) -> Tensor:
    """(B, N, D), (B, N) bool or None -> (B, D); padding never contributes."""
    if mask is None:
        return tokens.mean(dim=1)
    w = mask.to(tokens.dtype).unsqueeze(-1)
    return (tokens * w).sum(dim=1) / w.sum(dim=1).clamp_min(1.0)


def get_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def find_blocks(model: nn.Module) -> list[nn.Module]:
    """The transformer layers of a transformers (or timm-style) model, first to last."""
    for path in ("encoder.layer", "encoder.layers", "layers", "layer", "model.blocks", "blocks"):
        obj = get_path(model, path)
        if isinstance(obj, nn.ModuleList) and len(obj):
            return list(obj)
    raise BackboneError(f"cannot find the transformer blocks of {type(model).__name__}")


class HFBackboneBase(Backbone):
    """Shared parts: the pooling choice enters the fingerprint (it changes the cached latent)."""

    model: Any
    pooling: str
    revision_id: str

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{super().fingerprint()}|pooling={self.pooling}".encode()).hexdigest()[:16]

    def enable_gradient_checkpointing(self) -> Backbone:
        if not getattr(self.model, "supports_gradient_checkpointing", False):
            return super().enable_gradient_checkpointing()
        # Non-reentrant checkpointing: gradients reach adapters inside blocks whose inputs need none.
        kwargs = {"use_reentrant": False}
        if hasattr(self.model, "activation_checkpointing_enable"):  # its name from transformers 5
            self.model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        return self
