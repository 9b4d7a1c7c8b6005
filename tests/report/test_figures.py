"""The error-vs-labels figure: the curves it draws, and the PNG."""

from __future__ import annotations

import numpy as np
import pytest

from ssft.report.figures import error_curves, error_vs_labels


def row(dataset, method, k, err, frozen=True):
    return {
        "dataset": dataset,
        "method": method,
        "labels_per_class": k,
        "test_error": err,
        "frozen": frozen,
        "classes": ["a", "b", "c", "d"],
    }


ROWS = [
    row("cifar", "supervised", 1, 0.50),
    row("cifar", "supervised", 1, 0.40),
    row("cifar", "supervised", 1, 0.30),
    row("cifar", "supervised", 4, 0.20),
    row("cifar", "supervised", 4, 0.22),
    row("cifar", "twinturbo", 4, 0.10, frozen=False),
    row("mnist", "supervised", 10, 0.05),
]


def test_curves_are_mean_and_sample_std_over_seeds_per_labelled_samples():
    curves, trainable = error_curves(ROWS)
    xs, mean, std = curves["cifar"]["supervised"]
    assert xs.tolist() == [4, 16]  # k x 4 classes
    np.testing.assert_allclose(mean, [40.0, 21.0])
    np.testing.assert_allclose(std, [10.0, np.std([20.0, 22.0], ddof=1)])
    assert curves["cifar"]["twinturbo"][1].tolist() == [10.0]
    assert curves["mnist"]["supervised"][0].tolist() == [40]
    assert trainable == {"twinturbo"}


def test_png_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    path = error_vs_labels(ROWS, tmp_path / "fig.png", title="t")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
