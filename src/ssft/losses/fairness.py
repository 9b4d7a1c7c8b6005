"""Self-adaptive fairness term of FreeMatch (Wang et al., "FreeMatch: Self-adaptive Thresholding for
Semi-supervised Learning", ICLR 2023, eq. 10).

``L_f = -H(SumNorm(p̃ / h̃), SumNorm(p̄ / h̄))`` where ``H(a, b) = -Σ_k a_k log b_k``:

* ``p̃`` (K,): the EMA of the mean weak-view probability vector (the model's class-wise confidence);
* ``h̃`` (K,): the EMA of the histogram of weak-view pseudo-labels;
* ``p̄`` (K,): the mean strong-view probability vector over the items above their threshold;
* ``h̄`` (K,): the histogram of the strong-view predictions of those items;
* ``SumNorm(v) = v / Σ v``; a class with a zero histogram entry gets a zero weight.

So ``L_f = Σ_k a_k log b_k``, the negative cross-entropy, minimised with a small weight as in the
paper and its reference implementation: it pushes the strong-view mean prediction of the confident
items away from the classes the model already favours, towards a fairer use of the classes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ssft.distributed import gather


def _sum_norm_inverse(values: Tensor, hist: Tensor) -> Tensor:
    scale = torch.where(hist > 0, 1.0 / hist.clamp_min(1e-30), torch.zeros_like(hist))
    v = values * scale
    return v / v.sum().clamp_min(1e-30)


def self_adaptive_fairness_loss(
    *, scores_strong: Tensor, mask: Tensor, p_model: Tensor, label_hist: Tensor, eps: float = 1e-12
) -> Tensor:
    """``Σ_k SumNorm(p̃/h̃)_k · log(SumNorm(p̄/h̄)_k + eps)`` over the masked items; 0 when none is masked.

    scores_strong (B, K), mask (B,) in {0, 1}, p_model (K,), label_hist (K,) -> scalar. Gradients
    flow through ``p̄`` (the strong-view probabilities) only; ``h̄`` is a count of argmaxes.
    Under DDP ``p̄`` and ``h̄`` are over the gathered global batch.
    """
    if scores_strong.ndim != 2 or mask.shape != scores_strong.shape[:1]:
        raise ValueError(
            f"scores_strong must be (B, K) and mask (B,), got {tuple(scores_strong.shape)} and {tuple(mask.shape)}"
        )
    scores_strong, mask = gather(scores_strong), gather(mask)
    k = scores_strong.shape[1]
    if p_model.shape != (k,) or label_hist.shape != (k,):
        raise ValueError(f"p_model and label_hist must be (K,) = ({k},)")
    keep = mask.bool()
    if not keep.any():
        return scores_strong.float().sum() * 0.0  # keeps the graph; no confident item, no term
    probs = scores_strong[keep].float().softmax(dim=-1)
    hist = torch.bincount(probs.argmax(dim=-1), minlength=k).float()
    hist = hist / hist.sum()
    target = _sum_norm_inverse(p_model.float().detach(), label_hist.float().detach())
    mean = _sum_norm_inverse(probs.mean(dim=0), hist)
    return (target * (mean + eps).log()).sum()


__all__ = ["self_adaptive_fairness_loss"]
