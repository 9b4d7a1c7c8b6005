"""Latent-space bound ``I(X; Z*)``: InfoNCE alignment of the projector latent with ``z*``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ssft.distributed import gather


def alignment_infonce_loss(*, z: Tensor, target: Tensor, temperature: float) -> Tensor:
    """Symmetric InfoNCE between ``z_i`` (B, D) (the projector latent through a small head) and the
    backbone latent ``z*_i`` (B, D) of the same sample; the other samples of the (global) batch are
    the negatives. ``target`` is detached: the foundation model's latent is the anchor, never pulled.
    """
    a = F.normalize(gather(z.float()), dim=-1)
    b = F.normalize(gather(target.detach().float()), dim=-1)
    logits = a @ b.t() / temperature
    labels = torch.arange(len(a), device=a.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))
