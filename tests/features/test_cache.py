"""Feature cache: hits, stored values, keys, invalid entries, resume, OOM halving, NaN, listing."""

from __future__ import annotations

import logging
import math
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from ssft.backbones.base import Backbone, Features, ImagePreprocess, TextPreprocess
from ssft.errors import CacheError
from ssft.features import FeatureStore, cache_key, default_cache_dir, list_caches, remove_cache

# ------------------------------------------------------------------------------------------------
# Fake backbones


class FakeImageBackbone(Backbone):
    """8x8 grey images -> [CLS] + a 4x4 grid of 2x2-patch embeddings; counts its forward calls.

    ``fail_after``: raise after that many successful calls (an interrupted extraction).
    ``oom_above``: raise CUDA OutOfMemoryError for batches larger than that.
    An image whose top-left pixel is 255 gives NaN features.
    """

    modality = "image"
    num_prefix_tokens = 1

    def __init__(
        self, dim: int = 8, fail_after: int | None = None, oom_above: int | None = None, exc=RuntimeError
    ):
        super().__init__()
        torch.manual_seed(0)
        self.name, self.dim = "fake-image", dim
        self.preprocess = ImagePreprocess(size=8, mean=(0.5,) * 3, std=(0.5,) * 3)
        self.patch = nn.Conv2d(1, dim, kernel_size=2, stride=2)
        self.cls = nn.Parameter(torch.randn(dim))
        self.out = nn.Linear(dim, dim)
        self.calls, self.fail_after, self.oom_above, self.exc = 0, fail_after, oom_above, exc

    def prepare(self, raw: Sequence[np.ndarray]) -> dict[str, Tensor]:
        return {"x": torch.from_numpy(np.stack(raw)).float().div(255.0).unsqueeze(1)}

    def encode(self, inputs: dict[str, Tensor]) -> Features:
        x = inputs["x"]
        if self.oom_above is not None and x.shape[0] > self.oom_above:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (fake)")
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise self.exc("interrupted (fake)")
        self.calls += 1
        patches = self.patch(x).flatten(2).transpose(1, 2)  # (B, 16, D)
        tokens = self.out(torch.cat([self.cls.expand(x.shape[0], 1, -1), patches], dim=1))
        pooled = tokens[:, 0] + tokens[:, 1:].mean(1)
        bad = x[:, 0, 0, 0] == 1.0
        pooled = torch.where(bad[:, None], torch.full_like(pooled, float("nan")), pooled)
        return Features(pooled, tokens, None)


class FakeTextBackbone(Backbone):
    """Strings -> one token per character (truncated to max_length), padded to the batch's longest."""

    modality = "text"
    num_prefix_tokens = 0

    def __init__(self, dim: int = 6, max_length: int = 12):
        super().__init__()
        torch.manual_seed(1)
        self.name, self.dim = "fake-text", dim
        self.preprocess = TextPreprocess(max_length=max_length)
        self.emb = nn.Embedding(64, dim)
        self.calls = 0

    def prepare(self, raw: Sequence[str]) -> dict[str, Tensor]:
        ids = [[ord(c) % 64 for c in s[: self.preprocess.max_length]] for s in raw]
        n = max(1, max(len(i) for i in ids))
        out = torch.zeros(len(ids), n, dtype=torch.long)
        mask = torch.zeros(len(ids), n, dtype=torch.bool)
        for r, i in enumerate(ids):
            out[r, : len(i)] = torch.tensor(i, dtype=torch.long)
            mask[r, : len(i)] = True
        return {"ids": out, "mask": mask}

    def encode(self, inputs: dict[str, Tensor]) -> Features:
        self.calls += 1
        mask = inputs["mask"]
        tokens = self.emb(inputs["ids"]) + 1000.0 * (~mask)[..., None]  # junk in the padding
        m = mask[..., None].float()
        pooled = (tokens * m).sum(1) / m.sum(1).clamp(min=1)
        return Features(pooled, tokens, mask)


