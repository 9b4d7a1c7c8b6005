"""Conditional term ``H(Y|X) ≤ E[-log q(y|x)]``: softmax cross-entropy, and its twin form."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ssft.distributed import gather


def categorical_loss(*, scores: Tensor, targets: Tensor) -> Tensor:
    """Mean over samples of ``-log softmax(s_i)[y_i]``. scores (B, K), targets (B,) int."""
    return F.cross_entropy(scores.float(), targets)


def categorical_twin_loss(*, scores: Tensor, targets: Tensor) -> dict[str, Tensor]:
    """Categorical term plus its transpose (CLIP-style symmetric loss between samples and classes).

    ``samples_to_classes``: softmax over the K classes of each sample (the categorical term).
    ``classes_to_samples``: for each class k present in the batch, a softmax over the B samples of
    column ``s(·, k)``; its positives are the samples labelled k, so the term is
    ``-log Σ_{i: y_i=k} softmax_i(s(·,k))`` averaged over the present classes.
    ``loss`` is the mean of the two. Under DDP the batch is the gathered global batch.
    """
    s = gather(scores.float())
    targets = gather(targets)
    s2c = F.cross_entropy(s, targets)
    log_p = s.t().log_softmax(dim=1)  # (K, B): over samples, per class
    onehot = F.one_hot(targets, s.shape[1]).t().bool()  # (K, B)
    present = onehot.any(dim=1)
    pos = log_p.masked_fill(~onehot, float("-inf")).logsumexp(dim=1)
    c2s = -pos[present].mean()
    return {"loss": 0.5 * (s2c + c2s), "samples_to_classes": s2c, "classes_to_samples": c2s}


__all__ = ["categorical_loss", "categorical_twin_loss"]
