"""Margin + coverage: cover the uncertain part of the pool, not only its most uncertain items.

ProbCover's greedy coverage (:mod:`ssft.suggest.probcover`), each item weighted by its uncertainty
``1 - margin`` and balls already holding a labelled item left out: a pick is the centre of a dense,
uncovered region where the run hesitates. Pure margin sampling at a few labels per class picks near
duplicates on one confused boundary; coverage spreads the batch over every such region.
"""

from __future__ import annotations

from ssft.suggest.fill import fill_random
from ssft.suggest.geometry import greedy_cover
from ssft.suggest.margin import margins, need_probs
from ssft.suggest.probcover import coverage, covered_by_labeled
from ssft.suggest.registry import Context, Picks, strategy


@strategy("margin_coverage", needs_predictions=True)
def pick_margin_coverage(ctx: Context, budget: int, seed: int) -> Picks:
    """greedy coverage of the pool weighted by uncertainty (1 - margin), around the labelled items"""
    weight = 1.0 - margins(need_probs(ctx, "margin_coverage"))
    # the radius from as many clusters as classes: a property of the pool, not of this batch's size
    _, members = coverage(ctx, max(ctx.probs.shape[1], int(ctx.labeled.sum()) + budget), seed)  # type: ignore[union-attr]
    covered = covered_by_labeled(members, ctx.labeled)
    picks, scores = greedy_cover(members, budget, covered, ~ctx.labeled, weight=weight)
    return fill_random(Picks(picks, scores), ctx.labeled, budget, seed)
