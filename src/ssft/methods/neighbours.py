"""The k nearest neighbours of query rows among base rows (Euclidean), exact or approximate.

The neighbour-graph baselines (k-NN, label spreading) call :func:`nearest_neighbours`. Below
``EXACT_MAX_ROWS`` base rows (``how="auto"``) the search is exact: scikit-learn's
``NearestNeighbors``, the same search scikit-learn's ``LabelSpreading`` runs, so results at those
sizes are the ones the baselines always gave. Above it the search is approximate, with an HNSW
index from hnswlib (the ``scale`` extra): exact search costs O(N_base * N_query * d), which is hours
at 10^6 rows, while the index costs about O(N log N * d) to build.

Why hnswlib (figures in ``benchmarks/results/neighbour_libraries.md``, one thread, k = 20, every
row querying its own base, recall@20 against exact on 1,000 rows): on real MiniLM pooled features
(Banking77, N = 10^4) hnswlib built and queried in 2.1 s at recall 0.9998, faiss-cpu's HNSW in
2.6 s at 0.9996, pynndescent in 49 s at 0.997 (most of it numba compilation, paid once per
process). hnswlib is one small compiled package with no runtime compiler, and a seeded
single-threaded build is reproducible.

Determinism: exact search is deterministic. Up to ``SERIAL_BUILD_MAX_ROWS`` rows the approximate
index is built with a fixed seed on one thread, which gives the same graph on every run on the
same machine. Above it the build uses every core (one thread builds 10^5 rows of 384 dims in about
95 s, so 10^6 rows would take over 20 minutes); hnswlib then inserts rows in an order that varies
from run to run, so the graph, and a few neighbours, may differ between runs (same recall).
Queries are independent of each other and run on every core without changing the answer.
"""

from __future__ import annotations

import os

import numpy as np

from ssft.errors import ConfigError

NEIGHBOUR_MODES = ("auto", "exact", "approximate")
EXACT_MAX_ROWS = 50_000  # auto: exact at or below this many base rows, approximate above
SERIAL_BUILD_MAX_ROWS = 200_000  # approximate: one-thread (reproducible) build up to this size
QUERY_CHUNK = 8192  # query rows per block: bounds the memory of a search to O(chunk * (k + N_base))
SCALE_HINT = "pip install 'ssft[scale]'"


def _hnswlib():  # type: ignore[no-untyped-def]
    try:
        import hnswlib
    except ImportError as err:
        raise ImportError(
            f"approximate nearest neighbours need hnswlib: {SCALE_HINT} "
            f"(or set method.neighbours=exact, which is slow above {EXACT_MAX_ROWS:,} rows)"
        ) from err
    return hnswlib


def _have_hnswlib() -> bool:
    try:
        import hnswlib  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_mode(how: str, n_base: int) -> str:
    """``"exact"`` or ``"approximate"``: what ``how`` (auto | exact | approximate) means for a base
    of ``n_base`` rows. ``auto`` stays exact when hnswlib is missing and the base is small."""
    if how not in NEIGHBOUR_MODES:
        raise ConfigError(f"neighbours must be one of {', '.join(NEIGHBOUR_MODES)}, got {how!r}")
    if how != "auto":
        return how
    if n_base <= EXACT_MAX_ROWS:
        return "exact"
    if not _have_hnswlib():
        _hnswlib()  # raises the message naming the extra
    return "approximate"


class NeighbourIndex:
    """A searchable base of rows (N, d): ``query(x, k)`` gives ``(indices, distances)``, both
    (n, k), nearest first, Euclidean distances. Exact or HNSW, as :func:`resolve_mode` says;
    ``ef`` is HNSW's candidate-list size (build and search), ``threads`` those of the build
    (default: see the module docstring)."""

    def __init__(
        self, base: np.ndarray, *, how: str = "auto", seed: int = 0, ef: int = 200, threads: int | None = None
    ) -> None:
        base = np.asarray(base)
        if base.ndim != 2:
            raise ValueError(f"base must be (N, d), got shape {base.shape}")
        self.n, self.mode, self.ef = len(base), resolve_mode(how, len(base)), ef
        if self.mode == "exact":
            from sklearn.neighbors import NearestNeighbors

            self._nn = NearestNeighbors().fit(np.asarray(base, dtype=np.float64))
        else:
            hnswlib = _hnswlib()
            self._index = hnswlib.Index(space="l2", dim=base.shape[1])
            self._index.init_index(max_elements=self.n, ef_construction=ef, M=16, random_seed=seed)
            # One thread unless large: a multi-threaded build inserts rows in a varying order.
            if threads is None:
                threads = 1 if self.n <= SERIAL_BUILD_MAX_ROWS else os.cpu_count() or 1
            self._index.add_items(np.asarray(base, dtype=np.float32), np.arange(self.n), num_threads=threads)

    def query(self, x: np.ndarray, k: int, *, chunk: int = QUERY_CHUNK) -> tuple[np.ndarray, np.ndarray]:
        """Indices (n, k) int64 and distances (n, k) float64 of the ``k`` nearest base rows of each
        row of ``x`` (n, d), searched ``chunk`` query rows at a time."""
        x = np.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"query must be (n, d), got shape {x.shape}")
        if not 1 <= k <= self.n:
            raise ValueError(f"k must be in [1, {self.n}] (the base rows), got {k}")
        idx = np.empty((len(x), k), dtype=np.int64)
        dist = np.empty((len(x), k), dtype=np.float64)
        for start in range(0, len(x), max(1, chunk)):
            stop = min(start + max(1, chunk), len(x))
            idx[start:stop], dist[start:stop] = self._search(x[start:stop], k)
        return idx, dist

    def _search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.mode == "exact":
            d, i = self._nn.kneighbors(np.asarray(x, dtype=np.float64), n_neighbors=k)
            return i, d
        self._index.set_ef(max(self.ef, k))
        i, d2 = self._index.knn_query(np.asarray(x, dtype=np.float32), k=k, num_threads=os.cpu_count() or 1)
        return i.astype(np.int64), np.sqrt(np.maximum(d2, 0.0)).astype(np.float64)


def nearest_neighbours(
    base: np.ndarray,
    query: np.ndarray | None,
    k: int,
    *,
    how: str = "auto",
    seed: int = 0,
    chunk: int = QUERY_CHUNK,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``base`` (N, d) to each row of ``query`` (n, d), or of ``base``
    itself when ``query`` is None (each row then finds itself first, as in scikit-learn's
    ``kneighbors_graph(X)``). Returns ``(indices, distances)``, (n, k) each, nearest first.

    ``how``: ``exact`` (scikit-learn), ``approximate`` (hnswlib HNSW, seeded) or ``auto`` (exact up
    to ``EXACT_MAX_ROWS`` base rows)."""
    index = NeighbourIndex(base, how=how, seed=seed)
    return index.query(base if query is None else query, k, chunk=chunk)
