"""Strong (RandAugment-style) and text views; per-item view draws from the cache or made live."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from ssft.config import load_config
from ssft.data.augment import ViewInputs, make_view
from ssft.data.crop_flip import augment
from ssft.data.randaugment import OPS, strong_augment
from ssft.data.text_augment import text_augment
from ssft.errors import ConfigError
from ssft.train.streams import ViewSampler


def test_strong_views_are_deterministic_distinct_and_keep_shape():
    rng = np.random.default_rng(0)
    for shape in [(28, 28), (28, 28, 1), (32, 32, 3)]:
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        a = strong_augment(img, seed=0, item=3, view=1)
        assert a.shape == img.shape and a.dtype == np.uint8
        assert np.array_equal(a, strong_augment(img, seed=0, item=3, view=1))
        assert not np.array_equal(a, strong_augment(img, seed=0, item=3, view=2))
        assert not np.array_equal(a, strong_augment(img, seed=0, item=4, view=1))
        assert not np.array_equal(a, augment(img, seed=0, item=3, view=1))  # stronger than the weak view
    with pytest.raises(ValueError, match="numbered from 1"):
        strong_augment(img, seed=0, item=0, view=0)


def test_strong_views_change_more_than_weak_views():
    img = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (32, 1))[:, :, None].repeat(3, axis=2)

    def change(f, i):
        return np.abs(f(img, seed=0, item=i, view=1, flip=False).astype(int) - img).mean()

    weak = np.mean([change(augment, i) for i in range(40)])
    strong = np.mean([change(strong_augment, i) for i in range(40)])
    assert strong > 1.5 * weak, (strong, weak)


def test_cutout_paints_a_grey_square_of_at_most_half_the_side():
    img = np.full((20, 20), 255, dtype=np.uint8)
    sides = []
    for i in range(30):
        out = strong_augment(img, seed=0, item=i, view=1, flip=False, ops=0)
        grey = out == 128
        assert set(np.unique(out).tolist()) <= {128, 255}
        sides.append(int(grey.any(axis=1).sum()))
    assert 0 < max(sides) <= 10 and len(set(sides)) > 3
    assert (strong_augment(img, seed=0, item=0, view=1, ops=0, cutout=0.0) == 255).all()


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_keeps_size_and_mode(name):
    from PIL import Image

    for mode, shape in (("L", (16, 16)), ("RGB", (16, 16, 3))):
        img = Image.fromarray(np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8), mode)
        out = OPS[name](img, 0.7, -1)
        assert out.size == img.size and out.mode == mode


def test_text_views_by_hand():
    text = "the quick brown fox jumps over the lazy dog again and again today"
    assert text_augment(text, seed=0, item=0, view=0) == text  # weak view 0 is the text itself
    for strong in (False, True):
        a = text_augment(text, seed=0, item=1, view=1, strong=strong)
        assert a == text_augment(text, seed=0, item=1, view=1, strong=strong)
        assert Counter(a.split()) <= Counter(text.split())  # words dropped or moved, none invented
        assert a != text
    views = [text_augment(text, seed=0, item=1, view=v, strong=True) for v in range(1, 6)]
    assert len(set(views)) == 5
    kept = np.mean([len(text_augment(text, seed=0, item=i, view=1, strong=True).split()) for i in range(200)])
    assert kept == pytest.approx(13 * 0.7, abs=0.5)  # strong views drop 30 % of the words
    kept_w = np.mean([len(text_augment(text, seed=0, item=i, view=1).split()) for i in range(200)])
    assert kept_w == pytest.approx(13 * 0.9, abs=0.4)  # weak views drop 10 %
    assert text_augment("word", seed=0, item=0, view=3, strong=True) == "word"
    assert all(text_augment("a b", seed=0, item=i, view=1, strong=True) for i in range(50))  # never empty


def test_make_view_dispatches_and_rejects_unknown_kinds():
    img = np.zeros((8, 8), dtype=np.uint8)
    assert isinstance(make_view("a b c", kind="strong", seed=0, item=0, view=1), str)
    assert make_view(img, kind="strong", seed=0, item=0, view=1).shape == (8, 8)
    with pytest.raises(ValueError, match="unknown view kind"):
        make_view(img, kind="medium", seed=0, item=0, view=1)
    with pytest.raises(ValueError, match="unknown view kind"):
        ViewInputs([img], view=1, seed=0, kind="medium")


def test_view_sampler_ranges_and_resume():
    s = ViewSampler(0)
    weak = s.draw(500, "weak", 3)
    strong = s.draw(500, "strong", 2)
    assert set(weak.tolist()) == {0, 1, 2} and set(strong.tolist()) == {1, 2}
    live = s.draw(10, "strong", None)
    assert (live >= 1).all() and len(set(live.tolist())) == 10
    state = s.state_dict()
    a = s.draw(20, "weak", 5)
    s2 = ViewSampler(123)
    s2.load_state_dict(state)
    assert np.array_equal(a, s2.draw(20, "weak", 5))
    with pytest.raises(ValueError, match="no strong views"):
        s.draw(3, "strong", 0)


def _demo(tmp_path, *extra):
    from ssft.backbones import build_backbone
    from ssft.data import load_dataset
    from ssft.data.splits import make_split

    cfg = load_config(
        "demo", [f"cache.dir={tmp_path}", "train.progress=false", "data.max_unlabeled=40", *extra]
    )
    data = load_dataset(cfg.data)
    return cfg, data, make_split(data, cfg.data), build_backbone(cfg.backbone).freeze()


def test_strong_views_are_extracted_only_for_methods_that_read_them(tmp_path):
    from ssft.run.sources import build_sources

    cfg, data, split, bb = _demo(tmp_path, "cache.strong_views=2", "cache.views=1")
    plain, _, _ = build_sources(cfg, data, split, bb, torch.device("cpu"))
    assert plain.strong == [] and len(plain.views) == 1
    train, _, stats = build_sources(cfg, data, split, bb, torch.device("cpu"), ("strong", "weak"))
    assert len(train.strong) == 2 and stats["forward_passes"] > 0  # only the strong entries are new
    assert train.num_views("weak") == 2 and train.num_views("strong") == 2
    idx = split.unlabeled[:8]
    views = np.array([1, 2, 1, 2, 2, 1, 1, 2])
    got = train.get_views(idx, "strong", views).pooled
    for i in range(8):  # each item gets exactly the row of its own drawn view
        want = train.strong[views[i] - 1].get(idx[i : i + 1]).pooled[0]
        assert torch.equal(got[i], want)
    mixed = train.get_views(idx, "weak", np.array([0, 1] * 4)).pooled
    assert torch.equal(mixed[0], train.get(idx[:1]).pooled[0])
    assert torch.equal(mixed[1], train.get_view(idx[1:2], 1).pooled[0])
    assert not torch.equal(
        train.get_view(idx, 1).pooled, train.get_views(idx, "strong", np.ones(8, int)).pooled
    )
    with pytest.raises(IndexError, match="cache.strong_views=2"):
        train.get_views(idx, "strong", np.full(8, 3))
    again, _, stats2 = build_sources(cfg, data, split, bb, torch.device("cpu"), ("strong", "weak"))
    assert stats2["forward_passes"] == 0


def test_a_method_reading_strong_views_needs_some(tmp_path):
    from ssft.run.sources import build_sources

    cfg, data, split, bb = _demo(tmp_path, "cache.strong_views=0")
    with pytest.raises(ConfigError, match="cache.strong_views >= 1"):
        build_sources(cfg, data, split, bb, torch.device("cpu"), ("strong", "weak"))


def test_live_views_are_new_augmentations(tmp_path):
    from ssft.run.sources import build_sources

    cfg, data, split, bb = _demo(tmp_path, "cache.enabled=false")
    train, _, _ = build_sources(cfg, data, split, bb, torch.device("cpu"), ("strong", "weak"))
    assert train.num_views("strong") is None
    idx = split.unlabeled[:4]
    a = train.get_views(idx, "strong", np.array([5, 6, 7, 8])).pooled
    assert torch.equal(a, train.get_views(idx, "strong", np.array([5, 6, 7, 8])).pooled)  # deterministic
    assert not torch.allclose(a, train.get(idx).pooled)
