"""Config: defaults, presets, overrides, strict keys and types."""

import dataclasses

import pytest

from ssft.config import describe, dump_yaml, from_dict, load_config, parse_override, preset_names
from ssft.errors import ConfigError


def test_defaults_and_override_types():
    cfg = load_config(None, ["train.epochs=3", "train.lr=1e-2", "backbone.frozen=false", "data.max_test=100"])
    assert cfg.train.epochs == 3 and cfg.train.lr == pytest.approx(0.01)
    assert cfg.backbone.frozen is False and cfg.data.max_test == 100
    assert load_config(None, ["train.lr=1"]).train.lr == 1.0  # int promoted to float


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.epoch=3", "unknown key train.epoch.*valid keys: epochs"),
        ("nope.x=1", "unknown key nope"),
        ("train.epochs=three", "train.epochs must be an integer"),
        ("backbone.frozen=maybe", "backbone.frozen must be true or false"),
        ("model.aggregation=max", "must be one of cls, mean, cls_mean, attention"),
        ("method.name=magic", "unknown method.name 'magic'; known: .*supervised"),
        ("data.labels_per_class=0", "labels_per_class must be >= 1"),
        ("train.epochs", "must look like key.sub=value"),
    ],
)
def test_bad_overrides_are_explained(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_method_section_depends_on_name():
    cfg = load_config(None, ["method.name=twinturbo", "method.conditional=infonce"])
    assert cfg.method.conditional == "infonce"
    with pytest.raises(ConfigError, match="unknown key method.conditional"):
        load_config(None, ["method.name=supervised", "method.conditional=infonce"])


def test_every_preset_loads():
    names = preset_names()
    assert {"demo", "mnist-offline", "agnews-minilm", "twinturbo"} <= set(names)
    for name in names:
        load_config(name)


def test_unknown_preset_lists_presets():
    with pytest.raises(ConfigError, match="unknown preset 'nope'.*demo"):
        load_config("nope")


def test_yaml_roundtrip(tmp_path):
    cfg = load_config("demo", ["method.name=twinturbo", "seed=3"])
    import yaml

    back = from_dict(yaml.safe_load(dump_yaml(cfg)))
    assert back == cfg


def test_parse_override_nesting():
    assert parse_override("a.b.c=1") == {"a": {"b": {"c": 1}}}
    assert parse_override("data.root=") == {"data": {"root": None}}


def test_reference_lists_every_section():
    keys = [k for k, _, _ in describe()]
    assert "train.epochs" in keys and "data.labels_per_class" in keys and "cache.store" in keys


def test_a_folder_named_like_a_preset_does_not_shadow_it(tmp_path, monkeypatch):
    (tmp_path / "demo").mkdir()  # e.g. `ssft demo --out demo` creates it before loading the preset
    monkeypatch.chdir(tmp_path)
    assert load_config("demo").data.name == "digits"


def test_trainable_vision_presets_add_one_recipe_to_their_frozen_twins():
    """The trainable vision recipe is the same keys on every dataset (its frozen twin sets the
    data, the resolution and the views)."""
    from ssft.train.trackers import flat_params

    changes = []
    for name in ("mnist-yellow-effnet", "cifar10-effnet"):
        frozen = flat_params(dataclasses.asdict(load_config(name)))
        trained = flat_params(dataclasses.asdict(load_config(f"{name}-trainable")))
        keys = (frozen.keys() | trained.keys()) - {"description"}
        diff = {k: trained.get(k) for k in keys if trained.get(k) != frozen.get(k)}
        changes.append(diff)
    assert changes[0] == changes[1]
    assert changes[0]["backbone.frozen"] is False and changes[0]["backbone.lora"] is True
    assert changes[0]["method.name"] == "content_style"


@pytest.mark.parametrize(
    "presets",
    [
        ("agnews-minilm", "banking77-minilm"),
        ("agnews-minilm-trainable", "banking77-minilm-trainable"),
    ],
)
def test_presets_of_one_modality_share_every_default_but_the_data(presets):
    """Shipped defaults are the same for every dataset of a modality: only `data` may differ."""
    cfgs = [dataclasses.asdict(load_config(p)) for p in presets]
    for c in cfgs:
        c.pop("data")
        c.pop("description", None)
    assert all(c == cfgs[0] for c in cfgs[1:])
