"""Class-balanced labelled batches (``train.labeled_per_class``): their shape, their fairness over
items, exact resume, and that a run's labelled batches are drawn that way."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from ssft.config import ConfigError, load_config
from ssft.methods.base import METHODS
from ssft.run.runner import fit
from ssft.train.balanced_stream import BalancedStream

LABELS = np.repeat(np.arange(20), 4)[np.random.default_rng(3).permutation(80)]


def test_each_batch_holds_whole_groups_of_one_class():
    s = BalancedStream(LABELS, batch=8, per_class=2, seed=0)
    for _ in range(25):
        counts = Counter(LABELS[s.next()].tolist())
        assert sorted(counts.values()) == [2, 2, 2, 2]


def test_every_item_comes_once_per_two_class_cycles():
    s = BalancedStream(LABELS, batch=8, per_class=2, seed=1)
    drawn = np.concatenate([s.next() for _ in range(10)])  # 40 class visits of 2 items = 80 items
    assert sorted(drawn.tolist()) == list(range(80))


def test_resume_draws_the_same_batches():
    a = BalancedStream(LABELS, batch=6, per_class=3, seed=2)
    for _ in range(7):
        a.next()
    b = BalancedStream(LABELS, batch=6, per_class=3, seed=99)
    b.load_state_dict(a.state_dict())
    for _ in range(30):
        assert np.array_equal(a.next(), b.next())


def test_remainder_and_small_classes():
    s = BalancedStream(np.array([0, 1, 1, 1]), batch=5, per_class=2, seed=0)
    batch = s.next()
    assert batch.size == 5
    counts = Counter(np.array([0, 1, 1, 1])[batch].tolist())
    assert sorted(counts.values()) == [1, 2, 2] or sorted(counts.values()) == [2, 3]


def test_negative_value_is_one_clear_error():
    with pytest.raises(ConfigError, match="labeled_per_class"):
        load_config("demo", ["train.labeled_per_class=-1"])


def test_a_run_draws_its_labelled_batches_balanced(tmp_path, monkeypatch):
    seen: list[list[int]] = []
    cls = METHODS.get("supervised")
    original = cls.train_step

    def spy(self, batch):
        seen.append(batch["y_lb"].tolist())
        return original(self, batch)

    monkeypatch.setattr(cls, "train_step", spy)
    over = ["method.name=supervised", "train.steps=6", "train.batch_size=6", "train.labeled_per_class=3", "data.labels_per_class=4",
            "data.max_unlabeled=16", "data.max_test=10", "train.progress=false", f"cache.dir={tmp_path / 'c'}"]  # fmt: skip
    fit(load_config("demo", over), tmp_path / "r")
    assert len(seen) == 6
    for y in seen:
        assert sorted(Counter(y).values()) == [3, 3]
