"""A scikit-learn estimator over embeddings the user already has.

>>> from ssft import SemiSupervisedClassifier
>>> clf = SemiSupervisedClassifier(method="twinturbo", lambda_kl=0.1, steps=300)
>>> clf.fit(X, y)            # y = -1 marks unlabelled rows (as in sklearn's LabelSpreading)
>>> clf.predict(X_new), clf.predict_proba(X_new), clf.transduction_

It trains exactly what ``ssft fit --set data.name=features --set backbone.name=features:D`` trains
(same config, same seeds, same training loop), with every labelled row labelled and every ``-1`` row
unlabelled. Any method key (``ssft config --reference --method NAME``) is a constructor parameter;
any other config key goes through ``overrides=("model.depth=1", ...)``.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

UNLABELED = -1


def _method_keys() -> dict[str, set[str]]:
    """Method name -> its own config keys (shared ``name`` excluded)."""
    from ssft.config import method_configs

    return {
        name: {f.name for f in dataclasses.fields(cls)} - {"name"} for name, cls in method_configs().items()
    }


_EXPLICIT = (
    "method",
    "steps",
    "batch_size",
    "lr",
    "unlabeled_ratio",
    "weight_decay",
    "projector",
    "width",
    "depth",
    "seed",
    "device",
    "config",
    "overrides",
)


def labeled_accuracy(estimator: Any, X: Any, y: Any, sample_weight: Any = None) -> float:
    """Scorer for model selection on semi-supervised ``y``: accuracy on the rows with a label.

    ``cross_val_score(clf, X, y, scoring=ssft.labeled_accuracy)`` and ``GridSearchCV(...,
    scoring=ssft.labeled_accuracy)``; rows with ``y == -1`` are left out, since their "label" is
    not a class. Raises ``ValueError`` when a fold has no labelled row.
    """
    y = np.asarray(y)
    keep = y != UNLABELED if y.dtype.kind in "iuf" else np.ones(y.shape, dtype=bool)
    if not keep.any():
        raise ValueError(
            "labeled_accuracy: this fold has no labelled row (every y is -1); use fewer folds or "
            "a StratifiedKFold over labelled and unlabelled rows"
        )
    X_kept = np.asarray(X)[keep] if isinstance(X, list) else X[keep]
    right = estimator.predict(X_kept) == y[keep]
    if sample_weight is None:
        return float(np.mean(right))
    w = np.asarray(sample_weight, dtype=np.float64)[keep]
    return float(np.sum(w * right) / np.sum(w))


class SemiSupervisedClassifier(ClassifierMixin, BaseEstimator):
    """Semi-supervised classifier on pre-computed features (any ssft method).

    Parameters: ``method`` (``ssft methods``; the default is ssft's recommended one, as for
    ``ssft fit``), the method's own keys as keyword parameters, the main
    training keys (``steps``, ``batch_size``, ``lr``, ``unlabeled_ratio``, ``weight_decay``), the head
    (``projector``, ``width``, ``depth``), ``seed``, ``device``; ``config`` (a preset name, YAML file
    or None for the defaults) and ``overrides`` (``"key=value"`` strings) reach every other key.
    A parameter left at None takes its value from ``config`` (or ssft's defaults), then
    ``overrides`` apply.

    Attributes after ``fit``: ``classes_``, ``n_features_in_``, ``transduction_`` (the predicted class
    of every training row), ``label_distributions_`` (their probabilities), ``config_`` (the resolved
    :class:`~ssft.config.Config`), ``metrics_`` (the lines of metrics.jsonl) and ``method_``.
    """

    def __init__(
        self,
        method: str = "fixmatch",
        *,
        steps: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        unlabeled_ratio: int | None = None,
        weight_decay: float | None = None,
        projector: str | None = None,
        width: int | None = None,
        depth: int | None = None,
        seed: int | None = None,
        device: str = "cpu",
        config: str | None = None,
        overrides: Sequence[str] = (),
        **method_params: Any,
    ) -> None:
        self.method = method
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.unlabeled_ratio = unlabeled_ratio
        self.weight_decay = weight_decay
        self.projector = projector
        self.width = width
        self.depth = depth
        self.seed = seed
        self.device = device
        self.config = config
        self.overrides = overrides
        every = set().union(*_method_keys().values())
        unknown = sorted(set(method_params) - every)
        if unknown:
            # The CLI refuses an unknown key; dropping it here would train without the user's setting.
            raise TypeError(
                f"SemiSupervisedClassifier got unknown parameter(s) {', '.join(map(repr, unknown))}; "
                f"valid: the explicit ones ({', '.join(_EXPLICIT)}) and the method keys "
                f"({', '.join(sorted(every))}); `ssft config --reference --method NAME` lists a method's own"
            )
        for key, value in method_params.items():
            setattr(self, key, value)

    # -- parameters: the explicit ones plus every method key set on this instance ------------------

    def _method_param_names(self) -> list[str]:
        every = set().union(*_method_keys().values())
        return sorted(k for k in vars(self) if k in every)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        params = super().get_params(deep=deep)
        params.update({k: getattr(self, k) for k in self._method_param_names()})
        return params

    def set_params(self, **params: Any) -> SemiSupervisedClassifier:
        every = set().union(*_method_keys().values())
        own = {k: v for k, v in params.items() if k in every and k not in self._get_param_names()}
        for key, value in own.items():
            setattr(self, key, value)
        rest = {k: v for k, v in params.items() if k not in own}
        if rest:
            super().set_params(**rest)
        return self

    # -- the config this estimator trains with -------------------------------------------------------

    def _build_config(self, dim: int) -> Any:
        from ssft.config import from_dict, load_source, merge, parse_override
        from ssft.errors import ConfigError

        keys = _method_keys()
        if self.method not in keys:
            raise ConfigError(f"unknown method {self.method!r}; known: {', '.join(sorted(keys))}")
        wrong = [k for k in self._method_param_names() if k not in keys[self.method]]
        if wrong:
            raise ConfigError(
                f"{', '.join(wrong)} {'is not a key' if len(wrong) == 1 else 'are not keys'} of method "
                f"{self.method}; its keys: {', '.join(sorted(keys[self.method])) or 'none'}"
            )
        data: dict[str, Any] = load_source(self.config) if self.config else {}
        given = lambda **kw: {k: v for k, v in kw.items() if v is not None}  # noqa: E731
        sets = {
            "method": {"name": self.method, **{k: getattr(self, k) for k in self._method_param_names()}},
            "backbone": {"name": f"features:{dim}", "frozen": True},
            "model": given(projector=self.projector, width=self.width, depth=self.depth),
            "train": {
                **given(
                    steps=self.steps,
                    batch_size=self.batch_size,
                    lr=self.lr,
                    unlabeled_ratio=self.unlabeled_ratio,
                    weight_decay=self.weight_decay,
                ),
                "device": self.device,
                "progress": False,
            },
            "cache": {"enabled": False},
            **given(seed=self.seed),
        }
        if isinstance(data.get("method"), dict) and data["method"].get("name", self.method) != self.method:
            data = {**data, "method": {}}
        data = merge(data, sets)
        for text in self.overrides:
            data = merge(data, parse_override(text))
        cfg = from_dict(data)
        return cfg

    # -- fit / predict ---------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> SemiSupervisedClassifier:
        """Train on rows ``X`` (n, d); ``y`` holds a label per row, ``-1`` for unlabelled rows."""
        from ssft.data.features import FeatureRows
        from ssft.methods.closed_form import ClosedFormMethod

        X, y = validate_data(self, X, y, dtype=np.float32, reset=True)
        check_classification_targets(y)
        y = np.asarray(y)
        unl = y == UNLABELED if y.dtype.kind in "iuf" else np.zeros(y.shape, dtype=bool)
        self.classes_ = np.unique(y[~unl])
        if self.classes_.size < 2:
            raise ValueError(
                f"SemiSupervisedClassifier needs labelled rows of at least 2 classes; got {self.classes_.size} class"
            )
        labels = np.full(y.shape, UNLABELED, dtype=np.int64)
        labels[~unl] = np.searchsorted(self.classes_, y[~unl])
        cfg = self._build_config(X.shape[1])
        self.config_ = cfg
        rows = FeatureRows(X)
        method, metrics = train_on_features(cfg, rows, labels, len(self.classes_))
        self.method_ = method
        self.metrics_ = metrics
        fitted = method.fitted_proba() if isinstance(method, ClosedFormMethod) else None
        if fitted is not None:  # transductive (label spreading): what the fit spread, as scikit-learn
            proba = np.empty((len(labels), len(self.classes_)))
            proba[np.concatenate(fit_rows(labels))] = fitted
        else:
            proba = self.predict_proba(X)
        self.label_distributions_ = proba
        self.transduction_ = self.classes_[proba.argmax(1)]
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``, columns in the order of ``classes_``."""
        import torch

        from ssft.backbones.base import Features

        check_is_fitted(self, "method_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        method = self.method_
        dev = next((b.device for b in method.buffers()), torch.device("cpu"))
        method.eval()
        out = []
        with torch.no_grad():
            for s in range(0, X.shape[0], 1024):
                x = torch.from_numpy(np.ascontiguousarray(X[s : s + 1024])).to(dev)
                out.append(method.probabilities(Features(pooled=x, tokens=x[:, None, :], mask=None)).cpu())
        if not out:
            return np.zeros((0, len(self.classes_)))
        return torch.cat(out).double().numpy()

    def predict(self, X: Any) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(1)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy on the labelled rows of ``(X, y)``; rows with ``y == -1`` are not scored."""
        return labeled_accuracy(self, X, y, sample_weight)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


def fit_rows(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labelled rows, unlabelled rows) of ``labels`` (``-1`` = unlabelled), in the order a
    closed-form method's ``fit`` sees them."""
    return np.flatnonzero(labels >= 0).astype(np.int64), np.flatnonzero(labels < 0).astype(np.int64)


def train_on_features(cfg: Any, rows: Any, labels: np.ndarray, num_classes: int) -> tuple[Any, list[dict]]:
    """Train ``cfg``'s method on rows with labels (``-1`` = unlabelled), as ``ssft fit`` would.

    Every labelled row is labelled and every other row unlabelled (no split is drawn). Returns the
    trained method and the logged metrics.
    """
    import torch

    from ssft.backbones import build_backbone
    from ssft.data.splits import Split
    from ssft.errors import DataError
    from ssft.methods import build_method
    from ssft.run.phases import build_model, train_method
    from ssft.train.run_dir import MetricsLog
    from ssft.train.runtime import resolve_device
    from ssft.train.streams import LiveSource

    device = resolve_device(cfg.train.device)
    torch.manual_seed(cfg.seed)
    backbone = build_backbone(cfg.backbone).freeze().to(device)
    labeled, unlabeled = fit_rows(labels)
    split = Split(
        labeled=labeled,
        unlabeled=unlabeled,
        test=np.zeros(0, dtype=np.int64),
        test_source="train",
    )
    source = LiveSource(backbone, rows, device, grad=False)
    model = build_model(cfg, backbone, num_classes, source, split, device)  # as in ssft fit
    counts = np.bincount(labels[split.labeled], minlength=num_classes)
    method = build_method(cfg.method, model, class_counts=counts, seed=cfg.seed).to(device)
    if method.uses_unlabeled and split.unlabeled.size == 0:
        raise DataError(
            f"method {cfg.method.name} learns from unlabelled rows but y has no -1; "
            "mark unlabelled rows with y = -1, or use method='supervised'"
        )
    with tempfile.TemporaryDirectory(prefix="ssft-estimator-") as tmp:
        log = MetricsLog(Path(tmp) / "metrics.jsonl")
        train_method(cfg, Path(tmp), method, split, labels, source, device, log)
        metrics = log.read()
    method.eval()
    return method, metrics
