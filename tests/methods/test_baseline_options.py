"""The tunable options of the classical baselines, against scikit-learn run by hand."""

from __future__ import annotations

import numpy as np
import pytest
from dummy_backbone import DummyBackbone
from sklearn.linear_model import LogisticRegression
from sklearn.semi_supervised import LabelSpreading as SkLabelSpreading

from ssft.config import ModelConfig, load_config
from ssft.errors import ConfigError
from ssft.heads.model import SSFTModel
from ssft.methods import build_method

K, D = 3, 6


def make(name: str, *keys: str):
    cfg = load_config(None, [f"method.name={name}", *keys])
    model = SSFTModel(DummyBackbone(D).freeze(), ModelConfig(projector="identity"), K)
    return build_method(cfg.method, model, class_counts=np.ones(K), seed=0)


def data(seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(K, D)) * 2.0
    y_lb = np.repeat(np.arange(K), 2)
    y_ulb = np.repeat(np.arange(K), 15)
    x_lb = centres[y_lb] + rng.normal(size=(y_lb.size, D))
    x_ulb = centres[y_ulb] + rng.normal(size=(y_ulb.size, D))
    x_q = centres[np.arange(12) % K] + rng.normal(size=(12, D))
    return x_lb, y_lb, x_ulb, x_q


@pytest.mark.parametrize("kernel, extra", [("rbf", "method.gamma=0.7"), ("knn", "method.n_neighbors=5")])
def test_label_spreading_kernels_match_scikit_learn(kernel, extra):
    x_lb, y_lb, x_ulb, x_q = data()
    m = make(
        "label_spreading", f"method.kernel={kernel}", extra, "method.alpha=0.6", "method.normalize=false"
    )
    m.fit(x_lb, y_lb, x_ulb)
    ref = SkLabelSpreading(kernel=kernel, gamma=0.7, n_neighbors=5, alpha=0.6, max_iter=1000)
    ref.fit(np.concatenate([x_lb, x_ulb]), np.concatenate([y_lb, np.full(len(x_ulb), -1)]))
    np.testing.assert_allclose(m.arrays["dist"], ref.label_distributions_, atol=1e-9)
    np.testing.assert_allclose(m.predict_proba(x_q), ref.predict_proba(x_q), atol=1e-9)


def test_label_spreading_rbf_differs_from_knn():
    x_lb, y_lb, x_ulb, x_q = data(1)
    out = {}
    for kernel in ("rbf", "knn"):
        m = make("label_spreading", f"method.kernel={kernel}", "method.gamma=0.3", "method.normalize=false")
        m.fit(x_lb, y_lb, x_ulb)
        out[kernel] = m.predict_proba(x_q)
    assert not np.allclose(out["rbf"], out["knn"])


@pytest.mark.parametrize("standardize", [True, False])
def test_linear_probe_standardize(standardize):
    x_lb, y_lb, x_ulb, x_q = data(2)
    m = make(
        "linear_probe",
        f"method.standardize={str(standardize).lower()}",
        "method.normalize=false",
        "method.C=0.5",
    )
    m.fit(x_lb, y_lb, x_ulb)
    allx = np.concatenate([x_lb, x_ulb])
    mean, std = (allx.mean(0), allx.std(0)) if standardize else (0.0, 1.0)
    ref = LogisticRegression(C=0.5, max_iter=2000).fit((x_lb - mean) / std, y_lb)
    np.testing.assert_allclose(m.predict_proba(x_q), ref.predict_proba((x_q - mean) / std), atol=1e-6)


def test_label_spreading_gamma_must_be_positive():
    with pytest.raises(ConfigError, match="method.gamma must be > 0"):
        load_config(None, ["method.name=label_spreading", "method.gamma=0"])
