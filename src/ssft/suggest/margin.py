"""Margin sampling: the items whose two most probable classes are closest (Scheffer et al., 2001)."""

from __future__ import annotations

import numpy as np

from ssft.errors import ConfigError
from ssft.suggest.registry import Context, Picks, strategy


def margins(probs: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 class probability per row (n,); 0 = a tie, 1 = certain."""
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ValueError(f"probs must be (n, K) with K >= 2, got shape {probs.shape}")
    top = np.sort(probs, axis=1)[:, -2:]
    return top[:, 1] - top[:, 0]


def need_probs(ctx: Context, name: str) -> np.ndarray:
    if ctx.probs is None:
        raise ConfigError(
            f"strategy {name} reads a trained run's predictions; pass --run RUN, "
            "or use a cold-start strategy (typiclust, probcover, random)"
        )
    return ctx.probs


@strategy("margin", needs_predictions=True)
def pick_margin(ctx: Context, budget: int, seed: int) -> Picks:
    """the unlabelled items with the smallest top-1 minus top-2 probability"""
    m = margins(need_probs(ctx, "margin"))
    m = np.where(ctx.labeled, np.inf, m)
    # ties broken by a seeded permutation, not by position in the pool
    perm = np.random.default_rng([seed, 3]).permutation(m.size)
    order = perm[np.argsort(m[perm], kind="stable")][:budget]
    order = order[np.isfinite(m[order])]
    return Picks(order.astype(np.int64), 1.0 - m[order])
