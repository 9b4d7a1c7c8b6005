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


def _prep(x: np.ndarray, normalize: bool) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if normalize:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


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
        allx = np.concatenate([x, _prep(x_ulb, cfg.normalize)]) if x_ulb.size else x
        mean, scale = allx.mean(axis=0), allx.std(axis=0)
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
        sim = _prep(x, True) @ xl.T
        nn_idx = np.argsort(-sim, axis=1)[:, :k]
        w = np.ones_like(nn_idx, dtype=np.float64)
        if cfg.weights == "distance":
            w = 1.0 / np.maximum(1.0 - np.take_along_axis(sim, nn_idx, axis=1), 1e-6)
        out = np.zeros((x.shape[0], self.num_classes))
        np.add.at(out, (np.arange(x.shape[0])[:, None], yl[nn_idx]), w)
        return out / out.sum(axis=1, keepdims=True)


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
        from sklearn.semi_supervised import LabelSpreading as SkLabelSpreading

        cfg: LabelSpreadingConfig = self.cfg  # type: ignore[assignment]
        x = _prep(np.concatenate([x_lb, x_ulb]), cfg.normalize)
        y = np.concatenate([y_lb, np.full(len(x_ulb), -1)])
        model = SkLabelSpreading(
            kernel=cfg.kernel,
            n_neighbors=min(cfg.n_neighbors, len(x) - 1),
            gamma=cfg.gamma,
            alpha=cfg.alpha,
            max_iter=cfg.max_iter,
        )
        model.fit(x, y)
        dist = np.zeros((len(x), self.num_classes))
        dist[:, model.classes_.astype(int)] = model.label_distributions_
        self.arrays = {"x": x, "dist": dist}

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        # scikit-learn's inductive rules: for the knn kernel, sum the label distributions of the
        # k nearest training points (Euclidean distance in the prepared space); for rbf, weight
        # every training point's distribution by exp(-gamma |x - x_i|^2).
        from sklearn.neighbors import NearestNeighbors

        cfg: LabelSpreadingConfig = self.cfg  # type: ignore[assignment]
        xt = self.arrays["x"]
        xq = _prep(x, cfg.normalize)
        if cfg.kernel == "rbf":
            from sklearn.metrics.pairwise import rbf_kernel

            out = rbf_kernel(xq, xt, gamma=cfg.gamma) @ self.arrays["dist"]
        else:
            nn_ = NearestNeighbors(n_neighbors=min(cfg.n_neighbors, len(xt))).fit(xt)
            idx = nn_.kneighbors(xq, return_distance=False)
            out = self.arrays["dist"][idx].sum(axis=1)
        s = out.sum(axis=1, keepdims=True)
        out = np.where(s > 0, out / np.where(s > 0, s, 1.0), 1.0 / self.num_classes)
        return out
