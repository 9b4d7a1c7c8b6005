"""A run whose data the backbone cannot read stops before any work, with the fix in the message."""

from __future__ import annotations

import numpy as np
import pytest

import ssft.run.runner as runner
from ssft.api import fit
from ssft.errors import ConfigError


@pytest.fixture
def no_work(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("extraction started before the modality check")

    monkeypatch.setattr(runner, "build_sources", fail)


def test_images_with_a_text_backbone(tmp_path, no_work):
    sets = ["data.name=digits", "backbone.name=random:bert-tiny", "train.steps=1"]
    with pytest.raises(
        ConfigError, match="data 'digits' is image but backbone .* reads text; .*effnet:lite0"
    ):
        fit(None, tmp_path / "run", overrides=sets)


def test_text_csv_with_an_image_backbone(tmp_path, no_work):
    (tmp_path / "t.csv").write_text("text,label\n" + "".join(f"item {i},{i % 2}\n" for i in range(40)))
    sets = ["data.name=csv", f"data.path={tmp_path / 't.csv'}", "data.text_column=text"]
    sets += ["backbone.name=random:dinov2-tiny", "train.steps=1"]
    with pytest.raises(ConfigError, match="is text but backbone .* reads image; .*all-MiniLM-L6-v2"):
        fit(None, tmp_path / "run", overrides=sets)


def test_features_with_an_image_backbone_names_the_width(tmp_path, no_work):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "e.npz", X=rng.normal(size=(60, 12)).astype(np.float32), y=np.arange(60) % 3)
    sets = ["data.name=features", f"data.path={tmp_path / 'e.npz'}", "backbone.name=random:dinov2-tiny"]
    with pytest.raises(ConfigError, match="is features but .* reads image; .*backbone.name=features:12"):
        fit(None, tmp_path / "run", overrides=[*sets, "train.steps=1"])
