"""Classifiers: ``z (B, d)`` -> class scores ``s (B, K)``.

The cosine classifier is TwinTURBO's "sigmoid rescaling" (METHODS.md §1): ``s = t·cos(z, w_k) + b``
with learnable class embeddings ``w_k``, temperature ``t`` and bias ``b``, initialised like SigLIP
(t = 10, b = -10). With ``rescaling=False`` (the ablation) ``t`` is fixed and ``b = 0``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class CosineClassifier(nn.Module):
    def __init__(
        self,
        dim: int,
        num_classes: int,
        *,
        rescaling: bool = True,
        init_temperature: float = 10.0,
        init_bias: float = -10.0,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_classes, dim) * dim**-0.5)
        self.rescaling = rescaling
        # t is kept as log t so it stays positive.
        log_t = torch.tensor(math.log(init_temperature))
        bias = torch.tensor(init_bias if rescaling else 0.0)
        if rescaling:
            self.log_t = nn.Parameter(log_t)
            self.bias = nn.Parameter(bias)
        else:
            self.register_buffer("log_t", log_t)
            self.register_buffer("bias", bias)

    @property
    def temperature(self) -> Tensor:
        return self.log_t.exp()

    def cosine(self, z: Tensor) -> Tensor:
        """(B, d) -> (B, K) cosine similarities with the class embeddings."""
        return F.normalize(z, dim=-1) @ F.normalize(self.weight, dim=-1).t()

    def forward(self, z: Tensor) -> Tensor:
        return self.temperature * self.cosine(z) + self.bias


class LinearClassifier(nn.Module):
    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, num_classes)

    @property
    def weight(self) -> Tensor:
        return self.linear.weight

    def forward(self, z: Tensor) -> Tensor:
        return self.linear(z)
