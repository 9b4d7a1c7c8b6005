"""Property-based tests of the config parser and ``--set`` overrides: any input either gives a
valid Config or a ConfigError, never another exception, and valid values round-trip."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssft.config import Config, describe, dump_yaml, from_dict, load_config, parse_override
from ssft.errors import ConfigError

KEYS = [k for k, _, _ in describe()] + [
    "method.name",
    "method.conditional",
    "method.style_dim",
    "x.y",
    "seed",
]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ["true", "false", "1e-3", "cls", "twinturbo", "content_style", "-1", "0", "[1,2]", "{a: 1}"]
    ),
)


def as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(KEYS), scalars), max_size=5))
def test_overrides_give_config_or_config_error(pairs):
    overrides = [f"{k}={as_text(v)}" for k, v in pairs]
    try:
        cfg = load_config(None, overrides)
    except ConfigError as e:
        assert str(e)  # a message, never empty
        return
    assert isinstance(cfg, Config)
    # whatever was accepted survives a YAML round trip unchanged
    assert from_dict(yaml.safe_load(dump_yaml(cfg))) == cfg


@SETTINGS
@given(st.text(max_size=40))
def test_parse_override_on_any_text(text):
    try:
        out = parse_override(text)
    except ConfigError:
        return
    assert isinstance(out, dict) and len(out) == 1


nested = st.recursive(
    scalars,
    lambda children: st.dictionaries(
        st.sampled_from(["data", "train", "name", "epochs", "lr", "x"]), children, max_size=4
    ),
    max_leaves=10,
)


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(["seed", "data", "train", "model", "method", "backbone", "cache", "zzz"]),
        nested,
        max_size=4,
    )
)
def test_from_dict_on_any_mapping(data):
    try:
        cfg = from_dict(data)
    except ConfigError:
        return
    assert isinstance(cfg, Config)


@SETTINGS
@given(
    st.integers(1, 10**4), st.floats(1e-6, 10.0), st.sampled_from(["cls", "mean", "cls_mean", "attention"])
)
def test_valid_values_are_taken_exactly(epochs, lr, agg):
    cfg = load_config(None, [f"train.epochs={epochs}", f"train.lr={lr!r}", f"model.aggregation={agg}"])
    assert cfg.train.epochs == epochs and cfg.train.lr == lr and cfg.model.aggregation == agg
    assert dataclasses.asdict(cfg)["train"]["epochs"] == epochs


def test_zero_heads_is_a_config_error_not_a_division_by_zero():
    # found by the property test above: the divisibility check ran before any check of heads
    with pytest.raises(ConfigError, match="model.heads must be >= 1"):
        load_config(None, ["model.heads=0"])
