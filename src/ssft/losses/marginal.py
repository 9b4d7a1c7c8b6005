"""Marginal term of the task-space bound: the batch-averaged posterior against the prior."""

from __future__ import annotations

from torch import Tensor

from ssft.distributed import gather


def marginal_entropy_loss(*, probs: Tensor, prior: Tensor, eps: float = 1e-8) -> Tensor:
    """``-Σ_k π_k log q̄_k`` with ``q̄ = mean_j q(·|x_j)`` over the (global) unlabelled batch.

    probs (B, K) rows summing to 1, prior (K,) -> scalar. Minimal (= H(π)) when q̄ = π, so it keeps
    every class in use. Under DDP the mean is over the gathered global batch.
    """
    q_bar = gather(probs.float()).mean(dim=0)
    return -(prior.float() * (q_bar + eps).log()).sum()
