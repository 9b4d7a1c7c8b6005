"""Helpers for batch-level loss terms under ``torchrun`` (PyTorch DDP).

Batch marginals, contrastive negatives and discriminator batches must see the *global* batch, not
the shard of one rank. :func:`gather` concatenates a tensor over all ranks; the local slice keeps
its gradient (the other ranks' slices are constants here and get their gradient on their own
rank). Without an initialised process group it returns its input unchanged.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def gather(t: Tensor) -> Tensor:
    """Concatenate ``t`` (B, ...) over ranks along dim 0; gradient flows to the local slice."""
    if not is_distributed():
        return t
    parts = [torch.empty_like(t) for _ in range(world_size())]
    dist.all_gather(parts, t.detach().contiguous())
    parts[rank()] = t
    return torch.cat(parts)
