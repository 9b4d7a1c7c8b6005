"""Shared geometry of the pool: k-means clusters, typicality, a coverage radius and its balls.

Features are L2-normalised, so Euclidean distances are monotone in cosine similarity.
"""

from __future__ import annotations

import numpy as np

#: neighbours per item in the typicality estimate (TypiClust, Hacohen et al., ICML 2022, uses 20)
TYPICALITY_NEIGHBOURS = 20
#: the most neighbours kept per ball in the coverage graph (bounds memory on dense pools)
MAX_BALL = 200


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32); zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def kmeans(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Cluster labels (n,) of ``k`` k-means clusters, seeded; mini-batches on large pools."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    k = max(1, min(k, x.shape[0]))
    if x.shape[0] > 20000 or k > 200:
        km = MiniBatchKMeans(k, random_state=seed, n_init=3, batch_size=4096)
    else:
        km = KMeans(k, random_state=seed, n_init=1)
    return km.fit_predict(x).astype(np.int64)


def typicality(x: np.ndarray, neighbours: int = TYPICALITY_NEIGHBOURS) -> np.ndarray:
    """Inverse mean distance of each row to its ``neighbours`` nearest other rows (n,)."""
    from sklearn.neighbors import NearestNeighbors

    n = x.shape[0]
    if n < 2:
        return np.ones(n)
    m = min(neighbours, n - 1)
    dist, _ = NearestNeighbors(n_neighbors=m + 1).fit(x).kneighbors(x)
    return 1.0 / (dist[:, 1:].mean(1) + 1e-8)


def neighbours(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices (n, k) of each row's k nearest rows, itself first."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, x.shape[0])
    return NearestNeighbors(n_neighbors=k).fit(x).kneighbors(x)


def coverage_radius(
    x: np.ndarray,
    n_clusters: int,
    seed: int,
    purity: float = 0.95,
    near: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """The largest radius whose balls stay within one k-means cluster for ``purity`` of the items.

    ProbCover (Yehuda et al., NeurIPS 2022) picks its radius this way: balls that rarely cross a
    cluster boundary rarely mix classes, so covering them spreads labels over the classes.
    """
    labels = kmeans(x, n_clusters, seed)
    dist, idx = near if near is not None else neighbours(x, MAX_BALL)
    crosses = labels[idx] != labels[:, None]  # (n, MAX_BALL), sorted by distance
    # first distance at which each item's ball holds another cluster's item
    # (a ball with no other cluster within MAX_BALL neighbours counts as pure up to its farthest one)
    first = np.where(crosses.any(1), dist[np.arange(len(x)), crosses.argmax(1)], dist[:, -1])
    return max(float(np.quantile(first, 1.0 - purity)), 1e-6)


def balls(
    x: np.ndarray, radius: float, near: tuple[np.ndarray, np.ndarray] | None = None
) -> list[np.ndarray]:
    """For each row, the rows within ``radius`` of it (itself included; at most ``MAX_BALL``);
    ``near``: the ``neighbours(x, MAX_BALL)`` already computed."""
    dist, idx = near if near is not None else neighbours(x, MAX_BALL)
    return [row[d <= radius] for d, row in zip(dist, idx, strict=True)]


def greedy_cover(
    members: list[np.ndarray],
    budget: int,
    covered: np.ndarray,
    allowed: np.ndarray,
    weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy max coverage: pick ``budget`` allowed centres, each covering the most weight not yet
    covered by its ball. Returns (picks, the weight each newly covered); ``covered`` is updated."""
    n = len(members)
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)
    gain = np.array([w[m[~covered[m]]].sum() for m in members])
    # reverse lists: which balls hold each item, to update gains after a pick
    holders: list[list[int]] = [[] for _ in range(n)]
    for c, m in enumerate(members):
        for j in m:
            holders[int(j)].append(c)
    picks, scores = [], []
    gain[~allowed] = -np.inf
    for _ in range(budget):
        c = int(np.argmax(gain))
        if not np.isfinite(gain[c]) or gain[c] <= 0:
            break  # everything reachable is covered: the caller fills the rest
        picks.append(c)
        scores.append(float(max(gain[c], 0.0)))
        new = members[c][~covered[members[c]]]
        covered[new] = True
        for j in new:
            for h in holders[int(j)]:
                if np.isfinite(gain[h]):
                    gain[h] -= w[j]
        gain[c] = -np.inf
    return np.asarray(picks, dtype=np.int64), np.asarray(scores)
