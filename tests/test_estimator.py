"""SemiSupervisedClassifier: the scikit-learn face of ssft on pre-computed features."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ssft import SemiSupervisedClassifier
from ssft.errors import ConfigError

SMALL = {"width": 16, "depth": 1, "projector": "mlp", "batch_size": 16, "lr": 0.01}


def blobs(n=240, d=16, seed=0, labelled_per_class=4):
    X, y = make_blobs(n, centers=3, n_features=d, random_state=seed, cluster_std=2.0)
    y = np.array([10, 20, 30])[y]
    y_semi = np.full_like(y, -1)
    for c in (10, 20, 30):
        y_semi[np.flatnonzero(y == c)[:labelled_per_class]] = c
    return X.astype(np.float32), y, y_semi


def test_fit_with_unlabelled_rows_predicts_the_classes():
    X, y, y_semi = blobs()
    clf = SemiSupervisedClassifier("twinturbo", steps=40, lambda_kl=0.05, **SMALL).fit(X, y_semi)
    assert clf.classes_.tolist() == [10, 20, 30] and clf.n_features_in_ == 16
    p = clf.predict_proba(X)
    assert p.shape == (240, 3) and np.allclose(p.sum(1), 1.0, atol=1e-5)
    assert np.array_equal(clf.predict(X), clf.classes_[p.argmax(1)])
    assert clf.transduction_.shape == (240,) and set(clf.transduction_) <= {10, 20, 30}
    assert clf.score(X, y) > 0.9
    assert clf.config_.method.lambda_kl == 0.05 and clf.config_.train.steps == 40
    assert {"cond", "marginal", "kl", "loss", "lr"} <= set(clf.metrics_[-1])


def test_method_keys_are_estimator_parameters():
    clf = SemiSupervisedClassifier("twinturbo", lambda_align=0.0, steps=3)
    assert clf.get_params()["lambda_align"] == 0.0
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    clf.set_params(lambda_kl=0.3)  # a key not given to the constructor
    assert clf.get_params()["lambda_kl"] == 0.3
    with pytest.raises(ValueError, match="Invalid parameter 'no_such_key'"):
        clf.set_params(no_such_key=1)
    X, _, y_semi = blobs(n=60)
    with pytest.raises(
        ConfigError, match="style_dim is not a key of method twinturbo; its keys: .*lambda_kl"
    ):
        SemiSupervisedClassifier("twinturbo", style_dim=4, steps=1).fit(X, y_semi)
    with pytest.raises(ConfigError, match="unknown method 'nope'; known: .*twinturbo"):
        SemiSupervisedClassifier("nope").fit(X, y_semi)


def test_unlabelled_methods_need_unlabelled_rows():
    X, y, _ = blobs(n=60)
    with pytest.raises(ValueError, match="y has no -1"):
        SemiSupervisedClassifier("twinturbo", steps=1, **SMALL).fit(X, y)


def test_pipeline_grid_search_and_cross_validation():
    X, y, _ = blobs(n=90)
    pipe = make_pipeline(StandardScaler(), SemiSupervisedClassifier("supervised", steps=15, **SMALL))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8
    grid = GridSearchCV(
        pipe, {"semisupervisedclassifier__label_smoothing": [0.0, 0.2]}, cv=2, error_score="raise"
    ).fit(X, y)
    assert grid.best_params_["semisupervisedclassifier__label_smoothing"] in (0.0, 0.2)
    assert (
        grid.best_estimator_[-1].config_.method.label_smoothing
        == grid.best_params_["semisupervisedclassifier__label_smoothing"]
    )


@pytest.mark.parametrize("method", ["fixmatch", "freematch", "softmatch"])
def test_the_fixmatch_family_on_embeddings_gets_feature_space_views(method):
    # Embeddings have no pixels to crop: each view is made in feature space (issue 20, item 3).
    X, y, y_semi = blobs()
    clf = SemiSupervisedClassifier(method, steps=40, **SMALL).fit(X, y_semi)
    assert clf.score(X, y) > 0.8  # chance is 1/3; 40 steps on 12 labels
    assert "unsup" in clf.metrics_[-1]


def test_classical_methods_too():
    X, y, y_semi = blobs()
    clf = SemiSupervisedClassifier("label_spreading").fit(X, y_semi)
    assert clf.score(X, y) > 0.9 and clf.metrics_ == []


def test_label_spreading_transduction_is_scikit_learns():
    from sklearn.semi_supervised import LabelSpreading

    rng = np.random.default_rng(5)  # overlapping classes: spread distributions far from one-hot
    y = np.repeat([10, 20, 30], 60)
    X = (rng.normal(size=(180, 8)) + 0.6 * (y[:, None] == np.array([10, 20, 30, 10, 20, 30, 10, 20]))).astype(
        np.float32
    )
    y_semi = np.full(180, -1)
    y_semi[[0, 1, 60, 61, 120, 121]] = y[[0, 1, 60, 61, 120, 121]]
    clf = SemiSupervisedClassifier("label_spreading").fit(X, y_semi)
    assert clf.label_distributions_.max(axis=1).min() < 0.9
    Xn = X.astype(np.float64) / np.linalg.norm(X.astype(np.float64), axis=1, keepdims=True)
    sk = LabelSpreading(kernel="knn", n_neighbors=20, alpha=0.8, max_iter=1000).fit(Xn, y_semi)
    np.testing.assert_allclose(clf.label_distributions_, sk.label_distributions_, atol=1e-6)
    assert np.array_equal(clf.transduction_, sk.transduction_)


def test_same_results_as_ssft_fit_on_the_same_features(tmp_path):
    from ssft.api import fit, load_run

    X, y, y_semi = blobs(n=200, d=12)
    X_test, y_test, _ = blobs(n=90, d=12, seed=1)
    cls = np.array([10, 20, 30])
    np.savez(
        tmp_path / "emb.npz",
        X=X,
        y=np.searchsorted(cls, y_semi).astype(np.int64) * (y_semi >= 0) - (y_semi < 0),
        X_test=X_test,
        y_test=np.searchsorted(cls, y_test),
    )
    keys = ["train.steps=25", "train.batch_size=16", "train.lr=0.01", "model.projector=mlp"]
    keys += ["model.width=16", "model.depth=1", "method.lambda_kl=0.05", "seed=3"]
    run = fit(
        "demo",
        tmp_path / "run",
        overrides=[
            "data.name=features",
            f"data.path={tmp_path / 'emb.npz'}",
            "data.labels_per_class=4",
            "backbone.name=features:12",
            "cache.enabled=false",
            "method.name=twinturbo",
            *keys,
        ],
    )
    clf = SemiSupervisedClassifier("twinturbo", config="demo", overrides=keys).fit(X, y_semi)
    logged = [json.loads(x) for x in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert clf.metrics_ == logged  # every term of every logged step, bit for bit
    p_run = load_run(run.run_dir).predict(list(X_test)).probabilities
    np.testing.assert_allclose(clf.predict_proba(X_test), p_run, rtol=1e-5, atol=1e-6)
    assert clf.score(X_test, y_test) == pytest.approx(run.test_accuracy)


# What scikit-learn's generic checks ask that this estimator deliberately does not do, and why.
EXPECTED_FAILED_CHECKS = {
    "check_classifiers_classes": "y = -1 marks unlabelled rows (LabelSpreading's convention), so a "
    "binary problem labelled {-1, 1} has one labelled class",
    "check_classifiers_train": "sklearn's 2-feature blobs: the ssft heads layer-normalise their input, "
    "which for 2 features keeps only their order; real embeddings have hundreds of dimensions",
    "check_methods_subset_invariance": "float32 matrix products differ in the last bits (~1e-7) "
    "between batch sizes; the check asks for 1e-7",
    "check_do_not_raise_errors_in_init_or_set_params": "method keys are passed as **method_params and "
    "validated against the chosen method; the check passes a parameter literally named method_params",
}


@pytest.mark.slow
def test_scikit_learn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(
            SemiSupervisedClassifier(steps=60, **SMALL), expected_failed_checks=EXPECTED_FAILED_CHECKS
        )


def test_score_and_scorer_use_labelled_rows_only():
    import ssft

    X, y, y_semi = blobs()
    clf = SemiSupervisedClassifier("label_spreading").fit(X, y_semi)
    # The -1 rows are not a class: scoring them would put accuracy near 0 whatever the model.
    assert clf.score(X, y_semi) == pytest.approx(
        np.mean(clf.predict(X[y_semi != -1]) == y_semi[y_semi != -1])
    )
    assert clf.score(X, y_semi) == 1.0
    assert ssft.labeled_accuracy(clf, X, y_semi) == clf.score(X, y_semi)
    folds = cross_val_score(SemiSupervisedClassifier("label_spreading"), X, y_semi, cv=3)
    assert folds.min() > 0.5
    grid = GridSearchCV(
        SemiSupervisedClassifier("label_spreading"),
        {"alpha": [0.2, 0.8]},
        cv=3,
        scoring=ssft.labeled_accuracy,
    ).fit(X, y_semi)
    assert grid.best_score_ > 0.5
    with pytest.raises(ValueError, match="no labelled row"):
        ssft.labeled_accuracy(clf, X[:5], np.full(5, -1))


def test_unknown_parameters_are_refused():
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) 'lambda_k1'; valid: .*lambda_kl"):
        SemiSupervisedClassifier("twinturbo", lambda_k1=0.1)


def test_the_default_method_is_the_one_ssft_fit_recommends():
    """A newcomer's ``SemiSupervisedClassifier()`` trains what ``ssft fit`` does by default (the
    shipped method), not the supervised baseline."""
    from ssft.config import load_config

    assert SemiSupervisedClassifier().method == load_config(None).method.name != "supervised"
