"""Supervised contrastive loss (Khosla et al. 2020, the ``L_out`` form) on labelled latents."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ssft.distributed import gather


def supcon_loss(*, embeddings: Tensor, targets: Tensor, temperature: float) -> Tensor:
    """For each anchor i with at least one positive:
    ``-1/|P(i)| Σ_{p∈P(i)} log( exp(z_i·z_p/τ) / Σ_{a≠i} exp(z_i·z_a/τ) )``, averaged over anchors;
    ``P(i)`` = other samples with the same label. Cosine similarities. Anchors without a positive
    are skipped; if no anchor has one the loss is 0 (with a graph, so backward still works).
    """
    z = F.normalize(gather(embeddings.float()), dim=-1)
    y = gather(targets)
    n = len(y)
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = (z @ z.t() / temperature).masked_fill(eye, float("-inf"))
    log_prob = logits.log_softmax(dim=1)
    pos = (y[:, None] == y[None, :]) & ~eye
    n_pos = pos.sum(dim=1)
    has = n_pos > 0
    if not has.any():
        return z.sum() * 0.0
    per_anchor = -log_prob.masked_fill(~pos, 0.0).sum(dim=1)[has] / n_pos[has]
    return per_anchor.mean()
