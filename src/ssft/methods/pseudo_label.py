"""Pseudo-Label (Lee, "Pseudo-Label: The Simple and Efficient Semi-Supervised Learning Method for
Deep Neural Networks", ICML 2013 Workshop on Challenges in Representation Learning).

The labelled cross-entropy plus, on the unlabelled items themselves (no augmented views), the
cross-entropy against their own confident predictions as hard targets, recomputed at every step
and held constant (no gradient through the targets). The unlabelled weight ramps up from 0, as
the paper's α(t) schedule does. The confidence threshold follows USB's form of the method; the
paper takes every argmax (``method.threshold=0``). See docs/methods/pseudo_label.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ssft.config import MethodConfig, doc
from ssft.errors import ConfigError
from ssft.losses.categorical import categorical_loss
from ssft.losses.pseudo_label import pseudo_label_loss
from ssft.methods.base import Batch, Method, register_method


@dataclass
class PseudoLabelConfig(MethodConfig):
    threshold: float = doc(0.95, "confidence threshold of the pseudo-labels (0 = every argmax, the paper)")
    lambda_u: float = doc(1.0, "weight of the unlabelled (pseudo-label) term once ramped up")
    ramp: float = doc(0.4, "fraction of the steps over which lambda_u ramps up from 0 (the paper's α(t))")

    def validate(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError("method.threshold must be in [0, 1]")
        if self.lambda_u < 0:
            raise ConfigError("method.lambda_u must be >= 0")
        if not 0.0 <= self.ramp < 1.0:
            raise ConfigError("method.ramp must be in [0, 1)")


@register_method
class PseudoLabel(Method):
    """Pseudo-Label (Lee 2013): confident predictions on the unlabelled items as their own hard
    targets, ramped in; no augmentation, so it runs on any backbone and on embeddings as they are."""

    name = "pseudo_label"
    config_class = PseudoLabelConfig
    uses_unlabeled = True

    def train_step(self, batch: Batch) -> dict[str, Tensor]:
        cfg: PseudoLabelConfig = self.cfg  # type: ignore[assignment]
        ce = categorical_loss(scores=self.model.head(batch["x_lb"]).scores, targets=batch["y_lb"])
        s_u = self.model.head(batch["x_ulb"]).scores
        parts = pseudo_label_loss(scores_weak=s_u, scores_strong=s_u, threshold=cfg.threshold)
        ramp = self.ramp(batch)
        return {
            "loss": ce + ramp * cfg.lambda_u * parts["loss"],
            "ce": ce,
            "unsup": parts["loss"],
            "mask_rate": parts["mask_rate"],
            "ramp": torch.tensor(ramp),
        }
