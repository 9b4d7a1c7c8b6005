"""Assembling a sharded cache entry (``torchrun`` extraction): the result equals one process's
entry; an assembly stopped at any write leaves nothing that reads as complete and the next try
finishes it; a full disk names itself and keeps the parts; parts left by a job killed after
assembling are removed under their locks."""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest
from tests.features.test_cache import FakeImageBackbone, LazyImages

from ssft import fileio
from ssft.data.subset import SubsetInputs
from ssft.errors import CacheError
from ssft.features import FeatureStore, sharded
from ssft.features.validate import judge_entry, verify_checksums

N, WORLD, CHUNK = 11, 2, 4


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs in the process."""


def build_parts(root, key="entry"):
    """The two ranks' parts, as :func:`sharded.build_store` writes them."""
    inputs, bounds = LazyImages(N), [0, 5, N]
    for r in range(WORLD):
        rows = np.arange(bounds[r], bounds[r + 1])
        meta = {"part_of": key, "rows": [bounds[r], bounds[r + 1]], "n": N, "world": WORLD}
        FeatureStore.build(backbone=FakeImageBackbone(), inputs=SubsetInputs(inputs, rows),
                           key=sharded.part_key(key, r, WORLD), root=root, batch_size=CHUNK, progress=False,
                           meta=meta)  # fmt: skip
    return inputs


def one_process(root, inputs):
    return FeatureStore.build(backbone=FakeImageBackbone(), inputs=inputs, key="solo", root=root,
                              batch_size=CHUNK, progress=False)  # fmt: skip


def assemble(root, key="entry"):
    sharded.assemble(root, key, WORLD, n=N, chunk=CHUNK, user={})


def parts_complete(root) -> bool:
    return all((root / sharded.part_key("entry", r, WORLD) / "complete.json").exists() for r in range(WORLD))


def is_complete_and_sound(path) -> bool:
    if not (path / "complete.json").exists():
        return False
    meta = json.loads((path / "meta.json").read_text())
    return judge_entry(path, {})[1] is None and verify_checksums(path, meta) is None


def assert_equals_one_process(root, inputs):
    got = FeatureStore.build(backbone=FakeImageBackbone(), inputs=inputs, key="entry", root=root,
                             batch_size=CHUNK, progress=False)  # fmt: skip
    assert got.forward_passes == 0  # opened, not extracted again
    want = one_process(root, inputs)
    for name in ("pooled.f16", "tokens.f16"):
        np.testing.assert_array_equal(
            np.fromfile(root / "entry" / name, dtype="<f2"), np.fromfile(root / "solo" / name, dtype="<f2")
        )
    assert len(got) == len(want) == N


def test_assembly_equals_the_entry_one_process_writes_and_removes_the_parts(tmp_path):
    inputs = build_parts(tmp_path)
    assemble(tmp_path)
    assert is_complete_and_sound(tmp_path / "entry")
    assert not any((tmp_path / sharded.part_key("entry", r, WORLD)).exists() for r in range(WORLD))
    assert_equals_one_process(tmp_path, inputs)


@pytest.mark.parametrize("at", [1, 2, 3, 5, 8])
def test_an_assembly_killed_at_any_write_is_not_complete_and_the_next_finishes_it(tmp_path, monkeypatch, at):
    inputs = build_parts(tmp_path)
    monkeypatch.setattr(sharded, "_BLOCK", 256)  # many writes per file, so a kill lands inside one
    writes = [0]

    def kill(path, nbytes):
        writes[0] += 1
        if writes[0] == at:
            raise Killed

    monkeypatch.setattr(fileio, "write_hook", kill)
    with pytest.raises(Killed):
        assemble(tmp_path)
    monkeypatch.setattr(fileio, "write_hook", None)
    assert not is_complete_and_sound(tmp_path / "entry")
    assert not (tmp_path / "entry" / "complete.json").exists()
    assert parts_complete(tmp_path)
    assemble(tmp_path)  # the resumed job
    assert is_complete_and_sound(tmp_path / "entry")
    assert_equals_one_process(tmp_path, inputs)


def test_a_full_disk_while_assembling_is_one_cache_error_and_keeps_the_parts(tmp_path, monkeypatch):
    build_parts(tmp_path)

    def full(path, nbytes):
        if path.parent.name == "entry":
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileio, "write_hook", full)
    with pytest.raises(CacheError, match="no space left on the device assembling cache entry") as e:
        assemble(tmp_path)
    assert "free some space" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "entry" / "complete.json").exists()
    assert parts_complete(tmp_path)
    monkeypatch.setattr(fileio, "write_hook", None)
    assemble(tmp_path)
    assert is_complete_and_sound(tmp_path / "entry")


def test_parts_left_beside_a_complete_entry_are_removed(tmp_path, monkeypatch):
    inputs = build_parts(tmp_path)
    monkeypatch.setattr(sharded, "remove_parts", lambda *a, **k: None)  # killed right after assembling
    assemble(tmp_path)
    monkeypatch.undo()
    assert (tmp_path / sharded.part_key("entry", 0, WORLD)).exists()
    sharded.remove_parts(tmp_path, "entry", WORLD)
    assert not any((tmp_path / sharded.part_key("entry", r, WORLD)).exists() for r in range(WORLD))
    assert_equals_one_process(tmp_path, inputs)
