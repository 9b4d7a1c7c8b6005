"""TypiClust (Hacohen, Dekel & Weinshall, ICML 2022): the most typical item of each uncovered cluster.

The pool is cut into (labelled + budget) k-means clusters; clusters holding no labelled item are
visited largest first, and from each the item with the densest neighbourhood is picked. In the
low-budget regime typical items beat uncertain ones: they label a mode of the data, not an outlier.
"""

from __future__ import annotations

import numpy as np

from ssft.suggest.fill import fill_random
from ssft.suggest.geometry import kmeans, typicality
from ssft.suggest.registry import Context, Picks, strategy

#: clusters smaller than this are skipped (typicality is meaningless on a handful of items)
MIN_CLUSTER = 5


@strategy("typiclust")
def pick_typiclust(ctx: Context, budget: int, seed: int) -> Picks:
    """most typical item of each of the largest clusters not yet holding a labelled item"""
    x, labeled = ctx.features, ctx.labeled
    clusters = kmeans(x, int(labeled.sum()) + budget, seed)
    sizes = np.bincount(clusters)
    taken = np.bincount(clusters[labeled], minlength=sizes.size)
    picks: list[int] = []
    scores: list[float] = []
    for _ in range(budget):
        # fewest labelled first, then largest: TypiClust's order
        order = np.lexsort((-sizes, taken))
        c = next((int(c) for c in order if sizes[c] >= MIN_CLUSTER), None)
        if c is None:
            break
        members = np.flatnonzero((clusters == c) & ~labeled)
        members = members[~np.isin(members, picks)]
        if members.size == 0:
            sizes[c] = 0
            continue
        typ = typicality(x[members])
        best = int(np.argmax(typ))
        picks.append(int(members[best]))
        scores.append(float(typ[best]))
        taken[c] += 1
    return fill_random(Picks(np.asarray(picks, dtype=np.int64), np.asarray(scores)), labeled, budget, seed)
