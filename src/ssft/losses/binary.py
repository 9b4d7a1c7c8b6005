"""Conditional term, ``binary`` variant: SigLIP-style sigmoid cross-entropy over (sample, class) pairs."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def binary_loss(*, scores: Tensor, targets: Tensor) -> Tensor:
    """``-Σ_k [z_ik log σ(s_ik) + (1 - z_ik) log σ(-s_ik)]`` with ``z_ik = [y_i = k]``,
    summed over the K classes and averaged over the B samples (scores already hold ``t·cos + b``).
    """
    s = scores.float()
    z = F.one_hot(targets, s.shape[1]).to(s.dtype)
    return F.binary_cross_entropy_with_logits(s, z, reduction="none").sum(dim=1).mean()
