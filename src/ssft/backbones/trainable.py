"""Which backbone weights train: the four modes of ``backbone.*``.

=====================  =========================================================================
frozen (default)       ``frozen=true``: nothing trains; features can come from the cache
last blocks            ``frozen=false, train_blocks=n``: the last n blocks and the final norm
full                   ``frozen=false, train_blocks=0``: every backbone weight
LoRA                   ``frozen=false, lora=true``: low-rank adapters only (``ssft[peft]``)
=====================  =========================================================================

A trainable backbone (any mode but frozen) runs at every step, so the feature cache is bypassed.
Its parameters train at ``train.backbone_lr`` (see :mod:`ssft.train.optim` for layer-wise decay).
"""

from __future__ import annotations

from torch import nn

from ssft.backbones.base import Backbone
from ssft.config import BackboneConfig


def mode_name(cfg: BackboneConfig) -> str:
    """``frozen``, ``last<n>``, ``full`` or ``lora``."""
    if cfg.frozen:
        return "frozen"
    if cfg.lora:
        return "lora"
    return f"last{cfg.train_blocks}" if cfg.train_blocks else "full"


def backbone_trains(backbone: Backbone) -> bool:
    """Whether any backbone parameter trains (last blocks, full, LoRA adapters). A frozen backbone
    never changes: it is rebuilt from its name, never saved, and DDP leaves it alone."""
    return any(p.requires_grad for p in backbone.parameters())


def set_dropout(backbone: Backbone, rate: float) -> None:
    """Set the rate of every ``nn.Dropout`` layer of ``backbone`` (``backbone.dropout``). Rates only
    matter in training mode, so evaluation is unchanged. Attention implementations that read their
    dropout layer's ``p`` (Hugging Face's) follow it too."""
    for m in backbone.modules():
        if isinstance(m, nn.Dropout):
            m.p = rate


def configure_trainable(backbone: Backbone, cfg: BackboneConfig) -> Backbone:
    """Set which weights of ``backbone`` train, as ``cfg`` says (in place; returns it)."""
    if cfg.frozen:
        return backbone.freeze()
    backbone.frozen_bn_stats = cfg.bn_stats == "frozen"  # applied by the train() calls below
    if cfg.dropout is not None:
        set_dropout(backbone, cfg.dropout)
    if cfg.lora:
        from ssft.backbones.lora import apply_lora

        apply_lora(
            backbone,
            rank=cfg.lora_rank,
            alpha=cfg.lora_alpha,
            dropout=cfg.lora_dropout,
            targets=cfg.lora_targets,
        )
        backbone.frozen = False
        backbone.train()
    else:
        backbone.unfreeze_last(cfg.train_blocks)
    if cfg.gradient_checkpointing:
        backbone.enable_gradient_checkpointing()
    return backbone
