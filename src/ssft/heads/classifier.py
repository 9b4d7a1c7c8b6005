"""Classifiers: ``z (B, d)`` -> class scores ``s (B, K)``.

The cosine classifier is TwinTURBO's "sigmoid rescaling" (arXiv 2503.07851): ``s = t·cos(z, w_k) + b``
with learnable class embeddings ``w_k``, temperature ``t`` and bias ``b``, initialised like SigLIP
(t = 10, b = -10). With ``rescaling=False`` (the ablation) ``t`` is fixed and ``b = 0``.

``t`` is bounded by ``max_temperature`` (default 100, CLIP's bound): a larger ``t`` only sharpens
the softmax of the same cosines, so a loss could keep lowering itself by raising ``t`` without the
latents separating the classes any better. The forward pass clamps ``log t`` and the training loop
calls :meth:`CosineClassifier.constrain_` after every optimiser step, so the parameter itself
never drifts past the bound where its gradient would vanish. ``t``, ``b`` and the class embeddings
are kept out of weight decay (:attr:`CosineClassifier.no_weight_decay`).
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
        max_temperature: float = 100.0,
    ) -> None:
        super().__init__()
        if not 0 < init_temperature <= max_temperature:
            raise ValueError(
                f"the cosine classifier needs 0 < init_temperature <= max_temperature, "
                f"got {init_temperature} and {max_temperature}"
            )
        self.log_max_t = math.log(max_temperature)
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

    #: parameter names kept out of weight decay: decaying ``w_k`` only rescales a vector the cosine
    #: normalises away, and decaying ``t`` and ``b`` would pull the scores towards 0 for no reason.
    no_weight_decay = ("weight", "log_t", "bias")

    @property
    def temperature(self) -> Tensor:
        return self.log_t.clamp(max=self.log_max_t).exp()

    @torch.no_grad()
    def constrain_(self) -> None:
        """Clamp the ``log t`` parameter to ``log max_temperature`` (after an optimiser step)."""
        self.log_t.clamp_(max=self.log_max_t)

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
