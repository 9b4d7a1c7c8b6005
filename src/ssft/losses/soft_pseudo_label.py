"""SoftMatch's soft-weighted pseudo-labelling term (Chen et al., "SoftMatch: Addressing the
Quantity-Quality Trade-off in Semi-supervised Learning", ICLR 2023, eq. 7-8).

Instead of FixMatch's hard mask ``1[c ≥ τ]``, every pseudo-label gets a weight from a truncated
Gaussian of its confidence ``c``: full weight at or above the running mean confidence ``μ``, and
``exp(-(c - μ)² / (2 σ²/n²))`` below it, where ``σ²`` is the running variance of the confidence
and ``n`` (``n_sigma``) narrows the Gaussian to ``σ/n`` as in the reference implementation (n = 2).
No pseudo-label is thrown away, so none of the unlabelled items is wasted early in training, and
the doubtful ones count less.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def truncated_gaussian_weight(
    *, confidence: Tensor, mean: Tensor | float, var: Tensor | float, n_sigma: float
) -> Tensor:
    """``w = exp(-min(c - μ, 0)² / (2 σ² / n²))`` for each confidence ``c`` (B,): 1 at or above ``μ``.

    ``var`` is ``σ²`` (> 0); the effective standard deviation of the Gaussian is ``σ / n_sigma``.
    """
    if n_sigma <= 0:
        raise ValueError(f"n_sigma must be > 0, got {n_sigma}")
    mean = torch.as_tensor(mean, dtype=torch.float32, device=confidence.device)
    var = torch.as_tensor(var, dtype=torch.float32, device=confidence.device).clamp_min(1e-12)
    below = (confidence.float() - mean).clamp(max=0.0)
    return torch.exp(-below.pow(2) / (2.0 * var / n_sigma**2))


def soft_pseudo_label_loss(*, scores_strong: Tensor, pseudo_labels: Tensor, weights: Tensor) -> Tensor:
    """``(1/B) Σ_j w_j · CE(s_strong_j, ŷ_j)``: the mean over all B items of the weighted cross-entropy
    of the strong views against the (hard) pseudo-labels; the weights are constants (no gradient)."""
    if scores_strong.ndim != 2:
        raise ValueError(f"scores_strong must be (B, K), got {tuple(scores_strong.shape)}")
    if pseudo_labels.shape != scores_strong.shape[:1] or weights.shape != scores_strong.shape[:1]:
        raise ValueError(
            f"pseudo_labels and weights must be (B,) = ({scores_strong.shape[0]},), got "
            f"{tuple(pseudo_labels.shape)} and {tuple(weights.shape)}"
        )
    ce = F.cross_entropy(scores_strong.float(), pseudo_labels, reduction="none")
    return (ce * weights.detach().float()).mean()


__all__ = ["soft_pseudo_label_loss", "truncated_gaussian_weight"]
