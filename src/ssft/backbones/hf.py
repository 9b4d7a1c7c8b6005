"""Hugging Face ``transformers`` backbones: ``hf:<hub id>`` or ``hf:<local folder>``.

Vision: DINOv2 (with or without registers), the CLIP and SigLIP vision towers, plain ViT, and
RADIO (its own remote code, only with ``backbone.trust_remote_code=true``). Text: any encoder
``AutoModel`` with its ``AutoTokenizer`` (BERT, MiniLM, sentence-transformers checkpoints).

Loading never hides the cause: a model that cannot be found raises one :class:`BackboneError`
naming the model, why, and what to do. Only safetensors weights are read.

This module reads a model's config, decides which kind of model it is and loads it; the pieces
live next to it: the vision encoders in :mod:`ssft.backbones.hf_vision`, the text encoder in
:mod:`ssft.backbones.hf_text`, where a name points and the quiet, clearly failing loading calls
in :mod:`ssft.backbones.hf_loading`, and what the encoders share in :mod:`ssft.backbones.hf_base`.
"""

from __future__ import annotations

import os
from typing import Any

from ssft.backbones.base import Backbone
from ssft.backbones.families import register_family
from ssft.backbones.hf_base import check_pooling
from ssft.backbones.hf_loading import from_pretrained_quietly, load_error, read_json, resolve_source
from ssft.backbones.hf_text import NO_POOLER_TYPES, HFTextBackbone
from ssft.backbones.hf_vision import (
    VISION_FAMILIES,
    HFVisionBackbone,
    RadioBackbone,
    image_preprocess,
    model_class,
)
from ssft.backbones.hub import check_hub_model_available
from ssft.config import BackboneConfig
from ssft.errors import BackboneError


@register_family("hf")
def load_hf(cfg: BackboneConfig) -> Backbone:
    """Build ``hf:<id or folder>``; see the module docstring."""
    name = cfg.name
    model_id = name.split(":", 1)[1].strip()
    if not model_id:
        raise BackboneError("backbone.name=hf: needs a hub id or a folder, e.g. hf:facebook/dinov2-small")
    check_pooling(cfg.pooling)
    if "radio" in model_id.lower() and not cfg.trust_remote_code:
        raise BackboneError(
            f"{model_id} runs its own model code from the hub, and remote code is refused by default; "
            "if you trust it, allow it with backbone.trust_remote_code=true"
        )
    src, revision_id = resolve_source(model_id, cfg.revision)
    rev = cfg.revision if src == model_id else None
    if not os.path.isdir(src):  # a hub id, not a folder
        check_hub_model_available(model_id, rev)

    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(src, revision=rev, trust_remote_code=cfg.trust_remote_code)
    except Exception as e:
        if "trust_remote_code" in str(e):
            raise BackboneError(
                f"{model_id} needs its own model code, and remote code is refused by default; "
                "if you trust it, allow it with backbone.trust_remote_code=true"
            ) from None
        raise load_error(model_id, e) from None
    revision_id = getattr(config, "_commit_hash", None) or revision_id
    model_type = getattr(config, "model_type", "")

    if "radio" in model_type.lower() or "radio" in model_id.lower():
        from transformers import AutoModel

        model = from_pretrained_quietly(AutoModel, src, model_id, revision=rev, trust_remote_code=True)
        return RadioBackbone(name, model, size=cfg.image_size, pooling=cfg.pooling, revision_id=revision_id)

    if model_type in VISION_FAMILIES:
        family, default_size, mean, std = VISION_FAMILIES[model_type]
        kw: dict[str, Any] = {"revision": rev, "use_safetensors": True}
        if family == "vit":
            kw["add_pooling_layer"] = False
        model = from_pretrained_quietly(model_class(family), src, model_id, **kw)
        pre = image_preprocess(
            read_json(src, "preprocessor_config.json", rev),
            size=cfg.image_size,
            # DINOv2 configs say 518 (its position grid) but it is evaluated at 224.
            default_size=min(default_size, int(model.config.image_size))
            if family.startswith("dinov2")
            else int(model.config.image_size),
            mean=mean,
            std=std,
        )
        return HFVisionBackbone(
            name, model, family=family, preprocess=pre, pooling=cfg.pooling, revision_id=revision_id
        )
    return _load_text(cfg, model_id, src, rev, config, revision_id)


def _load_text(
    cfg: BackboneConfig, model_id: str, src: str, rev: str | None, config: Any, revision_id: str
) -> Backbone:
    from transformers import AutoModel, AutoTokenizer

    kw: dict[str, Any] = {
        "revision": rev,
        "use_safetensors": True,
        "trust_remote_code": cfg.trust_remote_code,
    }
    if config.model_type in NO_POOLER_TYPES:
        kw["add_pooling_layer"] = False
    model = from_pretrained_quietly(AutoModel, src, model_id, **kw)
    if not hasattr(model.config, "hidden_size") or not hasattr(model, "get_input_embeddings"):
        raise BackboneError(
            f"{model_id} (model_type {config.model_type!r}) is not a supported backbone: expected a "
            "DINOv2, CLIP, SigLIP, ViT or RADIO vision model, or a text encoder"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(src, revision=rev, trust_remote_code=cfg.trust_remote_code)
    except Exception as e:
        raise load_error(model_id, e) from None

    # A sentence-transformers checkpoint says how it pools, and whether it normalises.
    default_pooling, normalize = "mean", False
    modules = read_json(src, "modules.json", rev)
    if isinstance(modules, list):
        normalize = any(str(m.get("type", "")).endswith("Normalize") for m in modules)
        pool_dir = next((m.get("path") for m in modules if str(m.get("type", "")).endswith("Pooling")), None)
        pool_cfg = read_json(src, f"{pool_dir}/config.json", rev) if pool_dir else None
        if (
            pool_cfg
            and pool_cfg.get("pooling_mode_cls_token")
            and not pool_cfg.get("pooling_mode_mean_tokens")
        ):
            default_pooling = "cls"
    return HFTextBackbone(
        cfg.name,
        model,
        tokenizer,
        max_length=cfg.max_length,
        pooling=cfg.pooling,
        default_pooling=default_pooling,
        normalize=normalize,
        revision_id=revision_id,
        tokenizer_id=model_id,
    )
