"""Classical baselines on the frozen pooled latent ``z*``.

Strong simple baselines are part of an honest comparison: with a handful of labels, logistic
regression or label spreading on good frozen features is hard to beat. These methods are fitted in
closed form by scikit-learn (no gradient steps); their fitted state is kept as plain arrays, saved
with safetensors, so a run reloads without pickle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssft.config import MethodConfig, choice, doc
from ssft.errors import ConfigError
from ssft.methods.base import register_method
from ssft.methods.closed_form import ClosedFormMethod
from ssft.methods.neighbours import QUERY_CHUNK, NeighbourIndex, resolve_mode
from ssft.methods.spreading import knn_graph, spread_labels

RBF_MAX_ROWS = 20_000  # the rbf kernel holds an N x N float64 matrix: 3.2 GB at this size
NEIGHBOURS_HELP = (
    "nearest-neighbour search: exact (scikit-learn), approximate (hnswlib HNSW, seeded; "
    "pip install 'ssft[scale]') or auto (exact up to 50,000 rows, approximate above)"
)


def _prep(x: np.ndarray, normalize: bool, dtype: type = np.float64, *, in_place: bool = False) -> np.ndarray:
    """Rows as ``dtype``, L2-normalised with ``normalize``. ``in_place``: ``x`` is a scratch array
    of ``dtype`` the caller gives up (no second copy of a large pool)."""
    x = np.asarray(x, dtype=dtype)
    if normalize:
        norms = np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        x = np.divide(x, norms, out=x if in_place else None)
    return x


def _moments(parts: list[np.ndarray], normalize: bool, chunk: int = 65_536) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and standard deviation of the prepared rows of ``parts`` (two passes over
    blocks of ``chunk`` rows, float64): a pool of any size costs one block of memory."""
    blocks = lambda: (_prep(p[s : s + chunk], normalize) for p in parts for s in range(0, len(p), chunk))  # noqa: E731
    n = sum(len(p) for p in parts)
    mean = sum(b.sum(axis=0) for b in blocks()) / n
    var = sum(((b - mean) ** 2).sum(axis=0) for b in blocks()) / n
    return mean, np.sqrt(var)


def _row_distributions(mass: np.ndarray, k: int) -> np.ndarray:
    """Each row of non-negative class mass (n, k) scaled to sum to 1; a row without mass uniform."""
    s = mass.sum(axis=1, keepdims=True)
    return np.where(s > 0, mass / np.where(s > 0, s, 1.0), 1.0 / k)


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class LinearProbeConfig(MethodConfig):
    C: float = doc(10.0, "inverse L2 regularisation strength of the logistic regression")
    max_iter: int = doc(2000, "solver iterations")
    normalize: bool = doc(True, "L2-normalise z* before standardising")
    standardize: bool = doc(True, "standardise each dimension with the training features' statistics")


