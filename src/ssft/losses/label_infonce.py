"""Conditional term, ``infonce`` variant: each sample against the embedding of its label."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ssft.distributed import gather


def label_infonce_loss(
    *, embeddings: Tensor, class_embeddings: Tensor, targets: Tensor, temperature: float
) -> Tensor:
    """InfoNCE between sample ``i`` and the embedding ``w_{y_i}`` of its label; the negatives are
    the labels of the *other samples in the batch* (duplicates of ``y_i`` masked out, so a label is
    never its own negative). Cosine similarities divided by ``temperature``.

    embeddings (B, d), class_embeddings (K, d), targets (B,) -> scalar. Under DDP the batch (and
    so the negatives) is the gathered global batch.
    """
    z = F.normalize(gather(embeddings.float()), dim=-1)
    targets = gather(targets)
    w = F.normalize(class_embeddings.float(), dim=-1)[targets]  # (B, d): label embedding per sample
    logits = z @ w.t() / temperature  # (B, B): sample i vs label of sample j
    same = targets[:, None] == targets[None, :]
    eye = torch.eye(len(targets), dtype=torch.bool, device=targets.device)
    logits = logits.masked_fill(same & ~eye, float("-inf"))
    return F.cross_entropy(logits, torch.arange(len(targets), device=targets.device))
