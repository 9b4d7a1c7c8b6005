"""The stand-in backbone of the method tests: ``dim``-dimensional features from tensors the tests
build themselves (no real inputs, no preprocessing)."""

from __future__ import annotations

from torch import nn

from ssft.backbones.base import Backbone, Features, ImagePreprocess


class DummyBackbone(Backbone):
    """``encode({"x": tokens})`` passes (B, N, dim) tokens through one linear layer; pooled = the
    first token. ``linear=False`` leaves the layer out (a backbone without parameters)."""

    name, modality = "dummy", "image"
    preprocess = ImagePreprocess(8, (0.5,) * 3, (0.5,) * 3)

    def __init__(self, dim: int, *, linear: bool = True) -> None:
        super().__init__()
        self.dim = dim
        self.lin = nn.Linear(dim, dim) if linear else nn.Identity()

    def prepare(self, raw):  # pragma: no cover - the tests give features directly
        raise NotImplementedError

    def encode(self, inputs):
        t = self.lin(inputs["x"])
        return Features(t[:, 0], t, None)
