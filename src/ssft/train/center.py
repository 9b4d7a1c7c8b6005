"""The training pool's means that ``model.center`` subtracts before the head.

The FixMatch family centres its input by default (docs/methods/fixmatch.md): cosine pseudo-labels on
uncentred embeddings collapse to one class at few labels. The identity and MLP projectors read the
pooled latent, so its pool mean is subtracted; the transformer projector reads the tokens, so the
pool mean of the tokens (over every valid token of every pool item) is subtracted from each token
as well. Both are measured on the training pool only (labelled and unlabelled items, never a test
or validation item), over a seeded sample of ``CENTER_SAMPLE`` items when the pool is larger.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

#: items of the training pool whose means ``model.center`` subtracts (a sample beyond)
CENTER_SAMPLE = 4096


def pool_items(split: Any, seed: int) -> np.ndarray:
    """The sorted training-pool items the means are measured on (a seeded sample when large)."""
    pool = np.sort(np.concatenate([split.labeled, split.unlabeled]))
    if len(pool) > CENTER_SAMPLE:
        pool = np.sort(np.random.default_rng(seed).choice(pool, CENTER_SAMPLE, replace=False))
    return pool


@torch.no_grad()
def training_pool_means(
    source: Any, split: Any, seed: int, batch_size: int, *, tokens: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(D,) mean pooled feature and, with ``tokens``, (D,) mean valid token over the training pool
    (float64 sums, returned as float32); the token mean is None without ``tokens``."""
    pool = pool_items(split, seed)
    pooled_sum: torch.Tensor | None = None
    token_sum: torch.Tensor | None = None
    token_count = 0.0
    for s in range(0, len(pool), batch_size):
        feats = source.get(pool[s : s + batch_size])
        part = feats.pooled.detach().double().cpu().sum(0)
        pooled_sum = part if pooled_sum is None else pooled_sum + part
        if tokens:
            t = feats.tokens.detach().double().cpu()
            valid = (
                torch.ones(t.shape[:2], dtype=torch.float64)
                if feats.mask is None
                else feats.mask.cpu().double()
            )
            part = (t * valid[..., None]).sum((0, 1))
            token_sum = part if token_sum is None else token_sum + part
            token_count += float(valid.sum())
    if pooled_sum is None:
        raise ValueError("the training pool is empty: nothing to measure the centring mean on")
    pooled_mean = (pooled_sum / len(pool)).float()
    token_mean = None if token_sum is None else (token_sum / max(token_count, 1.0)).float()
    return pooled_mean, token_mean


def training_pool_mean(source: Any, split: Any, seed: int, batch_size: int) -> torch.Tensor:
    """The (D,) mean pooled feature over the training pool (see :func:`training_pool_means`)."""
    return training_pool_means(source, split, seed, batch_size)[0]
