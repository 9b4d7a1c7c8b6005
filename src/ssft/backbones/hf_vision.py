"""``hf:`` vision encoders: DINOv2 (with or without registers), the CLIP and SigLIP vision towers,
plain ViT, and RADIO (its own remote code); the model class and preprocessing of each family.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ssft.backbones.base import Features, ImagePreprocess
from ssft.backbones.hf_base import HFBackboneBase, check_pooling, find_blocks, get_path
from ssft.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HALF = (0.5, 0.5, 0.5)


class HFVisionBackbone(HFBackboneBase):
    """A transformers vision encoder (DINOv2, DINOv2 with registers, CLIP or SigLIP tower, ViT).

    ``tokens`` (B, prefix + (S/p)^2, D) after the final layer norm, ``mask`` None (every token is
    real), ``pooled`` (B, D): [CLS] by default (SigLIP: its attention-pooling head's output).
    """

    modality = "image"
    device_preprocessing = True
    preprocess: ImagePreprocess

    def __init__(
        self,
        name: str,
        model: nn.Module,
        *,
        family: str,
        preprocess: ImagePreprocess,
        pooling: str = "default",
        revision_id: str = "",
    ) -> None:
        super().__init__()
        self.name = name
        self.model = model
        self.family = family
        self.preprocess = preprocess
        self.pooling = check_pooling(pooling)
        self.revision_id = revision_id
        cfg: Any = model.config
        self.dim = int(cfg.hidden_size)
        self.patch_size = int(cfg.patch_size)
        self.native_size = int(cfg.image_size)
        if family == "siglip":
            self.num_prefix_tokens = 0
        elif family == "dinov2_with_registers":
            self.num_prefix_tokens = 1 + int(cfg.num_register_tokens)
        else:
            self.num_prefix_tokens = 1
        if self.pooling == "cls" and self.num_prefix_tokens == 0:
            raise ConfigError(f"{name} has no [CLS] token; use backbone.pooling=default or mean")
        if preprocess.size % self.patch_size:
            raise ConfigError(
                f"backbone.image_size={preprocess.size} is not a multiple of {name}'s patch size {self.patch_size}"
            )
        self.eval()

    def encode(self, inputs: dict[str, Tensor]) -> Features:
        x = inputs["pixel_values"]
        x = x.to(next(self.model.parameters()).dtype)
        kw: dict[str, Any] = {}
        # DINOv2 always interpolates its position embeddings; the others must be asked to.
        if self.family in ("clip", "siglip", "vit") and x.shape[-1] != self.native_size:
            kw["interpolate_pos_encoding"] = True
        out = self.model(pixel_values=x, **kw)
        tokens = out.last_hidden_state
        if self.family == "clip":
            # CLIP applies its final norm to [CLS] only; normalise every token the same way.
            tokens = self.model.post_layernorm(tokens)
        if self.pooling == "mean":
            pooled = tokens[:, self.num_prefix_tokens :].mean(dim=1)
        elif self.family == "siglip":
            pooled = out.pooler_output if out.pooler_output is not None else tokens.mean(dim=1)
        else:
            pooled = tokens[:, 0]
        return Features(pooled=pooled, tokens=tokens, mask=None)

    def blocks(self) -> Sequence[nn.Module]:
        return find_blocks(self.model)

    def final_norm_parameters(self) -> list[nn.Parameter]:
        params: list[nn.Parameter] = []
        for attr in ("layernorm", "post_layernorm", "head"):  # SigLIP's pooling head makes pooled
            mod = getattr(self.model, attr, None)
            if isinstance(mod, nn.Module):
                params += list(mod.parameters())
        return params


class RadioBackbone(HFBackboneBase):
    """NVIDIA RADIO / C-RADIO through its own remote code (trust_remote_code=True).

    RADIO normalises inside the model, so it takes RGB in [0, 1]. ``tokens`` are the spatial
    features (B, (S/16)^2, D), no prefix; ``pooled`` is the first summary ([CLS]) token.
    """

    modality = "image"
    device_preprocessing = True
    num_prefix_tokens = 0
    preprocess: ImagePreprocess

    def __init__(
        self, name: str, model: nn.Module, *, size: int | None, pooling: str, revision_id: str
    ) -> None:
        super().__init__()
        self.name = name
        self.model = model
        self.pooling = check_pooling(pooling)
        self.revision_id = revision_id
        pref = getattr(model, "preferred_resolution", None)
        native = int(pref[0]) if pref is not None else 224
        self.preprocess = ImagePreprocess(size or native, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
        inner = getattr(model, "model", model)
        self.dim = int(getattr(inner, "embed_dim", 0) or getattr(inner, "num_features", 0))
        if not self.dim:
            with torch.no_grad():
                _, feats = self._run(torch.zeros(1, 3, self.preprocess.size, self.preprocess.size))
            self.dim = int(feats.shape[-1])
        self.eval()

    def _run(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = self.model(x)
        if isinstance(out, tuple):
            return out[0], out[1]
        return out.summary, out.features

    def encode(self, inputs: dict[str, Tensor]) -> Features:
        summary, tokens = self._run(inputs["pixel_values"])
        if tokens.ndim == 4:  # (B, D, H, W) -> (B, HW, D)
            tokens = tokens.flatten(2).transpose(1, 2)
        pooled = tokens.mean(dim=1) if self.pooling == "mean" else summary[:, : self.dim]
        return Features(pooled=pooled, tokens=tokens, mask=None)

    def blocks(self) -> Sequence[nn.Module]:
        return find_blocks(self.model)

    def final_norm_parameters(self) -> list[nn.Parameter]:
        norm = get_path(self.model, "model.norm")
        return list(norm.parameters()) if isinstance(norm, nn.Module) else []


def _size_of(v: Any) -> int | None:
    if isinstance(v, int):
        return v
    if isinstance(v, dict):
        for k in ("height", "shortest_edge", "width"):
            if isinstance(v.get(k), int):
                return int(v[k])
    return None


def image_preprocess(
    proc: dict[str, Any] | None, *, size: int | None, default_size: int, mean: tuple, std: tuple
) -> ImagePreprocess:
    """Size, mean and std from an image processor config when present, else the family's defaults."""
    proc = proc or {}
    native = None
    if proc.get("do_center_crop", True) and "crop_size" in proc:
        native = _size_of(proc["crop_size"])
    native = native or _size_of(proc.get("size")) or default_size
    m = tuple(float(v) for v in proc.get("image_mean", mean))
    s = tuple(float(v) for v in proc.get("image_std", std))
    return ImagePreprocess(int(size or native), m, s)  # type: ignore[arg-type]


VISION_FAMILIES: dict[str, tuple[str, int, tuple, tuple]] = {
    # model_type -> (family, default size, mean, std)
    "dinov2": ("dinov2", 224, IMAGENET_MEAN, IMAGENET_STD),
    "dinov2_with_registers": ("dinov2_with_registers", 224, IMAGENET_MEAN, IMAGENET_STD),
    "clip": ("clip", 224, CLIP_MEAN, CLIP_STD),
    "clip_vision_model": ("clip", 224, CLIP_MEAN, CLIP_STD),
    "siglip": ("siglip", 224, HALF, HALF),
    "siglip_vision_model": ("siglip", 224, HALF, HALF),
    "vit": ("vit", 224, IMAGENET_MEAN, IMAGENET_STD),
}


def model_class(family: str) -> Any:
    import transformers as tf

    return {
        "dinov2": tf.Dinov2Model,
        "dinov2_with_registers": tf.Dinov2WithRegistersModel,
        "clip": tf.CLIPVisionModel,
        "siglip": tf.SiglipVisionModel,
        "vit": tf.ViTModel,
    }[family]
