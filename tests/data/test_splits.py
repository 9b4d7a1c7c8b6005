"""Few-label split properties: balance, determinism, disjointness, nesting, clear errors."""

import numpy as np
import pytest

from ssft.config import DataConfig
from ssft.data.base import ArrayImages, Dataset, Part
from ssft.data.splits import Split, few_label_split, holdout_split, make_split, stratified_cap
from ssft.errors import DataError


def labels_fixture(n_per=(30, 20, 25), unlabeled=10):
    y = np.concatenate([np.full(n, c) for c, n in enumerate(n_per)] + [np.full(unlabeled, -1)])
    return np.random.default_rng(123).permutation(y)


def test_balanced_disjoint_covering():
    y = labels_fixture()
    lab, val, ulb = few_label_split(y, 4, seed=0, num_classes=3, val_per_class=2)
    assert np.bincount(y[lab], minlength=3).tolist() == [4, 4, 4]
    assert np.bincount(y[val], minlength=3).tolist() == [2, 2, 2]
    assert not set(lab) & set(val) and not set(lab) & set(ulb) and not set(val) & set(ulb)
    assert sorted(np.concatenate([lab, val, ulb]).tolist()) == list(range(y.size))
    # originally unlabelled items always land in the unlabelled pool
    assert set(np.flatnonzero(y == -1)) <= set(ulb)


def test_deterministic_and_seed_dependent():
    y = labels_fixture()
    a = few_label_split(y, 3, seed=5, num_classes=3)
    b = few_label_split(y, 3, seed=5, num_classes=3)
    c = few_label_split(y, 3, seed=6, num_classes=3)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_nested_across_k_and_validation_stable():
    y = labels_fixture()
    l1, v1, _ = few_label_split(y, 1, seed=0, num_classes=3, val_per_class=3)
    l4, v4, _ = few_label_split(y, 4, seed=0, num_classes=3, val_per_class=3)
    assert set(l1) <= set(l4)
    assert np.array_equal(v1, v4)


def test_class_too_small_names_class_and_fix():
    y = labels_fixture(n_per=(30, 3, 25))
    with pytest.raises(DataError, match=r"class 1 \(b\) has 3 labelled.*labels_per_class"):
        few_label_split(y, 4, seed=0, num_classes=3, classes=["a", "b", "c"])


def test_absent_class_is_an_error():
    y = np.array([0, 0, 0, 2, 2, 2])
    with pytest.raises(DataError, match="class 1 has 0"):
        few_label_split(y, 1, seed=0, num_classes=3)


def test_holdout_stratified_and_unlabeled_stays_in_pool():
    y = labels_fixture(n_per=(50, 50, 100), unlabeled=20)
    pool, test = holdout_split(y, 0.2, seed=0)
    assert np.bincount(y[test], minlength=3).tolist() == [10, 10, 20]
    assert (y[test] >= 0).all()
    assert not set(pool) & set(test) and pool.size + test.size == y.size


def test_stratified_cap_exact_size_and_proportional():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    idx = np.arange(100)
    kept = stratified_cap(y, idx, 20, seed=0, tag=1)
    assert kept.size == 20
    assert np.bincount(y[kept], minlength=3).tolist() == [12, 6, 2]


def make_dataset(test=True):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    images = ArrayImages(rng.integers(0, 255, (60, 8, 8), dtype=np.uint8))
    test_part = Part(ArrayImages(rng.integers(0, 255, (9, 8, 8), dtype=np.uint8)), np.repeat(np.arange(3), 3))
    return Dataset("toy", "image", ["a", "b", "c"], Part(images, y), test_part if test else None)


def test_make_split_roundtrip(tmp_path):
    cfg = DataConfig(labels_per_class=2, split_seed=1, val_per_class=1)
    for ds, source in ((make_dataset(True), "test"), (make_dataset(False), "train")):
        split = make_split(ds, cfg)
        assert split.test_source == source
        split.save(tmp_path / "split.json")
        back = Split.load(tmp_path / "split.json")
        for name in ("labeled", "validation", "unlabeled", "test"):
            assert np.array_equal(getattr(split, name), getattr(back, name))
        if source == "train":
            assert not set(split.test) & set(
                np.concatenate([split.labeled, split.unlabeled, split.validation])
            )
        assert split.info["counts"]["labeled"] == 6


def test_holdout_independent_of_split_seed():
    ds = make_dataset(False)
    a = make_split(ds, DataConfig(labels_per_class=1, split_seed=0))
    b = make_split(ds, DataConfig(labels_per_class=1, split_seed=1))
    assert np.array_equal(a.test, b.test)
    assert not np.array_equal(a.labeled, b.labeled)
