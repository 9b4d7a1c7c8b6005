"""Distribution alignment of pseudo-label posteriors (Berthelot et al., "ReMixMatch", ICLR 2020), in
the uniform form SoftMatch uses (Chen et al., ICLR 2023, eq. 10, "uniform alignment").

``DA(p) = Normalize(p · p_target / p̂)`` where ``p̂`` is the running mean prediction of the model on
unlabelled data and ``p_target`` the class distribution the pseudo-labels should follow (uniform by
default). A class the model under-predicts gets its probabilities scaled up, so the confidences of
weakly learned classes are not drowned out and the pseudo-labels do not collapse onto a few classes.
"""

from __future__ import annotations

import torch
from torch import Tensor


def distribution_alignment(*, probs: Tensor, p_model: Tensor, p_target: Tensor | None = None) -> Tensor:
    """``Normalize(probs · p_target / p_model)`` row-wise; probs (B, K), p_model and p_target (K,),
    p_target uniform when None. Constants: no gradient flows through the result."""
    if probs.ndim != 2 or p_model.shape != probs.shape[1:]:
        raise ValueError(
            f"probs must be (B, K) and p_model (K,), got {tuple(probs.shape)} and {tuple(p_model.shape)}"
        )
    k = probs.shape[1]
    target = torch.full((k,), 1.0 / k, device=probs.device) if p_target is None else p_target.float()
    aligned = probs.detach().float() * target / p_model.float().clamp_min(1e-12)
    return aligned / aligned.sum(dim=-1, keepdim=True).clamp_min(1e-30)


__all__ = ["distribution_alignment"]
