"""A full disk (ENOSPC, simulated through ``ssft.fileio.write_hook``) during extraction and during
a checkpoint: one clear error, the previous checkpoint intact, and a resume once space is back
ends exactly where an uninterrupted run does."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

import pytest
import torch

from ssft import fileio
from ssft.config import load_config
from ssft.errors import CacheError
from ssft.features import FeatureStore
from ssft.fileio import DiskFullError
from ssft.run.runner import fit
from ssft.train.checkpoint import load_checkpoint

sys.path.insert(0, str(Path(__file__).parent / "features"))
from test_cache import FakeImageBackbone  # noqa: E402
from test_cache_concurrency import _images  # noqa: E402

ARGS = ["train.steps=6", "train.batch_size=8", "data.labels_per_class=2", "train.progress=false",
        "train.checkpoint_every=1", "train.log_every=1"]  # fmt: skip


def full_after(name: str, writes: int):
    """A hook that lets ``writes`` writes to files called ``name`` through, then reports a full disk."""
    seen = {"n": 0}

    def hook(path: Path, nbytes: int) -> None:
        if path.name == name:
            seen["n"] += 1
            if seen["n"] > writes:
                raise OSError(errno.ENOSPC, "No space left on device")

    return hook


@pytest.fixture
def hook(monkeypatch):
    def install(h):
        monkeypatch.setattr(fileio, "write_hook", h)

    yield install
    fileio.write_hook = None


def test_disk_full_during_a_checkpoint_keeps_the_previous_one_and_resumes(tmp_path, hook):
    cache = f"cache.dir={tmp_path / 'cache'}"
    ref = fit(load_config("demo", [*ARGS, cache]), tmp_path / "ref").run_dir
    hook(full_after("checkpoint.pt", 3))
    run = tmp_path / "run"
    with pytest.raises(DiskFullError) as err:
        fit(load_config("demo", [*ARGS, cache]), run)
    msg = str(err.value)
    assert "no space left on the device writing" in msg and "checkpoint.pt" in msg and "\n" not in msg
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 3  # the previous one, intact
    assert not list(run.glob(".checkpoint.pt.*.tmp"))  # no half-written temp file left behind
    fileio.write_hook = None  # space is back
    fit(None, run, resume=True)
    a = json.loads((ref / "results.json").read_text())
    b = json.loads((run / "results.json").read_text())
    assert a["test_accuracy"] == b["test_accuracy"] and a["per_class_accuracy"] == b["per_class_accuracy"]
    assert (ref / "metrics.jsonl").read_text() == (run / "metrics.jsonl").read_text()


def test_disk_full_during_extraction_is_one_error_and_the_rest_resumes(tmp_path, hook):
    def build():
        return FeatureStore.build(
            backbone=FakeImageBackbone(),
            inputs=_images(),
            key="e",
            root=tmp_path,
            batch_size=4,
            progress=False,
        )

    solo = FeatureStore.build(
        backbone=FakeImageBackbone(), inputs=_images(), key="e", root=tmp_path / "solo", batch_size=4,
        progress=False,
    ).get(torch.arange(40))  # fmt: skip
    hook(full_after("tokens.f16", 4))
    with pytest.raises(CacheError, match="no space left on the device writing cache entry .*run again"):
        build()
    assert not (tmp_path / "e" / "complete.json").exists()
    fileio.write_hook = None
    again = build()
    assert 0 < again.forward_passes < 10  # the chunks written before the disk filled are kept
    torch.testing.assert_close(again.get(torch.arange(40)).tokens, solo.tokens, rtol=0, atol=0)
