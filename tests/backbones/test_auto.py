"""backbone.name=auto (the default): a real installed backbone for the data's modality, a loud
warning when only random weights are available, and the choice written into config.yaml."""

from __future__ import annotations

import pytest
import yaml

import ssft.backbones.auto as auto
from ssft.backbones.auto import resolve_backbone_name
from ssft.config import Config
from ssft.errors import BackboneError


def test_default_is_auto_fixmatch_identity():
    c = Config()
    assert (c.backbone.name, c.method.name, c.model.projector) == ("auto", "fixmatch", "identity")


def test_picks_the_installed_pretrained_backbone(monkeypatch):
    monkeypatch.setattr(auto, "_installed", lambda modules: True)
    assert resolve_backbone_name("auto", "text") == "hf:sentence-transformers/all-MiniLM-L6-v2"
    assert resolve_backbone_name("auto", "image") == "effnet:lite0"
    assert resolve_backbone_name("auto", "features", 384) == "features:384"
    assert resolve_backbone_name("random:bert-tiny", "text") == "random:bert-tiny"  # a named one stays


def test_random_weights_are_announced(monkeypatch):
    monkeypatch.setattr(auto, "_installed", lambda modules: False)
    with pytest.warns(UserWarning, match=r"pip install 'ssft\[effnet\]'.*RANDOM WEIGHTS"):
        assert resolve_backbone_name("auto", "image") == "random:dinov2-tiny"


def test_fit_writes_the_chosen_backbone(tmp_path, monkeypatch):
    from ssft.api import fit, load_run
    from ssft.backbones import build_backbone
    from ssft.config import BackboneConfig

    monkeypatch.setattr(auto, "_installed", lambda modules: False)
    (tmp_path / "t.csv").write_text(
        "text,label\n" + "".join(f"item {i} {'ab'[i % 2]},{i % 2}\n" for i in range(40))
    )
    sets = ["data.name=csv", f"data.path={tmp_path / 't.csv'}", "data.text_column=text", "train.steps=2"]
    sets += ["method.name=supervised", "train.progress=false"]
    with pytest.warns(UserWarning, match="RANDOM WEIGHTS"):
        r = fit(None, tmp_path / "run", overrides=sets)
    assert r.results["backbone"] == "random:bert-tiny"
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["backbone"]["name"] == "random:bert-tiny"
    assert load_run(tmp_path / "run").cfg.backbone.name == "random:bert-tiny"
    with pytest.raises(BackboneError, match="auto is resolved from the data"):
        build_backbone(BackboneConfig(name="auto"))