class LazyImages(Sequence):
    """n deterministic 8x8 uint8 images, made on access (no list of inputs held in memory)."""

    def __init__(self, n: int, seed: int = 0) -> None:
        self.n, self.seed = n, seed

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        a = np.random.default_rng((self.seed, i)).integers(0, 255, size=(8, 8), dtype=np.uint8)
        return a


TEXTS = ["a", "hello", "cache me if you can", "", "xyz", "semi supervised", "ok"]
FILES = ("pooled.f16", "tokens.f16", "mask.u8", "done.u8")


def build(root, backbone, inputs, key="k" * 24, **kw):
    kw.setdefault("store", "all")
    kw.setdefault("grid", 2)
    kw.setdefault("batch_size", 4)
    return FeatureStore.build(
        backbone=backbone, inputs=inputs, key=key, root=root, device="cpu", progress=False, **kw
    )


def reference(backbone, inputs) -> Features:
    with torch.no_grad():
        return backbone.encode(backbone.prepare([inputs[i] for i in range(len(inputs))]))


def all_rows(store) -> Features:
    return store.get(torch.arange(len(store)))


# ------------------------------------------------------------------------------------------------
# Hits and values


def test_second_build_is_a_cache_hit_with_zero_forward_passes(tmp_path):
    inputs = LazyImages(10)
    bb = FakeImageBackbone()
    s1 = build(tmp_path, bb, inputs)
    assert s1.forward_passes == 3 == bb.calls  # chunks of 4, 4, 2
    assert (s1.path / "complete.json").exists()
    s2 = build(tmp_path, bb, inputs)
    assert s2.forward_passes == 0 and bb.calls == 3
    assert len(s2) == 10
    assert torch.equal(all_rows(s1).tokens, all_rows(s2).tokens)


