"""``openclip:<arch>/<pretrained>``: an OpenCLIP vision tower (``pip install 'ssft[openclip]'``).

Only the visual transformer is kept, without its output projection so that ``pooled`` ([CLS]
after ``ln_post``) and the patch ``tokens`` share the width D. ``tokens`` = [CLS] + patches.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ssft.backbones.base import Backbone, Features, ImagePreprocess
from ssft.backbones.families import register_family
from ssft.backbones.hf_base import check_pooling
from ssft.backbones.hf_loading import load_error
from ssft.backbones.hf_vision import CLIP_MEAN, CLIP_STD
from ssft.config import BackboneConfig
from ssft.errors import BackboneError


class OpenClipBackbone(Backbone):
    """E.g. ``openclip:ViT-B-16/laion2b_s34b_b88k``."""

    modality = "image"
    device_preprocessing = True
    preprocess: ImagePreprocess
    num_prefix_tokens = 1

    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        try:
            import open_clip
        except ImportError:
            raise BackboneError(f"{cfg.name} needs open_clip: pip install 'ssft[openclip]'") from None
        self.name = cfg.name
        self.pooling = check_pooling(cfg.pooling)
        self.revision_id = cfg.revision or ""
        arch, _, tag = cfg.name.split(":", 1)[1].strip().partition("/")
        try:
            model = open_clip.create_model(arch, pretrained=tag or None)
        except RuntimeError as e:
            raise BackboneError(f"open_clip cannot build {arch!r}/{tag!r}: {e}") from None
        except Exception as e:
            raise load_error(f"openclip/{arch}/{tag}", e) from None
        visual = model.visual
        if not hasattr(visual, "transformer"):
            raise BackboneError(f"{cfg.name}: only OpenCLIP vision transformers are supported")
        visual.proj = None  # keep the width D; the projection is CLIP's text-alignment space
        visual.output_tokens = True
        self.visual = visual
        native = visual.image_size[0] if isinstance(visual.image_size, tuple) else int(visual.image_size)
        mean = tuple(getattr(visual, "image_mean", None) or CLIP_MEAN)
        std = tuple(getattr(visual, "image_std", None) or CLIP_STD)
        self.preprocess = ImagePreprocess(int(cfg.image_size or native), mean, std)  # type: ignore[arg-type]
        self.dim = int(visual.transformer.width)
        if cfg.image_size and cfg.image_size != native:
            raise BackboneError(
                f"{cfg.name}: backbone.image_size is not supported for OpenCLIP (native {native})"
            )
        self.eval()

    def encode(self, inputs: dict[str, Tensor]) -> Features:
        cls, patches = self.visual(inputs["pixel_values"])
        tokens = torch.cat([cls.unsqueeze(1), patches], dim=1)
        pooled = patches.mean(dim=1) if self.pooling == "mean" else cls
        return Features(pooled=pooled, tokens=tokens, mask=None)

    def blocks(self) -> Sequence[nn.Module]:
        return list(self.visual.transformer.resblocks)

    def final_norm_parameters(self) -> list[nn.Parameter]:
        return list(self.visual.ln_post.parameters())


@register_family("openclip")
def build_openclip(cfg: BackboneConfig) -> Backbone:
    """``openclip:<arch>/<tag>``; open_clip itself is imported only here, when one is built."""
    return OpenClipBackbone(cfg)
