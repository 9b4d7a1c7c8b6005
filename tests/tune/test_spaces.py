"""Search spaces: every key a space asks for is a valid config key at both ends of its range."""

from __future__ import annotations

import pytest

from ssft.config import load_config
from ssft.errors import ConfigError
from ssft.methods import METHODS
from ssft.tune import SPACES, space_for
from ssft.tune.spaces import projector_choices


class Ends:
    """Answers every question with the low end (or the i-th option), recording overrides."""

    def __init__(self, high: bool, pick: int) -> None:
        self.high, self.pick, self.asked = high, pick, {}

    def real(self, key, low, high, *, log=False):
        assert low < high
        self.asked[key] = high if self.high else low
        return self.asked[key]

    def integer(self, key, low, high, *, log=False):
        return self.real(key, low, high)

    def choice(self, key, options):
        self.asked[key] = options[self.pick % len(options)]
        return self.asked[key]


def _value(v):
    return str(v).lower() if isinstance(v, bool) else str(v)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_has_a_space_whose_keys_are_valid(method):
    name, space = space_for(method)
    base = load_config("demo", [f"method.name={method}"])
    seen = set()
    for high in (False, True):
        for pick in range(5):
            s = Ends(high, pick)
            space(s, base)
            cfg = load_config(
                "demo", [f"method.name={method}", *(f"{k}={_value(v)}" for k, v in s.asked.items())]
            )
            for key, v in s.asked.items():
                node = cfg
                for part in key.split("."):
                    node = getattr(node, part)
                assert node == v, key
            seen |= set(s.asked)
    assert seen, f"the space of {method} searches nothing"
    if method in ("twinturbo", "content_style", "supervised"):
        assert {"train.lr", "train.epochs"} <= seen


def test_transformer_projector_is_left_out_on_pooled_features():
    assert "transformer" not in projector_choices(load_config("demo", ["cache.store=pooled"]))
    assert "transformer" in projector_choices(load_config("demo", []))


def test_methods_without_a_space(monkeypatch):
    with pytest.raises(ConfigError, match="unknown method 'nope'; known: .*knn"):
        space_for("nope")
    monkeypatch.delitem(SPACES._items, "knn")
    with pytest.raises(ConfigError, match="method 'knn' has no search space"):
        space_for("knn")
    monkeypatch.delitem(SPACES._items, "supervised")
    assert space_for("supervised")[0] == "generic"
