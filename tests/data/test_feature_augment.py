"""Feature-space views of embedding rows: deterministic, the right size, dispatched by make_view."""

from __future__ import annotations

import numpy as np
import pytest

from ssft.data.augment import make_view
from ssft.data.feature_augment import STRONG_DROP, WEAK_NOISE, feature_augment


def row(d=2000, seed=0):
    return np.random.default_rng(seed).normal(0.0, 3.0, d).astype(np.float32)


def test_view_zero_is_the_row_and_views_are_deterministic():
    x = row()
    assert feature_augment(x, seed=0, item=3, view=0) is not None
    assert np.array_equal(feature_augment(x, seed=0, item=3, view=0), x)
    a = feature_augment(x, seed=0, item=3, view=1)
    assert np.array_equal(a, feature_augment(x, seed=0, item=3, view=1))
    assert not np.array_equal(a, feature_augment(x, seed=0, item=3, view=2))
    assert not np.array_equal(a, feature_augment(x, seed=1, item=3, view=1))
    assert a.dtype == np.float32 and a.shape == x.shape


def test_weak_noise_is_relative_to_the_rows_scale():
    x = row()
    rms = float(np.sqrt(np.mean(x**2)))
    for scale in (1.0, 100.0):
        noise = feature_augment(x * scale, seed=0, item=0, view=1) - x * scale
        assert np.std(noise) == pytest.approx(WEAK_NOISE * rms * scale, rel=0.1)


def test_strong_view_drops_coordinates_and_is_further_than_the_weak_one(monkeypatch):
    x = row()
    weak = feature_augment(x, seed=0, item=0, view=1)
    strong = feature_augment(x, seed=0, item=0, view=1, strong=True)
    assert np.linalg.norm(strong - x) > 2 * np.linalg.norm(weak - x)
    monkeypatch.setattr("ssft.data.feature_augment.STRONG_NOISE", 0.0)
    bare = feature_augment(x, seed=0, item=0, view=1, strong=True)
    dropped = bare == 0
    assert dropped.mean() == pytest.approx(STRONG_DROP, abs=0.03)
    assert np.allclose(bare[~dropped], x[~dropped] / (1 - STRONG_DROP), rtol=1e-5)


def test_make_view_dispatches_embedding_rows():
    x = row(16)
    for kind in ("weak", "strong"):
        got = make_view(x, kind=kind, seed=0, item=1, view=1)
        assert np.array_equal(got, feature_augment(x, seed=0, item=1, view=1, strong=kind == "strong"))


def test_a_batch_instead_of_a_row_is_refused():
    with pytest.raises(ValueError, match=r"one embedding row of shape \(D,\)"):
        feature_augment(np.zeros((2, 3), np.float32), seed=0, item=0, view=1)
