"""The one backbone contract every foundation model is wrapped in.

A backbone turns a batch of raw inputs (images as uint8 arrays, or texts) into

* ``tokens``: ``(B, N, D)``, the token sequence ([CLS], registers, patches; or word pieces),
* ``mask``: ``(B, N)`` bool, ``True`` for a real token; padding never reaches a pooling,
* ``pooled``: ``(B, D)``, the latent ``z*`` ([CLS] or the model's own pooling).

``prepare`` does the preprocessing the model expects (resize, normalise; or tokenise) on the CPU,
``encode`` runs the network. Heavy optional libraries are imported inside their adapter.

Pipelines split ``prepare`` in two so that the host does only cheap work, in DataLoader workers:
``collator()`` is a picklable function raw items -> host tensors (images: uint8 at their stored
size; text: token ids), and ``to_device(batch, device)`` copies them (non-blocking) and finishes
on the device (images: one batched resize and normalisation, :func:`prepare_on_device`).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class Features:
    """What a backbone (or the feature cache) hands to the head.

    Shapes: ``tokens`` (B, N, D) or None when only the pooled latent is kept,
    ``mask`` (B, N) bool or None (all tokens real), ``pooled`` (B, D).
    """

    pooled: Tensor
    tokens: Tensor | None = None
    mask: Tensor | None = None

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Features:
        def mv(t: Tensor | None, cast: bool) -> Tensor | None:
            if t is None:
                return None
            t = t.to(device, non_blocking=True)
            return t.to(dtype) if (cast and dtype is not None) else t

        return Features(mv(self.pooled, True), mv(self.tokens, True), mv(self.mask, False))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return int(self.pooled.shape[0])

    def index(self, idx: Tensor | slice) -> Features:
        return Features(
            self.pooled[idx],
            None if self.tokens is None else self.tokens[idx],
            None if self.mask is None else self.mask[idx],
        )

    @staticmethod
    def cat(parts: Sequence[Features]) -> Features:
        """Concatenate along the batch; token sequences are padded to the longest."""
        pooled = torch.cat([p.pooled for p in parts])
        if any(p.tokens is None for p in parts):
            return Features(pooled)
        n = max(p.tokens.shape[1] for p in parts)  # type: ignore[union-attr]
        if all(p.mask is None and p.tokens.shape[1] == n for p in parts):  # type: ignore[union-attr]
            # Every token is real: no mask, as the parts had none (a mask changes attention kernels).
            return Features(pooled, torch.cat([p.tokens for p in parts]))  # type: ignore[misc]
        toks, masks = [], []
        for p in parts:
            t = p.tokens
            assert t is not None
            m = p.mask if p.mask is not None else torch.ones(t.shape[:2], dtype=torch.bool, device=t.device)
            pad = n - t.shape[1]
            toks.append(F.pad(t, (0, 0, 0, pad)))
            masks.append(F.pad(m, (0, pad), value=False))
        return Features(pooled, torch.cat(toks), torch.cat(masks))


@dataclass
class ImagePreprocess:
    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    kind: Literal["image"] = "image"


@dataclass
class TextPreprocess:
    max_length: int
    kind: Literal["text"] = "text"
    extra: dict[str, Any] = field(default_factory=dict)


def images_to_tensor(images: Sequence[np.ndarray] | np.ndarray, pre: ImagePreprocess) -> Tensor:
    """uint8 images (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) -> normalised (B, 3, S, S) float32.

    Grey images are repeated to 3 channels, alpha is dropped, 16-bit images are scaled to 8 bit.
    """
    out = []
    for img in images:
        a = _as_uint8_hwc(img)
        if a.shape[2] == 1:
            a = np.repeat(a, 3, axis=2)
        t = torch.from_numpy(np.array(a, copy=True)).permute(2, 0, 1).float().unsqueeze(0)
        if t.shape[-2:] != (pre.size, pre.size):
            t = F.interpolate(
                t, size=(pre.size, pre.size), mode="bilinear", antialias=True, align_corners=False
            )
        out.append(t)
    x = torch.cat(out).div_(255.0)
    mean = torch.tensor(pre.mean).view(1, 3, 1, 1)
    std = torch.tensor(pre.std).view(1, 3, 1, 1)
    return (x - mean) / std


#: Images whose area exceeds this many times the target area are resized once, in the worker,
#: before they travel (so a batch of photos does not cross to the device at full size).
LARGE_AREA = 4


def _as_uint8_hwc(img: Any) -> np.ndarray:
    """An image as uint8 (H, W, 1) or (H, W, 3): alpha dropped, 16-bit scaled to 8 bit."""
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an image of shape (H, W[, 1|3|4]), got {a.shape}")
    if a.dtype == np.uint16:
        a = (a // 257).astype(np.uint8)
    elif a.dtype != np.uint8:
        raise ValueError(f"expected uint8 image data, got {a.dtype}")
    return a[:, :, :3] if a.shape[2] == 4 else a


def _resize_hwc(a: np.ndarray, size: int) -> Tensor:
    """uint8 (H, W, C) -> float32 (size, size, C) in 0..255, antialiased bilinear (as the model sees)."""
    t = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float().unsqueeze(0)
    t = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return t[0].permute(1, 2, 0)


class ImageCollate:
    """Picklable collate function: raw images -> ``{"pixels": (B, H, W, C)}`` for the device.

    Images travel as uint8 at their stored size (grey ones with one channel) when the batch shares
    one shape. An image larger than ``LARGE_AREA`` times the target area is first resized once,
    here, to ``size x size`` and rounded to uint8 (at most half a grey level off the float resize).
    A batch of mixed shapes is resized here to ``size x size`` in float32 (0..255), exactly the
    values the per-image path computes. Resizing to the target size and normalising are left to
    :func:`prepare_on_device`.
    """

    def __init__(self, size: int) -> None:
        self.size = int(size)

    def __call__(self, raw: Sequence[Any]) -> dict[str, Tensor]:
        s = self.size
        imgs = []
        for img in raw:
            a = _as_uint8_hwc(img)
            if a.shape[0] * a.shape[1] > LARGE_AREA * s * s:
                a = _resize_hwc(a, s).round_().clamp_(0, 255).to(torch.uint8).numpy()
            imgs.append(a)
        if not imgs:
            return {"pixels": torch.zeros(0, s, s, 3, dtype=torch.uint8)}
        if len({a.shape for a in imgs}) == 1:
            return {"pixels": torch.from_numpy(np.stack(imgs))}
        return {"pixels": torch.stack([_resize_hwc(np.repeat(a, 3 // a.shape[2], axis=2), s) for a in imgs])}


def prepare_on_device(pixels: Tensor, pre: ImagePreprocess) -> Tensor:
    """(B, H, W, C) uint8 (or float32 in 0..255), C in {1, 3}, on any device -> normalised
    (B, 3, S, S) float32 on that device: one batched antialiased resize, then (x/255 - mean)/std.

    The same operations, in the same order, as :func:`images_to_tensor` applies image by image.
    """
    if pixels.ndim != 4 or pixels.shape[-1] not in (1, 3):
        raise ValueError(f"expected pixels of shape (B, H, W, 1|3), got {tuple(pixels.shape)}")
    x = pixels.permute(0, 3, 1, 2).float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[-2:] != (pre.size, pre.size):
        x = F.interpolate(x, size=(pre.size, pre.size), mode="bilinear", antialias=True, align_corners=False)
    x = x.contiguous().div_(255.0)
    mean = torch.tensor(pre.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(pre.std, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


class Backbone(nn.Module, ABC):
    """Contract: ``prepare(raw) -> inputs``, ``encode(inputs) -> Features``, ``dim``, ``freeze()``.

    Attributes:
        name: the name it was built from (``hf:facebook/dinov2-small``).
        modality: ``"image"`` or ``"text"``.
        dim: D, the token and pooled width.
        num_prefix_tokens: tokens before the patch grid ([CLS] + registers); 0 for text.
        preprocess: :class:`ImagePreprocess` or :class:`TextPreprocess`.
    """

    name: str
    modality: Literal["image", "text"]
    dim: int
    num_prefix_tokens: int = 1
    preprocess: ImagePreprocess | TextPreprocess
    #: set by :meth:`freeze`; a frozen backbone stays in eval mode whatever its parent asks
    frozen: bool = False
    #: set from ``backbone.bn_stats=frozen``: every batch norm keeps its pretrained running
    #: statistics (eval mode) while its scale and shift may still train
    frozen_bn_stats: bool = False
    #: image adapters whose ``encode`` takes ``pixel_values`` (B, 3, S, S) normalised with
    #: ``preprocess`` set this: their images then travel as uint8 and are finished on the device
    device_preprocessing: bool = False

    def prepare(self, raw: Sequence[Any]) -> dict[str, Tensor]:
        """Raw inputs (uint8 images or strings) -> model inputs on the CPU."""
        if not self.device_preprocessing:
            raise NotImplementedError(f"{type(self).__name__} must implement prepare()")
        return self.to_device(self.collator()(raw), torch.device("cpu"))

    def collator(self) -> Callable[[Sequence[Any]], dict[str, Tensor]]:
        """A picklable function raw items -> host tensors, run in DataLoader workers."""
        if self.device_preprocessing:
            assert isinstance(self.preprocess, ImagePreprocess)
            return ImageCollate(self.preprocess.size)
        return self.prepare

    def to_device(self, batch: dict[str, Tensor], device: torch.device | str) -> dict[str, Tensor]:
        """What :meth:`collator` made -> model inputs on ``device`` (non-blocking copies)."""
        moved = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        if self.device_preprocessing and "pixels" in moved:
            assert isinstance(self.preprocess, ImagePreprocess)
            moved["pixel_values"] = prepare_on_device(moved.pop("pixels"), self.preprocess)
        return moved

    @abstractmethod
    def encode(self, inputs: dict[str, Tensor]) -> Features:
        """Run the network on prepared inputs (already on the right device)."""

    def forward(self, inputs: dict[str, Tensor]) -> Features:
        return self.encode(inputs)

    def tokens(self, inputs: dict[str, Tensor]) -> Tensor:
        t = self.encode(inputs).tokens
        assert t is not None
        return t

    def pooled(self, inputs: dict[str, Tensor]) -> Tensor:
        return self.encode(inputs).pooled

    def train(self, mode: bool = True) -> Backbone:
        """``nn.Module.train``, except that a frozen backbone stays in eval mode (dropout off), so
        ``method.train()`` during a run without the cache does not make its features random."""
        super().train(mode and not self.frozen)
        if mode:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm) and self.keeps_bn_statistics(m):
                    m.eval()
        return self

    def keeps_bn_statistics(self, norm: nn.Module) -> bool:
        """Whether batch norm ``norm`` keeps its running statistics (stays in eval mode) while the
        backbone trains: all of them with ``backbone.bn_stats=frozen``."""
        return self.frozen_bn_stats

    def freeze(self) -> Backbone:
        """Turn every gradient off and switch to eval mode (dropout off)."""
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()
        self.frozen = True
        return self

    def unfreeze_last(self, blocks: int) -> Backbone:
        """Make the last ``blocks`` transformer blocks (and the final norm) trainable; 0 = all."""
        for p in self.parameters():
            p.requires_grad_(blocks == 0)
        if blocks:
            layers = self.blocks()
            if blocks > len(layers):
                raise ValueError(f"backbone has {len(layers)} blocks, cannot train the last {blocks}")
            for layer in list(layers)[-blocks:]:
                for p in layer.parameters():
                    p.requires_grad_(True)
            for p in self.final_norm_parameters():
                p.requires_grad_(True)
        self.frozen = False
        self.train()
        return self

    def enable_gradient_checkpointing(self) -> Backbone:
        """Recompute each block's activations during backward instead of keeping them
        (``backbone.gradient_checkpointing``): less memory for about one more forward pass."""
        from ssft.errors import ConfigError

        raise ConfigError(
            f"backbone.gradient_checkpointing=true is not available for {self.name}; it works with the "
            "transformer backbones (hf:, random: transformer presets, timm: ViTs); set it to false"
        )

    def blocks(self) -> Sequence[nn.Module]:
        """The transformer blocks, first to last (for ``backbone.train_blocks``)."""
        raise NotImplementedError(f"{type(self).__name__} does not expose its blocks")

    def final_norm_parameters(self) -> list[nn.Parameter]:
        return []

    def fingerprint(self) -> str:
        """Identity of the weights and preprocessing, for the feature cache key."""
        h = hashlib.sha256()
        h.update(self.name.encode())
        h.update(repr(self.preprocess).encode())
        h.update(getattr(self, "revision_id", "").encode())
        for k, v in sorted(fingerprint_state(self).items()):
            h.update(k.encode())
            # A strided sample keeps this fast on large models while catching any reload.
            flat = v.detach().reshape(-1)
            step = max(1, flat.numel() // 4096)
            h.update(flat[::step].float().cpu().numpy().tobytes())
        return h.hexdigest()[:16]


def fingerprint_state(module: nn.Module) -> dict[str, Tensor]:
    """The weights that decide a backbone's outputs, under the plain model's names. LoRA adapters
    whose ``B`` is still zero (as injected, before any update) change nothing, so they are left
    out and the wrapped base weights keep their own names: the head-first phase of a LoRA run then
    has the fingerprint of the frozen backbone and shares its cache entries."""
    state = module.state_dict()
    adapters = {k: v for k, v in state.items() if ".lora_A." in k or ".lora_B." in k}
    if not adapters or any(bool(v.any()) for k, v in adapters.items() if ".lora_B." in k):
        return state
    return {k.replace(".base_layer.", "."): v for k, v in state.items() if k not in adapters}
