"""ProbCover (Yehuda et al., NeurIPS 2022): greedy max coverage of the pool by balls of one radius.

The radius is the largest whose balls stay inside one k-means cluster for 95 % of the items
(:func:`~ssft.suggest.geometry.coverage_radius`); each pick is the centre whose ball covers the most
items no labelled item or earlier pick covers yet.
"""

from __future__ import annotations

import numpy as np

from ssft.suggest.fill import fill_random
from ssft.suggest.geometry import MAX_BALL, balls, coverage_radius, greedy_cover, neighbours
from ssft.suggest.registry import Context, Picks, strategy


def coverage(ctx: Context, n_clusters: int, seed: int) -> tuple[float, list[np.ndarray]]:
    """The coverage radius and balls of a pool, computed once per context."""
    key = f"balls:{n_clusters}:{seed}"
    if key not in ctx.cache:
        if "near" not in ctx.cache:  # the pool's nearest neighbours, shared by every radius
            ctx.cache["near"] = neighbours(ctx.features, MAX_BALL)
        near = ctx.cache["near"]
        radius = coverage_radius(ctx.features, n_clusters, seed, near=near)  # type: ignore[arg-type]
        ctx.cache[key] = (radius, balls(ctx.features, radius, near=near))  # type: ignore[arg-type]
    return ctx.cache[key]  # type: ignore[return-value]


def covered_by_labeled(members: list[np.ndarray], labeled: np.ndarray) -> np.ndarray:
    covered = np.zeros(labeled.size, dtype=bool)
    for i in np.flatnonzero(labeled):
        covered[members[i]] = True
    return covered


@strategy("probcover")
def pick_probcover(ctx: Context, budget: int, seed: int) -> Picks:
    """greedy max coverage by balls whose radius keeps them inside one cluster"""
    _, members = coverage(ctx, int(ctx.labeled.sum()) + budget, seed)
    covered = covered_by_labeled(members, ctx.labeled)
    picks, scores = greedy_cover(members, budget, covered, ~ctx.labeled)
    return fill_random(Picks(picks, scores), ctx.labeled, budget, seed)
