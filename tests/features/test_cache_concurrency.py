"""Parallel builders of one cache entry, the entry lock, and the chunk checksums."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from test_cache import FakeImageBackbone

from ssft.errors import CacheError
from ssft.features import FeatureStore, remove_cache
from ssft.features import store as store_module
from ssft.features.layout import entry_lock

KEY = "entry0"


class SlowBackbone(FakeImageBackbone):
    """Sleeps in every forward pass, so a second builder arrives while the first is writing."""

    def encode(self, inputs):
        time.sleep(0.05)
        return super().encode(inputs)


def _images(n: int = 40) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 250, (8, 8), dtype=np.uint8) for _ in range(n)]


def _build(root: str, backbone=None, **kw) -> FeatureStore:
    return FeatureStore.build(
        backbone=backbone or FakeImageBackbone(), inputs=_images(), key=KEY, root=root,
        batch_size=4, progress=False, **kw,
    )  # fmt: skip


def _worker(root: str, queue) -> None:
    try:
        store = _build(root, SlowBackbone())
        queue.put(("ok", store.forward_passes, store.get(torch.arange(40)).pooled.numpy()))
    except BaseException as e:  # the parent reports it
        queue.put(("error", repr(e), None))


def test_two_processes_build_one_entry_on_a_fresh_cache(tmp_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert [r[0] for r in results] == ["ok", "ok"], results
    assert sorted(r[1] for r in results) == [0, 10]  # one extracted, the other waited and reused it
    solo = _build(str(tmp_path / "solo")).get(torch.arange(40)).pooled.numpy()
    for r in results:
        np.testing.assert_array_equal(r[2], solo)


def test_an_entry_being_written_under_the_lock_is_not_deleted(tmp_path):
    path = tmp_path / KEY
    out: dict[str, object] = {}
    with entry_lock(path):
        # What another process's extraction leaves mid-way: files, no meta.json yet.
        path.mkdir()
        (path / "pooled.f16").write_bytes(b"\0" * 16)
        t = threading.Thread(target=lambda: out.setdefault("store", _build(str(tmp_path))))
        t.start()
        t.join(timeout=1.0)
        assert t.is_alive(), "the second builder must wait for the lock"
        assert (path / "pooled.f16").exists(), "an entry being written was deleted from outside its lock"
        with pytest.raises(CacheError, match="being written by another process"):
            remove_cache(KEY, tmp_path)
        assert path.exists()
    t.join(timeout=60)
    assert out["store"].forward_passes == 10  # the half-written entry was replaced once the lock was free


def _damage(path: Path, how: str) -> None:
    f = path / KEY / "pooled.f16"
    data = bytearray(f.read_bytes())
    if how == "flip":
        data[165] ^= 0xFF  # row 10, chunk 2
    else:
        data = data[:-10]
    f.write_bytes(bytes(data))


@pytest.mark.parametrize(("how", "named"), [("flip", "chunk 2 .*CRC32"), ("truncate", "pooled.f16 is")])
def test_a_damaged_chunk_is_named_and_extracted_again(tmp_path, how, named):
    first = _build(str(tmp_path))
    good = first.get(torch.arange(40)).pooled.clone()
    _damage(tmp_path, how)
    store_module._VERIFIED.clear()  # a new process: the entry's first open
    with pytest.warns(UserWarning, match=named):
        again = _build(str(tmp_path))
    assert again.forward_passes == 10
    torch.testing.assert_close(again.get(torch.arange(40)).pooled, good, rtol=0, atol=0)


def test_checksums_are_recorded_per_chunk(tmp_path):
    _build(str(tmp_path))
    done = (tmp_path / KEY / "complete.json").read_text()
    import json

    crcs = json.loads(done)["crc32"]
    assert set(crcs) == {"pooled.f16", "tokens.f16"} and len(crcs["pooled.f16"]) == 10


def test_a_meta_json_from_another_backbone_is_named_and_the_entry_rebuilt(tmp_path):
    first = _build(str(tmp_path))
    good = first.get(torch.arange(40)).pooled.clone()
    other = FeatureStore.build(
        backbone=FakeImageBackbone(dim=12), inputs=_images(), key="other", root=tmp_path, batch_size=4,
        progress=False,
    )  # fmt: skip
    (tmp_path / KEY / "meta.json").write_bytes((other.path / "meta.json").read_bytes())
    store_module._VERIFIED.clear()
    with pytest.warns(UserWarning, match=r"entry0 is invalid \(meta.json has key='other'"):
        again = _build(str(tmp_path))
    assert again.forward_passes == 10
    torch.testing.assert_close(again.get(torch.arange(40)).pooled, good, rtol=0, atol=0)
