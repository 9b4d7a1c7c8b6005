"""One Optuna trial answering a search space: drawn keys become overrides, pinned keys are kept."""

from __future__ import annotations

import pytest

from ssft.config import load_config
from ssft.errors import ConfigError
from ssft.tune.trial_suggest import TrialSuggest, flat_keys


class FakeTrial:
    def suggest_float(self, key, low, high, log=False):
        return low

    suggest_int = suggest_float

    def suggest_categorical(self, key, options):
        return options[-1]


def test_trial_suggest_records_overrides_and_refuses_unknown_keys():
    cfg = load_config("demo", ["method.name=label_spreading", "method.alpha=0.5"])
    s = TrialSuggest(FakeTrial(), cfg, pinned={"method.alpha"})
    assert s.real("method.alpha", 0.01, 0.99) == 0.5  # pinned: the user's value, not searched
    assert s.choice("method.kernel", ["knn", "rbf"]) == "rbf"
    assert s.overrides == ["method.kernel=rbf"]
    with pytest.raises(ConfigError, match="method.style_dim, which is not a key of method label_spreading"):
        s.integer("method.style_dim", 4, 64)


def test_flat_keys_name_the_dotted_key_of_each_override():
    assert flat_keys(["train.lr=0.1", "method.alpha=0.5", "seed=3"]) == {"train.lr", "method.alpha", "seed"}
