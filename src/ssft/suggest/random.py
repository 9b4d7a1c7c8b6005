"""Uniform random picks among the unlabelled items: the honest baseline."""

from __future__ import annotations

import numpy as np

from ssft.suggest.registry import Context, Picks, strategy


@strategy("random")
def pick_random(ctx: Context, budget: int, seed: int) -> Picks:
    """uniform random unlabelled items (the baseline every strategy must beat)"""
    free = np.flatnonzero(~ctx.labeled)
    idx = np.random.default_rng([seed, 1]).permutation(free)[:budget]
    return Picks(idx.astype(np.int64), np.zeros(idx.size))