@register_method
class LinearProbe(ClosedFormMethod):
    """Logistic regression on standardised frozen features (fitted on the labelled data only)."""

    name = "linear_probe"
    config_class = LinearProbeConfig

    def fit(self, x_lb: np.ndarray, y_lb: np.ndarray, x_ulb: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        cfg: LinearProbeConfig = self.cfg  # type: ignore[assignment]
        x = _prep(x_lb, cfg.normalize)
        # Standardise with the statistics of every training feature (labelled and unlabelled):
        # with 1 label per class the labelled set alone gives a useless per-dimension std.
        mean, scale = _moments([x_lb, x_ulb] if x_ulb.size else [x_lb], cfg.normalize)
        scale[scale < 1e-12] = 1.0
        if not cfg.standardize:
            mean, scale = np.zeros_like(mean), np.ones_like(scale)
        clf = LogisticRegression(C=cfg.C, max_iter=cfg.max_iter)
        clf.fit((x - mean) / scale, y_lb)
        coef = np.zeros((self.num_classes, x.shape[1]))
        bias = np.full(self.num_classes, -1e9)
        classes = clf.classes_.astype(int)
        if len(classes) == 2:  # binary problems are fitted as one logit; make it two for a softmax
            coef[classes[1]], bias[classes[1]] = clf.coef_[0] / 2, clf.intercept_[0] / 2
            coef[classes[0]], bias[classes[0]] = -clf.coef_[0] / 2, -clf.intercept_[0] / 2
        else:
            coef[classes], bias[classes] = clf.coef_, clf.intercept_
        self.arrays = {"mean": mean, "scale": scale, "coef": coef, "bias": bias}

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        a = self.arrays
        cfg: LinearProbeConfig = self.cfg  # type: ignore[assignment]
        z = (_prep(x, cfg.normalize) - a["mean"]) / a["scale"]
        return _softmax(z @ a["coef"].T + a["bias"])


@dataclass
class KNNConfig(MethodConfig):
    k: int = doc(10, "neighbours (capped at the number of labelled examples)")
    weights: str = choice("distance", "distance", "uniform", help="vote weighting")
    neighbours: str = choice("auto", "auto", "exact", "approximate", help=NEIGHBOURS_HELP)


@register_method
class KNN(ClosedFormMethod):
    """k-nearest-neighbour vote among the labelled examples (cosine distance)."""

    name = "knn"
    config_class = KNNConfig

    def fit(self, x_lb: np.ndarray, y_lb: np.ndarray, x_ulb: np.ndarray) -> None:
        self.arrays = {"x": _prep(x_lb, True), "y": np.asarray(y_lb, dtype=np.int64)}

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        cfg: KNNConfig = self.cfg  # type: ignore[assignment]
        xl, yl = self.arrays["x"], self.arrays["y"]
        k = min(cfg.k, len(yl))
        index = _cached_index(self, xl, cfg.neighbours)
        out = np.zeros((x.shape[0], self.num_classes))
        for start in range(0, x.shape[0], QUERY_CHUNK):
            xq = _prep(x[start : start + QUERY_CHUNK], True)
            nn_idx, _ = index.query(xq, k)
            w = np.ones_like(nn_idx, dtype=np.float64)
            if cfg.weights == "distance":
                # cosine similarity of the rows found (Euclidean order on unit rows is cosine order)
                sim = np.einsum("nd,nkd->nk", xq, xl[nn_idx])
                w = 1.0 / np.maximum(1.0 - sim, 1e-6)
            np.add.at(out[start : start + len(xq)], (np.arange(len(xq))[:, None], yl[nn_idx]), w)
        return out / out.sum(axis=1, keepdims=True)


def _cached_index(method: ClosedFormMethod, base: np.ndarray, how: str) -> NeighbourIndex:
    """The neighbour index of ``base``, kept on the method so repeated predictions (and the fit of
    label spreading) build it once; a reload (new arrays) builds it again."""
    cached = method._neighbour_index
    if cached is not None and cached[0] is base and cached[1] == how:
        return cached[2]
    index = NeighbourIndex(base, how=how, seed=method.seed)
    method._neighbour_index = (base, how, index)
    return index


@dataclass
class LabelSpreadingConfig(MethodConfig):
    # Defaults chosen on development data pooled over AG News, CIFAR-10 and striped MNIST
    # (benchmarks/defaults_dev.py), with the same budget as the methods' own defaults.
    n_neighbors: int = doc(20, "k of the k-NN graph")
    alpha: float = doc(0.8, "clamping factor (0 keeps the labels, 1 replaces them)")
    max_iter: int = doc(1000, "iterations")
    normalize: bool = doc(True, "L2-normalise z* (cosine geometry)")
    kernel: str = choice(
        "knn", "knn", "rbf", help="graph: k-NN (sparse) or rbf exp(-gamma |x - x'|^2) (dense, n x n memory)"
    )
    gamma: float = doc(20.0, "rbf kernel width")
    neighbours: str = choice("auto", "auto", "exact", "approximate", help=NEIGHBOURS_HELP + " (kernel=knn)")

    def validate(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ConfigError("method.alpha must be in (0, 1)")
        if self.gamma <= 0:
            raise ConfigError("method.gamma must be > 0")


@register_method
class LabelSpreading(ClosedFormMethod):
    """scikit-learn label spreading over a k-NN graph of labelled + unlabelled features (inductive
    on the test part: it never sees test inputs while fitting)."""

    name = "label_spreading"
    config_class = LabelSpreadingConfig
    uses_unlabeled = True

    def fit(self, x_lb: np.ndarray, y_lb: np.ndarray, x_ulb: np.ndarray) -> None:
        cfg: LabelSpreadingConfig = self.cfg  # type: ignore[assignment]
        n = len(x_lb) + len(x_ulb)
        # float64 where the search is exact (scikit-learn's numbers exactly); float32, what the
        # approximate index computes in anyway, above: half the memory of a large pool.
        approximate = cfg.kernel == "knn" and resolve_mode(cfg.neighbours, n) == "approximate"
        dtype = np.float32 if approximate else np.float64
        x = np.empty((n, np.shape(x_lb)[1] if len(x_lb) else np.shape(x_ulb)[1]), dtype=dtype)
        x[: len(x_lb)], x[len(x_lb) :] = x_lb, x_ulb
        x = _prep(x, cfg.normalize, dtype, in_place=True)
        y = np.concatenate([np.asarray(y_lb, dtype=np.int64), np.full(len(x_ulb), -1)])
        if cfg.kernel == "rbf":
            dist = self._fit_rbf(x, y)
        else:
            # scikit-learn's knn kernel, on a sparse graph: each row's k nearest rows, itself first.
            k = min(cfg.n_neighbors, len(x) - 1)
            neighbours, _ = _cached_index(self, x, cfg.neighbours).query(x, k)
            dist = spread_labels(
                knn_graph(neighbours), y, self.num_classes, alpha=cfg.alpha, max_iter=cfg.max_iter
            )
        # The index built on x above stays cached for predict_proba (same array object).
        self.arrays = {"x": x, "dist": dist}

    def fitted_proba(self) -> np.ndarray:
        """The spread label distributions of the fitted rows (labelled, then unlabelled), each
        summing to 1: scikit-learn's ``label_distributions_``."""
        return _row_distributions(self.arrays["dist"], self.num_classes)

    def _fit_rbf(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        from sklearn.semi_supervised import LabelSpreading as SkLabelSpreading

        cfg: LabelSpreadingConfig = self.cfg  # type: ignore[assignment]
        if len(x) > RBF_MAX_ROWS:
            raise ConfigError(
                f"method.kernel=rbf holds an N x N matrix; {len(x):,} training rows is above "
                f"{RBF_MAX_ROWS:,}: use method.kernel=knn (a sparse k-NN graph)"
            )
        model = SkLabelSpreading(kernel="rbf", gamma=cfg.gamma, alpha=cfg.alpha, max_iter=cfg.max_iter)
        model.fit(x, y)
        dist = np.zeros((len(x), self.num_classes))
        dist[:, model.classes_.astype(int)] = model.label_distributions_
        return dist

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        # scikit-learn's inductive rules: for the knn kernel, sum the label distributions of the
        # k nearest training points (Euclidean distance in the prepared space); for rbf, weight
        # every training point's distribution by exp(-gamma |x - x_i|^2). Queries go in chunks.
        cfg: LabelSpreadingConfig = self.cfg  # type: ignore[assignment]
        xt, dist = self.arrays["x"], self.arrays["dist"]
        out = np.zeros((x.shape[0], self.num_classes))
        for start in range(0, x.shape[0], QUERY_CHUNK):
            xq = _prep(x[start : start + QUERY_CHUNK], cfg.normalize, xt.dtype.type)
            if cfg.kernel == "rbf":
                from sklearn.metrics.pairwise import rbf_kernel

                out[start : start + len(xq)] = rbf_kernel(xq, xt, gamma=cfg.gamma) @ dist
            else:
                index = _cached_index(self, xt, cfg.neighbours)
                idx, _ = index.query(xq, min(cfg.n_neighbors, len(xt)))
                out[start : start + len(xq)] = dist[idx].sum(axis=1)
        return _row_distributions(out, self.num_classes)
