"""Runs without the cache decode ahead in DataLoader workers: the same batches, the same losses,
and an interrupted run resumes exactly, with or without workers."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest

import ssft.errors as errors
import ssft.train.trainer as trainer
from ssft.config import load_config
from ssft.run.runner import fit

BASE = [
    "train.steps=6",
    "train.batch_size=8",
    "data.labels_per_class=2",
    "train.log_every=1",
    "cache.enabled=false",
    "method.name=twinturbo",
]


def losses(run) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


class _StopAt(dict):
    """A stop flag that turns on at step ``k`` (read once per step)."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k, self.n = k, 0

    def __getitem__(self, key: str) -> bool:
        self.n += 1
        return self.n >= self.k


def test_workers_give_the_same_training_as_the_main_process(tmp_path):
    a = fit(load_config("demo", [*BASE, "train.num_workers=0"]), tmp_path / "w0")
    b = fit(load_config("demo", [*BASE, "train.num_workers=2"]), tmp_path / "w2")
    assert losses(a.run_dir) == losses(b.run_dir)
    assert a.test_accuracy == b.test_accuracy


@pytest.mark.parametrize("workers", [0, 2])
def test_interrupted_live_run_resumes_exactly(tmp_path, monkeypatch, workers):
    # Dropout in the head: training draws from the global RNG, which resume must restore exactly.
    cfg = [*BASE, f"train.num_workers={workers}", "backbone.frozen=false", "train.backbone_lr=0.01"]
    cfg.append("model.dropout=0.1")
    full = fit(load_config("demo", cfg), tmp_path / "full")

    @contextmanager
    def stop_at_3():
        yield _StopAt(3)

    monkeypatch.setattr(trainer, "stop_signals", stop_at_3)
    with pytest.raises(errors.Interrupted, match="stopped at step 3/6"):
        fit(load_config("demo", cfg), tmp_path / "cut")
    monkeypatch.undo()
    resumed = fit(None, tmp_path / "cut", resume=True)
    assert losses(resumed.run_dir) == losses(full.run_dir)
    assert resumed.test_accuracy == full.test_accuracy
