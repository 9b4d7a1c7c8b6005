"""metrics.jsonl across an interruption that falls inside a logging window: the resumed run logs
the same averages as an uninterrupted one (the partial window travels in the checkpoint)."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest

import ssft.errors as errors
import ssft.train.trainer as trainer
from ssft.api import fit

SETS = [
    "method.name=twinturbo",
    "train.steps=30",
    "train.batch_size=16",
    "data.labels_per_class=2",
    "train.log_every=10",
    "train.progress=false",
    "train.device=cpu",
]


class _StopAfter(dict):
    """A stop flag that turns on after ``n`` reads (one read per step)."""

    def __init__(self, n: int) -> None:
        super().__init__(stop=False)
        self.n = n

    def __getitem__(self, key: str) -> bool:
        self.n -= 1
        return self.n < 0


def lines(run):
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_resume_inside_a_logging_window_logs_what_an_uninterrupted_run_logs(tmp_path, monkeypatch):
    ref = fit("demo", tmp_path / "ref", overrides=SETS)

    @contextmanager
    def stop_at_step_7():
        # one read of the flag per step: true from step 7 on
        yield _StopAfter(6)

    monkeypatch.setattr(trainer, "stop_signals", stop_at_step_7)
    with pytest.raises(errors.Interrupted, match="step 7/30"):
        fit("demo", tmp_path / "run", overrides=SETS)
    monkeypatch.undo()
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    resumed = fit(out=tmp_path / "run", resume=True)

    a, b = lines(ref.run_dir), lines(resumed.run_dir)
    assert [x["step"] for x in b] == [10, 20, 30]
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            assert y[k] == pytest.approx(x[k], rel=1e-9, abs=1e-12), (x["step"], k)
