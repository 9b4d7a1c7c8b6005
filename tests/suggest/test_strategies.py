"""Each strategy against hand-checkable pools: what it must pick, and what it must never pick."""

from __future__ import annotations

import numpy as np
import pytest

from ssft.errors import ConfigError
from ssft.suggest import STRATEGIES, Context, select
from ssft.suggest.geometry import coverage_radius, greedy_cover, normalise, typicality
from ssft.suggest.margin import margins


def blobs(n_per: int = 60, k: int = 6, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``k`` tight, well-separated groups on orthogonal directions (class = group)."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:k] * 5.0
    x = np.concatenate([c + 0.3 * rng.standard_normal((n_per, dim)) for c in centres])
    return normalise(x), np.repeat(np.arange(k), n_per)


def test_cold_start_strategies_cover_every_group():
    x, y = blobs()
    for name in ("typiclust", "probcover"):
        picks = select(Context(x, np.zeros(len(x), bool)), 6, seed=0, name=name)
        assert sorted(y[picks.index].tolist()) == list(range(6)), name


def test_random_misses_groups_where_coverage_does_not():
    # the reason the cold-start strategies exist: random picks of 6 among 6 groups repeat groups
    x, y = blobs()
    seen = [len(set(y[select(Context(x, np.zeros(len(x), bool)), 6, s, "random").index])) for s in range(10)]
    assert np.mean(seen) < 5.5


def test_typiclust_picks_the_densest_item():
    x, _ = blobs(k=1)
    picks = select(Context(x, np.zeros(len(x), bool)), 1, seed=0, name="typiclust")
    assert picks.index[0] == int(np.argmax(typicality(x)))


def test_next_batch_avoids_covered_groups_and_labelled_items():
    x, y = blobs()
    labeled = np.zeros(len(x), bool)
    labeled[[0, 60, 120]] = True  # groups 0, 1, 2 hold a label
    probs = np.full((len(x), 6), 1 / 6)
    for name in ("typiclust", "probcover", "margin_coverage"):
        ctx = Context(x, labeled, probs if name == "margin_coverage" else None)
        picks = select(ctx, 3, seed=0, name=name)
        assert not labeled[picks.index].any(), name
        assert sorted(y[picks.index].tolist()) == [3, 4, 5], name


def test_margin_picks_the_ties_first():
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4], [0.51, 0.49]])
    assert margins(probs) == pytest.approx([0.8, 0.0, 0.2, 0.02])
    labeled = np.array([False, False, False, True])
    picks = select(Context(np.eye(4, dtype=np.float32), labeled, probs), 2, 0, "margin")
    assert picks.index.tolist() == [1, 2]  # item 3 is closer to a tie but already labelled


def test_margin_coverage_prefers_the_uncertain_group():
    x, y = blobs()
    probs = np.tile([0.98, 0.02, 0, 0, 0, 0], (len(x), 1))
    probs[y == 4] = [0.5, 0.5, 0, 0, 0, 0]  # the run hesitates on group 4 only
    picks = select(Context(x, np.zeros(len(x), bool), probs), 1, 0, "margin_coverage")
    assert y[picks.index[0]] == 4


def test_badge_spreads_over_groups():
    x, y = blobs()
    probs = np.full((len(x), 6), 1 / 6)
    picks = select(Context(x, np.zeros(len(x), bool), probs), 6, 0, "badge")
    assert len(set(y[picks.index].tolist())) >= 5


def test_greedy_cover_counts_hand_example():
    # balls: 0 covers {0,1,2}, 1 covers {1}, 2 covers {2,3}, 3 covers {3}
    members = [np.array([0, 1, 2]), np.array([1]), np.array([2, 3]), np.array([3])]
    covered = np.zeros(4, bool)
    picks, gains = greedy_cover(members, 2, covered, np.ones(4, bool))
    assert picks.tolist() == [0, 2] and gains.tolist() == [3.0, 1.0]
    assert covered.all()


def test_coverage_radius_separates_groups():
    x, _ = blobs()
    r = coverage_radius(x, 6, seed=0)
    within = np.linalg.norm(x[0] - x[1])
    across = np.linalg.norm(x[0] - x[60])
    assert within < r * 3 and r < across


def test_deterministic_for_a_seed():
    x, _ = blobs()
    a = select(Context(x, np.zeros(len(x), bool)), 5, 3, "typiclust").index
    b = select(Context(x, np.zeros(len(x), bool)), 5, 3, "typiclust").index
    assert a.tolist() == b.tolist()


def test_bad_input_is_named():
    x, _ = blobs()
    free = np.zeros(len(x), bool)
    with pytest.raises(ValueError, match="reads a trained run's predictions"):
        select(Context(x, free), 3, 0, "margin")
    with pytest.raises(ValueError, match="larger than the"):
        select(Context(x, free), len(x) + 1, 0, "random")
    with pytest.raises(ValueError, match="budget must be >= 1"):
        select(Context(x, free), 0, 0, "random")
    with pytest.raises(ConfigError, match="known: badge"):
        select(Context(x, free), 3, 0, "nope")
    with pytest.raises(ValueError, match="labeled must be"):
        Context(x, free[:-1])


def test_every_strategy_is_registered_with_help():
    assert set(STRATEGIES) == {"badge", "margin", "margin_coverage", "probcover", "random", "typiclust"}
    assert all(STRATEGIES.describe().values())
