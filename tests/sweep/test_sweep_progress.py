"""The in-process sweep's progress line: counts, and a time estimate from the pace of the runs."""

from __future__ import annotations

import ssft.sweep.progress as sp


def test_first_sweep_estimate_leaves_out_extraction(monkeypatch):
    clock = iter([0.0, 100.0])
    monkeypatch.setattr(sp.time, "perf_counter", lambda: next(clock))
    p = sp.SweepProgress(4, verbose=False)
    p.start("a")
    p.finished("a", 0.9, extract_seconds=80.0)
    assert p.eta() == "about 1 min 00 s left"  # 3 runs x 20 s, not 3 x 100 s


def test_progress_line_counts_skipped_running_and_failed_runs(monkeypatch, capsys):
    clock = iter([0.0, 10.0, 10.0, 20.0])
    monkeypatch.setattr(sp.time, "perf_counter", lambda: next(clock))
    p = sp.SweepProgress(3)
    assert p.eta() == "time left unknown"
    p.skipped("a", 0.5)
    p.start("b")
    p.finished("b", 0.75, resumed=True)
    p.start("c")
    p.failed("c", "boom")
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0] == "a: done before (0.5000) [1 done, 0 running, 0 failed, 2 to go of 3; time left unknown]"
    )
    assert lines[1].startswith("b: running [1 done, 1 running, 0 failed, 1 to go of 3;")
    assert lines[2].startswith("b: test accuracy 0.7500 (10.0 s, resumed) [2 done, 0 running")
    assert lines[4] == "c: FAILED: boom [2 done, 0 running, 1 failed, 0 to go of 3; about 0 s left]"
