"""Completing a pick list: the items a strategy could not place, drawn at random, seeded."""

from __future__ import annotations

import numpy as np

from ssft.suggest.registry import Picks


def fill_random(picks: Picks, labeled: np.ndarray, budget: int, seed: int) -> Picks:
    """``picks`` topped up to ``budget`` with random unlabelled, unpicked items (score 0)."""
    missing = budget - len(picks.index)
    if missing <= 0:
        return Picks(picks.index[:budget], picks.score[:budget])
    free = np.ones(labeled.size, dtype=bool)
    free[labeled] = False
    free[picks.index] = False
    extra = np.random.default_rng([seed, 7]).permutation(np.flatnonzero(free))[:missing]
    return Picks(np.concatenate([picks.index, extra]), np.concatenate([picks.score, np.zeros(extra.size)]))
