"""``timm:<model>``: a timm vision transformer (``pip install 'ssft[timm]'``).

``tokens`` = ``forward_features`` (B, prefix + patches, D) after the final norm, ``pooled`` = the
model's own head pooling (``forward_head(pre_logits=True)``). Preprocessing from timm's data config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from ssft.backbones.base import Backbone, Features, ImagePreprocess
from ssft.backbones.families import register_family
from ssft.backbones.hf_base import check_pooling, find_blocks
from ssft.backbones.hf_loading import load_error
from ssft.config import BackboneConfig
from ssft.errors import BackboneError


class TimmBackbone(Backbone):
    """A timm ViT such as ``timm:vit_small_patch14_dinov2.lvd142m``."""

    modality = "image"
    device_preprocessing = True
    preprocess: ImagePreprocess

    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        try:
            import timm
            from timm.data import resolve_data_config
        except ImportError:
            raise BackboneError(f"{cfg.name} needs timm: pip install 'ssft[timm]'") from None
        self.name = cfg.name
        self.pooling = check_pooling(cfg.pooling)
        self.revision_id = cfg.revision or ""
        model_name = cfg.name.split(":", 1)[1].strip()
        kw: dict[str, Any] = {"pretrained": True, "num_classes": 0}
        if cfg.image_size:
            kw["img_size"] = cfg.image_size
        try:
            self.model = timm.create_model(model_name, **kw)
        except RuntimeError as e:  # unknown model name
            raise BackboneError(f"timm cannot build {model_name!r}: {e}") from None
        except Exception as e:  # weights missing offline
            raise load_error(f"timm/{model_name}", e) from None
        dc = resolve_data_config({}, model=self.model)
        size = int(cfg.image_size or dc["input_size"][-1])
        self.preprocess = ImagePreprocess(size, tuple(dc["mean"]), tuple(dc["std"]))  # type: ignore[arg-type]
        self.dim = int(self.model.num_features)
        self.num_prefix_tokens = int(getattr(self.model, "num_prefix_tokens", 0))
        self.eval()

    def encode(self, inputs: dict[str, Tensor]) -> Features:
        tokens = self.model.forward_features(inputs["pixel_values"])
        if tokens.ndim == 4:  # a CNN: (B, C, H, W) -> (B, HW, C)
            tokens = tokens.flatten(2).transpose(1, 2)
            pooled = tokens.mean(dim=1)
        elif self.pooling == "mean":
            pooled = tokens[:, self.num_prefix_tokens :].mean(dim=1)
        elif self.pooling == "cls" and self.num_prefix_tokens:
            pooled = tokens[:, 0]
        else:
            pooled = self.model.forward_head(tokens, pre_logits=True)
        return Features(pooled=pooled, tokens=tokens, mask=None)

    def enable_gradient_checkpointing(self) -> Backbone:
        if not hasattr(self.model, "set_grad_checkpointing"):
            return super().enable_gradient_checkpointing()
        self.model.set_grad_checkpointing(True)
        return self

    def blocks(self) -> Sequence[nn.Module]:
        return find_blocks(self.model)

    def final_norm_parameters(self) -> list[nn.Parameter]:
        norm = getattr(self.model, "norm", None)
        return list(norm.parameters()) if isinstance(norm, nn.Module) else []


@register_family("timm")
def build_timm(cfg: BackboneConfig) -> Backbone:
    """``timm:<model>``; timm itself is imported only here, when such a backbone is built."""
    return TimmBackbone(cfg)
