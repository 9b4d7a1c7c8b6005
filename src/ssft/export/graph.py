"""The exported computation as one torch Module: raw tensors in, class probabilities out.

Images: ``pixels`` uint8 (N, S, S, 3) at the backbone's input size S; the graph normalises them
with the backbone's mean and std (the same :func:`~ssft.backbones.base.prepare_on_device` ssft
runs). Text: ``input_ids`` and ``attention_mask`` int64 (N, L) from the saved tokenizer.

Then backbone (LoRA already merged) -> the cached view of its features when the head was trained
on the feature cache (float16 values, reduced tokens) -> centring -> head -> softmax: exactly
:meth:`ssft.api.Run.predict`.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from ssft.backbones.base import Backbone, Features, ImagePreprocess, prepare_on_device
from ssft.errors import ConfigError


class _Graph(nn.Module):
    def __init__(self, method: nn.Module, cfg: Any) -> None:
        super().__init__()
        self.method = method
        self.cached = bool(cfg.backbone.frozen and cfg.cache.enabled)
        self.store, self.grid = str(cfg.cache.store), int(cfg.cache.grid)

    @property
    def backbone(self) -> Backbone:
        return self.method.model.backbone  # type: ignore[no-any-return]

    def _classify(self, inputs: dict[str, Tensor]) -> Tensor:
        feats = self.backbone.encode(inputs)
        if self.cached:
            from ssft.features import as_cached

            feats = as_cached(
                feats, store=self.store, grid=self.grid, num_prefix_tokens=self.backbone.num_prefix_tokens
            )
            feats = Features(
                feats.pooled.float(), None if feats.tokens is None else feats.tokens.float(), feats.mask
            )
        return self.method.probabilities(feats)  # type: ignore[no-any-return]


class ImageGraph(_Graph):
    """``pixels`` uint8 (N, S, S, 3) -> probabilities float32 (N, K)."""

    input_names = ("pixels",)

    def forward(self, pixels: Tensor) -> Tensor:
        pre = self.backbone.preprocess
        assert isinstance(pre, ImagePreprocess)
        return self._classify({"pixel_values": prepare_on_device(pixels, pre)})


class TextGraph(_Graph):
    """``input_ids``, ``attention_mask`` int64 (N, L) -> probabilities float32 (N, K)."""

    input_names = ("input_ids", "attention_mask")

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        return self._classify({"input_ids": input_ids, "attention_mask": attention_mask})


def build_graph(run: Any) -> _Graph:
    """The export graph of a loaded run (:class:`ssft.api.Run`), its LoRA adapters merged."""
    from ssft.methods.closed_form import ClosedFormMethod

    if isinstance(run.method, ClosedFormMethod):
        raise ConfigError(
            f"method {run.cfg.method.name} is a scikit-learn model and cannot be exported to ONNX; "
            "export a run of a neural method (twinturbo, supervised, fixmatch, ...), or use Run.export() "
            "for its safetensors file"
        )
    backbone = run.method.model.backbone
    if backbone.modality == "image" and not backbone.device_preprocessing:
        raise ConfigError(
            f"backbone {run.cfg.backbone.name} does its own preprocessing and cannot be exported to ONNX; "
            "the hf:, random:, and effnet: image backbones can"
        )
    if backbone.modality == "text" and not hasattr(backbone, "tokenizer"):
        raise ConfigError(f"backbone {run.cfg.backbone.name} has no tokenizer to export")
    run.merge_lora()
    graph = (
        ImageGraph(run.method, run.cfg) if backbone.modality == "image" else TextGraph(run.method, run.cfg)
    )
    return graph.to("cpu").eval()
