"""BADGE (Ash et al., ICLR 2020): k-means++ seeding on last-layer gradient embeddings.

The gradient of the cross-entropy at the predicted label with respect to a linear head is
``(p - onehot(argmax p)) ⊗ x``; its norm is large for uncertain items and k-means++ spreads the
picks. The (K * D)-dimensional embeddings are never built: their inner products factor as
``<p̃_i, p̃_j> <x_i, x_j>``.
"""

from __future__ import annotations

import numpy as np

from ssft.suggest.margin import need_probs
from ssft.suggest.registry import Context, Picks, strategy


@strategy("badge", needs_predictions=True)
def pick_badge(ctx: Context, budget: int, seed: int) -> Picks:
    """k-means++ seeding on gradient embeddings (uncertainty and diversity together)"""
    probs = need_probs(ctx, "badge").astype(np.float64)
    x = ctx.features.astype(np.float64)
    g = probs.copy()
    g[np.arange(len(g)), probs.argmax(1)] -= 1.0
    sq = (g * g).sum(1) * (x * x).sum(1)  # squared norms of the embeddings
    rng = np.random.default_rng([seed, 4])
    free = ~ctx.labeled
    d2 = np.where(free, sq, 0.0)  # distance to the nearest centre; the first centre is the largest
    picks, scores = [], []
    for t in range(budget):
        if not free.any():
            break
        if t == 0:
            c = int(np.argmax(d2))
        else:
            p = np.where(free, d2, 0.0)
            total = p.sum()
            c = int(rng.choice(len(p), p=p / total)) if total > 0 else int(rng.choice(np.flatnonzero(free)))
        picks.append(c)
        scores.append(float(np.sqrt(max(d2[c], 0.0))))
        free[c] = False
        dist = sq + sq[c] - 2.0 * (g @ g[c]) * (x @ x[c])
        d2 = np.minimum(d2 if t else np.full_like(d2, np.inf), np.maximum(dist, 0.0))
    return Picks(np.asarray(picks, dtype=np.int64), np.asarray(scores))