def test_all_store_equals_backbone_output(tmp_path):
    inputs = LazyImages(9)
    bb = FakeImageBackbone()
    store = build(tmp_path, bb, inputs, store="all")
    ref = reference(bb, inputs)
    got = all_rows(store)
    assert got.pooled.dtype == torch.float16 and got.tokens.dtype == torch.float16
    assert got.tokens.shape == (9, 17, 8) and got.mask is None
    torch.testing.assert_close(got.pooled.float(), ref.pooled, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(got.tokens.float(), ref.tokens, rtol=1e-3, atol=1e-3)
    # Random, repeated and unsorted rows come back in the order asked.
    rows = torch.tensor([7, 2, 2, 8, 0])
    torch.testing.assert_close(store.get(rows).tokens.float(), ref.tokens[rows], rtol=1e-3, atol=1e-3)
    assert store.nbytes == 9 * 8 * 2 + 9 * 17 * 8 * 2


def _adaptive_bins_by_hand(grid_tokens: Tensor, g: int) -> Tensor:
    """(B, S, S, D) -> (B, g*g, D) with PyTorch's adaptive-pool bins: [floor(i*S/g), ceil((i+1)*S/g))."""
    s = grid_tokens.shape[1]
    out = []
    for i in range(g):
        for j in range(g):
            r0, r1 = (i * s) // g, math.ceil((i + 1) * s / g)
            c0, c1 = (j * s) // g, math.ceil((j + 1) * s / g)
            out.append(grid_tokens[:, r0:r1, c0:c1].mean(dim=(1, 2)))
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("grid", [2, 3, 1])
def test_reduced_store_equals_an_independent_pooling(tmp_path, grid):
    inputs = LazyImages(6)
    bb = FakeImageBackbone()
    store = build(tmp_path, bb, inputs, store="reduced", grid=grid)
    ref = reference(bb, inputs)
    patches = ref.tokens[:, 1:].reshape(6, 4, 4, 8)  # row-major 4x4 patch grid
    expected = torch.cat([ref.tokens[:, :1], _adaptive_bins_by_hand(patches, grid)], dim=1)
    got = all_rows(store)
    assert got.tokens.shape == (6, 1 + grid * grid, 8)
    torch.testing.assert_close(got.tokens.float(), expected, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(got.pooled.float(), ref.pooled, rtol=1e-3, atol=1e-3)


def test_pooled_store_keeps_only_the_pooled_latent(tmp_path):
    inputs = LazyImages(5)
    bb = FakeImageBackbone()
    store = build(tmp_path, bb, inputs, store="pooled")
    got = all_rows(store)
    assert got.tokens is None and got.mask is None
    torch.testing.assert_close(got.pooled.float(), reference(bb, inputs).pooled, rtol=1e-3, atol=1e-3)
    assert not (store.path / "tokens.f16").exists()


def test_device_resident_copy_matches_and_cpu_never_fits(tmp_path):
    store = build(tmp_path, FakeImageBackbone(), LazyImages(7))
    resident = store.to("cpu")
    rows = torch.tensor([6, 0, 3])
    assert torch.equal(resident.get(rows).tokens, store.get(rows).tokens)
    assert torch.equal(store.load_into_memory().get(rows).pooled, store.get(rows).pooled)
    assert not store.fits_on(torch.device("cpu"))
    with pytest.raises(IndexError):
        store.get(torch.tensor([7]))


def test_text_masks_are_stored_and_returned(tmp_path):
    bb = FakeTextBackbone(max_length=12)
    store = build(tmp_path, bb, TEXTS, batch_size=3)
    got = all_rows(store)
    lengths = [min(len(t), 12) for t in TEXTS]
    assert got.tokens.shape == (len(TEXTS), 12, 6)
    assert got.mask.dtype == torch.bool
    assert got.mask.sum(1).tolist() == lengths
    for i, t in enumerate(TEXTS):
        ref = reference(bb, [t])
        n = lengths[i]
        assert got.mask[i, :n].all() and not got.mask[i, n:].any()
        torch.testing.assert_close(got.tokens[i, :n].float(), ref.tokens[0, :n], rtol=1e-3, atol=1e-3)
        torch.testing.assert_close(got.pooled[i].float(), ref.pooled[0], rtol=1e-3, atol=1e-3)
    pooled_only = build(tmp_path, bb, TEXTS, key="p" * 24, store="pooled")
    assert all_rows(pooled_only).mask is None and all_rows(pooled_only).tokens is None
    with pytest.raises(CacheError, match="text"):
        build(tmp_path, bb, TEXTS, key="r" * 24, store="reduced")


# ------------------------------------------------------------------------------------------------
# Keys and invalid entries


def test_key_changes_with_every_field():
    base = dict(
        backbone_fingerprint="abc",
        dataset_identity="mnist:train:123",
        part="train",
        store="all",
        grid=4,
        view=0,
        max_length=None,
    )
    k = cache_key(**base)
    assert len(k) == 24 and int(k, 16) >= 0
    assert cache_key(**dict(base)) == k
    changes = dict(
        backbone_fingerprint="abd",
        dataset_identity="mnist:train:124",
        part="test",
        store="reduced",
        grid=2,
        view=1,
        max_length=128,
    )
    keys = {k}
    for field, value in changes.items():
        keys.add(cache_key(**{**base, field: value}))
    assert len(keys) == 1 + len(changes)


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SSFT_CACHE", str(tmp_path / "a"))
    assert default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("SSFT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "ssft"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "ssft"


def test_mismatching_entry_is_rebuilt_not_reused(tmp_path):
    bb = FakeImageBackbone()
    build(tmp_path, bb, LazyImages(8))
    bb.calls = 0
    with pytest.warns(UserWarning, match="n=8"):
        store = build(tmp_path, bb, LazyImages(12))
    assert store.forward_passes == 3 and len(store) == 12
    torch.testing.assert_close(
        all_rows(store).pooled.float(), reference(bb, LazyImages(12)).pooled, rtol=1e-3, atol=1e-3
    )
    wide = FakeImageBackbone(dim=16)
    with pytest.warns(UserWarning, match="dim"):
        store = build(tmp_path, wide, LazyImages(12))
    assert store.forward_passes == 3 and all_rows(store).pooled.shape == (12, 16)


def test_truncated_tokens_file_is_detected_and_rebuilt(tmp_path):
    bb = FakeImageBackbone()
    inputs = LazyImages(10)
    store = build(tmp_path, bb, inputs)
    good = (store.path / "tokens.f16").read_bytes()
    with open(store.path / "tokens.f16", "r+b") as f:
        f.truncate(len(good) - 100)
    with pytest.warns(UserWarning, match="tokens.f16"):
        again = build(tmp_path, bb, inputs)
    assert again.forward_passes == 3
    assert (again.path / "tokens.f16").read_bytes() == good


# ------------------------------------------------------------------------------------------------
# Resume, OOM, NaN


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_interrupted_extraction_resumes_and_is_byte_identical(tmp_path, exc):
    inputs = LazyImages(14)  # chunks of 4: 4 + 4 + 4 + 2
    with pytest.raises(exc):
        build(tmp_path / "a", FakeImageBackbone(fail_after=2, exc=exc), inputs)
    entry = tmp_path / "a" / ("k" * 24)
    assert np.fromfile(entry / "done.u8", dtype=np.uint8).tolist() == [1, 1, 0, 0]
    assert not (entry / "complete.json").exists()
    assert list_caches(tmp_path / "a")[0]["complete"] is False
    # A different batch size on resume keeps the chunk boundaries the entry was made with.
    resumed = build(tmp_path / "a", FakeImageBackbone(), inputs, batch_size=8)
    assert resumed.forward_passes == 2
    clean = build(tmp_path / "b", FakeImageBackbone(), inputs)
    assert clean.forward_passes == 4
    for name in ("pooled.f16", "tokens.f16", "done.u8"):
        assert (entry / name).read_bytes() == (clean.path / name).read_bytes(), name


def test_workers_give_the_same_bytes(tmp_path):
    inputs = LazyImages(10)
    a = build(tmp_path / "a", FakeImageBackbone(), inputs)
    b = build(tmp_path / "b", FakeImageBackbone(), inputs, num_workers=2)
    assert (a.path / "tokens.f16").read_bytes() == (b.path / "tokens.f16").read_bytes()


def test_out_of_memory_halves_the_batch_and_gives_the_same_values(tmp_path, caplog):
    inputs = LazyImages(11)
    clean = build(tmp_path / "a", FakeImageBackbone(), inputs, batch_size=8)
    bb = FakeImageBackbone(oom_above=2)
    with caplog.at_level(logging.WARNING, logger="ssft.features"):
        store = build(tmp_path / "b", bb, inputs, batch_size=8)
    assert "out of GPU memory" in caplog.text
    assert bb.calls == 6  # 11 items in batches of at most 2
    torch.testing.assert_close(all_rows(store).tokens, all_rows(clean).tokens, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(all_rows(store).pooled, all_rows(clean).pooled, rtol=1e-3, atol=1e-3)
    # A single item that does not fit is not retried forever.
    with pytest.raises(torch.cuda.OutOfMemoryError):
        build(tmp_path / "c", FakeImageBackbone(oom_above=0), inputs)


def test_nan_features_raise_and_are_never_written(tmp_path):
    class WithBadItem(LazyImages):
        def __getitem__(self, i):
            a = super().__getitem__(i)
            if i == 5:
                a[0, 0] = 255
            return a

    with pytest.raises(CacheError, match=r"NaN or inf .*item\(s\) 5\b"):
        build(tmp_path, FakeImageBackbone(), WithBadItem(10))
    entry = tmp_path / ("k" * 24)
    assert np.fromfile(entry / "done.u8", dtype=np.uint8).tolist() == [1, 0, 0]
    assert not (entry / "complete.json").exists()


# ------------------------------------------------------------------------------------------------
# Listing and removal


def test_list_and_remove_caches(tmp_path):
    bb = FakeImageBackbone()
    meta = {"backbone": "fake-image", "dataset": "toy"}
    build(tmp_path, bb, LazyImages(4), key="aa11" + "0" * 20, meta=meta)
    build(tmp_path, bb, LazyImages(4), key="aa22" + "0" * 20, meta=meta)
    build(tmp_path, bb, LazyImages(4), key="bb33" + "0" * 20, meta=meta)
    (tmp_path / "not-a-cache").mkdir()
    entries = list_caches(tmp_path)
    assert [e["key"][:4] for e in entries] == ["aa11", "aa22", "bb33"]
    e = entries[0]
    assert e["complete"] is True and e["meta"]["backbone"] == "fake-image" and e["meta"]["dataset"] == "toy"
    assert e["size"] == sum(p.stat().st_size for p in (tmp_path / e["key"]).iterdir())
    assert list_caches(tmp_path / "absent") == []

    for bad in ["..", "/", "../x", "", ".", "aa/../.."]:
        with pytest.raises(CacheError):
            remove_cache(bad, tmp_path)
    with pytest.raises(CacheError, match="ssft cache ls"):
        remove_cache("ff", tmp_path)

    removed = remove_cache("aa", tmp_path)
    assert sorted(p.name[:4] for p in removed) == ["aa11", "aa22"]
    assert [e["key"][:4] for e in list_caches(tmp_path)] == ["bb33"]
    assert remove_cache("bb33" + "0" * 20, tmp_path) == [tmp_path / ("bb33" + "0" * 20)]
    assert list_caches(tmp_path) == [] and (tmp_path / "not-a-cache").is_dir()


# ------------------------------------------------------------------------------------------------
# Host memory


def _peak_traced(tmp_path, n: int) -> int:
    bb = FakeImageBackbone(dim=64)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        build(tmp_path / str(n), bb, LazyImages(n), batch_size=8)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def test_host_memory_does_not_grow_with_the_number_of_items(tmp_path):
    # numpy buffers are traced by tracemalloc; keeping every feature in RAM would add ~4x the
    # stored bytes (float32) to the peak for 4x the items.
    small, large = 64, 256
    _peak_traced(tmp_path / "warm", 8)  # imports and first-call allocations out of the way
    p_small = _peak_traced(tmp_path, small)
    p_large = _peak_traced(tmp_path, large)
    stored_extra = (large - small) * 17 * 64 * 2  # float16 bytes the larger run adds on disk
    assert p_large - p_small < 0.25 * stored_extra, (p_small, p_large, stored_extra)


def test_compile_failure_falls_back_to_eager(tmp_path, monkeypatch, caplog):
    def broken_compile(fn, *a, **kw):
        def run(*args, **kwargs):
            raise RuntimeError("no compiler here (fake)")

        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    bb = FakeImageBackbone()
    with caplog.at_level(logging.WARNING, logger="ssft.features"):
        store = build(tmp_path, bb, LazyImages(6), compile=True)
    assert "torch.compile" in caplog.text
    torch.testing.assert_close(
        all_rows(store).pooled.float(), reference(bb, LazyImages(6)).pooled, rtol=1e-3, atol=1e-3
    )


class SlowImageBackbone(FakeImageBackbone):
    def encode(self, inputs: dict[str, Tensor]) -> Features:
        import time

        time.sleep(0.05)  # long enough for a second builder to arrive while the first extracts
        return super().encode(inputs)


def test_parallel_builds_of_one_entry_extract_it_once(tmp_path):
    import threading

    inputs = LazyImages(10)
    backbones = [SlowImageBackbone(), SlowImageBackbone()]
    stores: list[FeatureStore] = []
    threads = [
        threading.Thread(target=lambda b=b: stores.append(build(tmp_path, b, inputs))) for b in backbones
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s.forward_passes for s in stores) == [0, 3]  # one extracted, the other waited and hit
    assert torch.equal(all_rows(stores[0]).tokens, all_rows(stores[1]).tokens)
    assert [p["key"] for p in list_caches(tmp_path)] == ["k" * 24]  # the lock file is no entry
