"""Augmented views: deterministic per (seed, item, view), extracted once into the cache like view 0."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssft.config import load_config
from ssft.data.augment import ViewInputs
from ssft.data.crop_flip import augment
from ssft.errors import ConfigError


def test_augment_is_deterministic_and_keeps_shape():
    img = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    a = augment(img, seed=0, item=3, view=1)
    assert a.shape == img.shape and a.dtype == np.uint8
    assert np.array_equal(a, augment(img, seed=0, item=3, view=1))
    assert not np.array_equal(a, augment(img, seed=0, item=3, view=2))
    assert not np.array_equal(a, augment(img, seed=1, item=3, view=1))
    assert augment(img, seed=0, item=3, view=0) is img
    rgb = np.random.default_rng(1).integers(0, 256, (16, 20, 3), dtype=np.uint8)
    assert augment(rgb, seed=0, item=0, view=1).shape == (16, 20, 3)
    views = ViewInputs([img, img], view=1, seed=0)
    assert len(views) == 2 and not np.array_equal(views[0], views[1])  # items differ by index


def test_views_are_extracted_once_and_served(tmp_path):
    from ssft.backbones import build_backbone
    from ssft.data import load_dataset
    from ssft.data.splits import make_split
    from ssft.run.sources import build_sources

    cfg = load_config(
        "demo", ["cache.views=2", f"cache.dir={tmp_path}", "train.progress=false", "data.max_unlabeled=50"]
    )
    data = load_dataset(cfg.data)
    split = make_split(data, cfg.data)
    bb = build_backbone(cfg.backbone).freeze()
    train, _, stats = build_sources(cfg, data, split, bb, torch.device("cpu"))
    assert len(train.views) == 2 and stats["forward_passes"] > 0
    idx = split.labeled[:5]
    v0, v1, v2 = (train.get_view(idx, v).pooled for v in range(3))
    assert not torch.allclose(v0, v1) and not torch.allclose(v1, v2)
    with pytest.raises(IndexError, match="cache.views >= 3"):
        train.get_view(idx, 3)
    again, _, stats2 = build_sources(cfg, data, split, bb, torch.device("cpu"))
    assert stats2["forward_passes"] == 0  # every view is a cache hit the second time
    assert torch.equal(again.get_view(idx, 2).pooled, v2)


def _text_setup(tmp_path, *extra):
    from ssft.backbones import build_backbone
    from ssft.data import load_dataset
    from ssft.data.splits import make_split

    csv = tmp_path / "t.csv"
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    csv.write_text(
        "text,label\n" + "".join(f"{' '.join(words[i % 7 :])} number {i},{i % 2}\n" for i in range(20))
    )
    cfg = load_config(
        "demo",
        [f"cache.dir={tmp_path}", "backbone.name=random:bert-tiny", "data.name=csv", f"data.path={csv}",
         "data.text_column=text", "data.labels_per_class=2", "train.progress=false", *extra],
    )  # fmt: skip
    data = load_dataset(cfg.data)
    return cfg, data, make_split(data, cfg.data), build_backbone(cfg.backbone).freeze()


def test_text_views_are_extracted_from_augmented_texts(tmp_path):
    from ssft.run.sources import build_sources

    cfg, data, split, bb = _text_setup(tmp_path, "cache.views=1", "cache.strong_views=1")
    train, _, _ = build_sources(cfg, data, split, bb, torch.device("cpu"), ("strong", "weak"))
    assert len(train.views) == 1 and len(train.strong) == 1
    idx = split.unlabeled[:6]
    plain = train.get_view(idx, 0).pooled
    strong = train.get_views(idx, "strong", np.ones(6, dtype=np.int64)).pooled
    assert not torch.allclose(plain, strong)
    with pytest.raises(ConfigError, match="cache.views must be >= 0"):
        load_config("demo", ["cache.views=-1"])
    with pytest.raises(ConfigError, match="cache.strong_views must be >= 0"):
        load_config("demo", ["cache.strong_views=-1"])
