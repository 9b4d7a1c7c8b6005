"""The neighbour search behind k-NN and label spreading: exact equals scikit-learn, approximate
finds most true neighbours, the auto switch, chunking, and the message when hnswlib is missing."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from dummy_backbone import DummyBackbone
from sklearn.neighbors import NearestNeighbors
from sklearn.semi_supervised import LabelSpreading as SkLabelSpreading

import ssft.methods.baselines as baselines
import ssft.methods.neighbours as nbr
from ssft.config import ModelConfig, load_config
from ssft.errors import ConfigError
from ssft.heads.model import SSFTModel
from ssft.methods import build_method
from ssft.methods.spreading import knn_graph, spread_labels

K, D = 4, 16


def make(name: str, *keys: str):
    cfg = load_config(None, [f"method.name={name}", *keys])
    model = SSFTModel(DummyBackbone(D).freeze(), ModelConfig(projector="identity"), K)
    return build_method(cfg.method, model, class_counts=np.ones(K), seed=0)


def clustered(n: int, d: int = D, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(K, d)) * 3.0
    y = np.arange(n) % K
    return (centres[y] + rng.normal(size=(n, d))).astype(np.float32), y


def split(n: int = 240, seed: int = 0):
    x, y = clustered(n + 40, seed=seed)
    return x[:12], y[:12], x[12:n], x[n:]


def test_sparse_spreading_equals_scikit_learn():
    x, y = clustered(300, seed=1)
    labels = np.where(np.arange(300) < 20, y, -1)
    ref = SkLabelSpreading(kernel="knn", n_neighbors=7, alpha=0.7, max_iter=1000).fit(x, labels)
    idx, _ = nbr.nearest_neighbours(x, None, 7, how="exact")
    ours = spread_labels(knn_graph(idx), labels, K, alpha=0.7)
    np.testing.assert_allclose(ours, ref.label_distributions_, atol=1e-6)


@pytest.mark.parametrize("normalize", ["true", "false"])
def test_label_spreading_method_exact_equals_scikit_learn(normalize):
    x_lb, y_lb, x_ulb, x_q = split()
    m = make("label_spreading", "method.neighbours=exact", f"method.normalize={normalize}")
    m.fit(x_lb, y_lb, x_ulb)
    x = baselines._prep(np.concatenate([x_lb, x_ulb]), normalize == "true")
    ref = SkLabelSpreading(kernel="knn", n_neighbors=20, alpha=0.8, max_iter=1000)
    ref.fit(x, np.concatenate([y_lb, np.full(len(x_ulb), -1)]))
    np.testing.assert_allclose(m.arrays["dist"], ref.label_distributions_, atol=1e-6)
    np.testing.assert_allclose(
        m.predict_proba(x_q), ref.predict_proba(baselines._prep(x_q, normalize == "true")), atol=1e-6
    )


def test_approximate_recall_on_clusters():
    pytest.importorskip("hnswlib")
    x, _ = clustered(3000, d=32)
    approx, _ = nbr.nearest_neighbours(x, None, 10, how="approximate", seed=0)
    exact = NearestNeighbors(n_neighbors=10).fit(x).kneighbors(x, return_distance=False)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(approx, exact, strict=True)])
    assert recall > 0.95
    again, _ = nbr.nearest_neighbours(x, None, 10, how="approximate", seed=0)
    np.testing.assert_array_equal(approx, again)  # seeded single-threaded build: same graph


def test_approximate_label_spreading_agrees_with_exact():
    pytest.importorskip("hnswlib")
    x_lb, y_lb, x_ulb, x_q = split(600)
    preds = {}
    for how in ("exact", "approximate"):
        m = make("label_spreading", f"method.neighbours={how}")
        m.fit(x_lb, y_lb, x_ulb)
        preds[how] = m.predict_proba(x_q).argmax(1)
    assert np.mean(preds["exact"] == preds["approximate"]) > 0.95


def test_auto_switch(monkeypatch):
    assert nbr.resolve_mode("auto", nbr.EXACT_MAX_ROWS) == "exact"
    assert nbr.resolve_mode("exact", 10 * nbr.EXACT_MAX_ROWS) == "exact"
    pytest.importorskip("hnswlib")
    assert nbr.resolve_mode("auto", nbr.EXACT_MAX_ROWS + 1) == "approximate"
    monkeypatch.setattr(nbr, "EXACT_MAX_ROWS", 50)
    assert nbr.NeighbourIndex(np.zeros((51, 3)), how="auto").mode == "approximate"
    assert nbr.NeighbourIndex(np.zeros((50, 3)), how="auto").mode == "exact"


def test_missing_library_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "hnswlib", None)  # import hnswlib now raises ImportError
    assert nbr.resolve_mode("auto", 100) == "exact"  # small: exact, no library needed
    for how, n in (("approximate", 100), ("auto", nbr.EXACT_MAX_ROWS + 1)):
        with pytest.raises(ImportError, match=r"pip install 'ssft\[scale\]'"):
            nbr.resolve_mode(how, n) if how == "auto" else nbr.NeighbourIndex(np.zeros((n, 2)), how=how)


@pytest.mark.parametrize("name", ["knn", "label_spreading"])
def test_chunked_prediction_equals_unchunked(monkeypatch, name):
    x_lb, y_lb, x_ulb, x_q = split()
    m = make(name, "method.neighbours=exact")
    m.fit(x_lb, y_lb, x_ulb)
    whole = m.predict_proba(x_q)
    monkeypatch.setattr(baselines, "QUERY_CHUNK", 7)
    np.testing.assert_allclose(m.predict_proba(x_q), whole, rtol=0, atol=1e-12)
    index = nbr.NeighbourIndex(x_ulb, how="exact")
    (i_chunk, d_chunk), (i_whole, d_whole) = index.query(x_q, 5, chunk=3), index.query(x_q, 5)
    np.testing.assert_array_equal(i_chunk, i_whole)
    np.testing.assert_allclose(d_chunk, d_whole, rtol=1e-12)  # BLAS blocks differ in the last bit


def test_knn_matches_cosine_vote():
    x_lb, y_lb, _, x_q = split()
    m = make("knn", "method.k=5")
    m.fit(x_lb, y_lb, np.zeros((0, D)))
    xl, xq = baselines._prep(x_lb, True), baselines._prep(x_q, True)
    sim = xq @ xl.T
    top = np.argsort(-sim, axis=1)[:, :5]
    w = 1.0 / np.maximum(1.0 - np.take_along_axis(sim, top, axis=1), 1e-6)
    ref = np.zeros((len(xq), K))
    np.add.at(ref, (np.arange(len(xq))[:, None], y_lb[top]), w)
    np.testing.assert_allclose(m.predict_proba(x_q), ref / ref.sum(1, keepdims=True), atol=1e-9)


def test_rbf_refused_above_size(monkeypatch):
    monkeypatch.setattr(baselines, "RBF_MAX_ROWS", 100)
    x_lb, y_lb, x_ulb, _ = split()
    with pytest.raises(ConfigError, match="method.kernel=knn"):
        make("label_spreading", "method.kernel=rbf").fit(x_lb, y_lb, x_ulb)


def test_neighbours_option_is_validated():
    with pytest.raises(ConfigError, match="neighbours"):
        load_config(None, ["method.name=knn", "method.neighbours=fast"])
    with pytest.raises(ConfigError, match="neighbours must be one of"):
        nbr.resolve_mode("fast", 10)
