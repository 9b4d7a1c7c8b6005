"""Confidence-thresholded pseudo-labelling, the unlabelled term of FixMatch (Sohn et al., NeurIPS 2020)
and of FreeMatch (Wang et al., ICLR 2023).

The weak view's prediction, when confident enough, is the hard target of the strong view.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def pseudo_label_loss(
    *, scores_weak: Tensor, scores_strong: Tensor, threshold: float | Tensor, probs_weak: Tensor | None = None
) -> dict[str, Tensor]:
    """``(1/B) Σ_j 1[max_k p_jk ≥ τ(ŷ_j)] · CE(s_strong_j, ŷ_j)`` with ``p = softmax(s_weak)``, ``ŷ = argmax p``.

    scores_weak, scores_strong (B, K); ``threshold`` a float τ (FixMatch) or a (K,) tensor of
    per-class thresholds indexed by the pseudo-label (FreeMatch). The weak scores are treated as a
    constant (no gradient through the targets or the mask). The mean is over all B items, masked or
    not, as in the paper. ``probs_weak`` (B, K), when given, replaces ``softmax(scores_weak)`` as
    the posterior that gives confidences and pseudo-labels (a method whose posterior is not the
    softmax of its scores). Returns ``loss``, ``mask`` (B,) in {0, 1}, ``pseudo_labels`` (B,) and
    ``mask_rate`` (fraction of items above their threshold).
    """
    if scores_weak.ndim != 2 or scores_weak.shape != scores_strong.shape:
        raise ValueError(
            f"scores_weak and scores_strong must both be (B, K), got {tuple(scores_weak.shape)} "
            f"and {tuple(scores_strong.shape)}"
        )
    if probs_weak is not None and probs_weak.shape != scores_weak.shape:
        raise ValueError(f"probs_weak must be (B, K) like scores_weak, got {tuple(probs_weak.shape)}")
    probs = (scores_weak.float().softmax(dim=-1) if probs_weak is None else probs_weak.float()).detach()
    confidence, pseudo = probs.max(dim=-1)
    tau = torch.as_tensor(threshold, dtype=torch.float32, device=probs.device)
    if tau.ndim == 1:
        if tau.shape[0] != probs.shape[1]:
            raise ValueError(
                f"per-class threshold must be (K,) = ({probs.shape[1]},), got {tuple(tau.shape)}"
            )
        tau = tau[pseudo]
    mask = (confidence >= tau).float()
    ce = F.cross_entropy(scores_strong.float(), pseudo, reduction="none")
    return {
        "loss": (ce * mask).mean(),
        "mask": mask,
        "pseudo_labels": pseudo,
        "mask_rate": mask.mean(),
    }


__all__ = ["pseudo_label_loss"]
