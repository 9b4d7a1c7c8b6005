"""Supervised contrastive loss (Khosla et al. 2020, the ``L_out`` form) on labelled latents."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ssft.distributed import gather


def supcon_loss(
    *, embeddings: Tensor, targets: Tensor, temperature: float, valid: Tensor | None = None
) -> Tensor:
    """For each anchor i with at least one positive:
    ``-1/|P(i)| Σ_{p∈P(i)} log( exp(z_i·z_p/τ) / Σ_{a≠i} exp(z_i·z_a/τ) )``, averaged over anchors;
    ``P(i)`` = other samples with the same label. Cosine similarities. Anchors without a positive
    are skipped; if no anchor has one the loss is 0 (with a graph, so backward still works).
    ``valid`` (bool, one per sample): the samples marked False take no part at all (neither anchor,
    positive nor denominator), exactly as if they had been left out; a mask rather than a selection
    keeps the shapes equal across DDP ranks.
    """
    z = F.normalize(gather(embeddings.float()), dim=-1)
    y = gather(targets)
    n = len(y)
    keep = torch.ones(n, dtype=torch.bool, device=z.device) if valid is None else gather(valid.bool())
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = (z @ z.t() / temperature).masked_fill(eye | ~keep[None, :], float("-inf"))
    log_prob = logits.log_softmax(dim=1)
    pos = (y[:, None] == y[None, :]) & ~eye & keep[None, :] & keep[:, None]
    n_pos = pos.sum(dim=1)
    has = n_pos > 0
    if not has.any():
        return z.sum() * 0.0
    per_anchor = -log_prob.masked_fill(~pos, 0.0).sum(dim=1)[has] / n_pos[has]
    return per_anchor.mean()
