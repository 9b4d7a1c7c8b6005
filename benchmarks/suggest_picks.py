"""Pickers compared by benchmarks/suggest.py: ssft's strategies, scikit-activeml's, and baselines.

Each picker maps (normalised pool features, labelled mask, class probabilities or None, budget,
seed) to pool positions. scikit-activeml (the anchor) runs with its documented defaults; it is a
benchmark dependency only (``pip install scikit-activeml``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ssft.suggest import Context, select

Picker = Callable[[np.ndarray, np.ndarray, np.ndarray | None, int, int], np.ndarray]


def ssft_picker(name: str) -> Picker:
    def pick(x: np.ndarray, labeled: np.ndarray, probs: np.ndarray | None, n: int, seed: int) -> np.ndarray:
        return select(Context(x, labeled, probs), n, seed, name).index

    return pick


def balanced_random(y: np.ndarray) -> Picker:
    """Today's protocol, an oracle (it reads the labels): n / K random items of every class."""

    def pick(x: np.ndarray, labeled: np.ndarray, probs: np.ndarray | None, n: int, seed: int) -> np.ndarray:
        classes = np.unique(y)
        per, extra = divmod(n, classes.size)
        rng = np.random.default_rng([seed, 11])
        out = []
        for j, c in enumerate(rng.permutation(classes)):
            free = np.flatnonzero((y == c) & ~labeled)
            out.append(rng.permutation(free)[: per + (j < extra)])
        return np.concatenate(out)

    return pick


def _y_missing(labeled: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.full(labeled.size, np.nan)
    out[labeled] = y[labeled]
    return out


def anchor_typiclust(y: np.ndarray) -> Picker:
    def pick(x: np.ndarray, labeled: np.ndarray, probs: np.ndarray | None, n: int, seed: int) -> np.ndarray:
        from skactiveml.pool import TypiClust

        qs = TypiClust(random_state=seed)
        return np.asarray(qs.query(x, _y_missing(labeled, y), batch_size=n), dtype=np.int64)

    return pick


def anchor_probcover(y: np.ndarray, n_classes: int) -> Picker:
    def pick(x: np.ndarray, labeled: np.ndarray, probs: np.ndarray | None, n: int, seed: int) -> np.ndarray:
        from skactiveml.pool import ProbCover

        qs = ProbCover(n_classes=n_classes, random_state=seed)
        return np.asarray(qs.query(x, _y_missing(labeled, y), batch_size=n), dtype=np.int64)

    return pick


def anchor_margin(
    x: np.ndarray, labeled: np.ndarray, probs: np.ndarray | None, n: int, seed: int
) -> np.ndarray:
    """scikit-activeml's margin score on the run's probabilities, the n highest among the unlabelled."""
    from skactiveml.pool._uncertainty_sampling import uncertainty_scores

    assert probs is not None
    u = uncertainty_scores(probs, method="margin_sampling")
    u = np.where(labeled, -np.inf, u)
    return np.argsort(-u, kind="stable")[:n]
