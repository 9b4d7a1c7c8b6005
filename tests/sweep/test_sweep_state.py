"""A sweep folder's state, read from the folder alone: ``ssft sweep --status`` for an in-process
sweep (no scheduler jobs), whose runs are told apart by their files and their process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ssft.sweep.state import format_status, mark_running, read_state, record_plan, run_statuses


def test_record_plan_appends_new_run_names_once(tmp_path):
    assert read_state(tmp_path) == {"runs": [], "jobs": []}
    record_plan(tmp_path, ["a", "b"])
    record_plan(tmp_path, ["b", "c"])  # started again with a larger grid
    assert read_state(tmp_path) == {"runs": ["a", "b", "c"], "jobs": []}


def test_each_run_state_comes_from_its_files_and_its_process(tmp_path):
    record_plan(tmp_path, ["done", "failed", "running", "gone", "pending"])
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "results.json").write_text(json.dumps({"test_accuracy": 0.5}))
    (tmp_path / "failed").mkdir()
    (tmp_path / "failed" / "error.txt").write_text("DataError: no such file\nmore\n")
    mark_running(tmp_path / "running")  # this process: alive
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mark_running(tmp_path / "gone")
    info = json.loads((tmp_path / "gone" / "job.json").read_text())
    (tmp_path / "gone" / "job.json").write_text(json.dumps({**info, "pid": dead.pid}))

    statuses = run_statuses(tmp_path)
    assert [(s.name, s.state) for s in statuses] == [
        ("done", "done"),
        ("failed", "failed"),
        ("running", "running"),
        ("gone", "interrupted"),
        ("pending", "pending"),
    ]
    assert statuses[0].detail == "test accuracy 0.5000"
    assert statuses[1].detail == "DataError: no such file"
    assert statuses[2].detail == f"pid {os.getpid()}"

    text = format_status(tmp_path, statuses)
    head, *lines = text.splitlines()
    assert head == f"{tmp_path}: 5 runs: 1 done, 1 running, 1 failed, 1 interrupted, 1 pending"
    assert f"error: {tmp_path / 'failed' / 'error.txt'}" in text
    assert len(lines) == 6  # one per run, and the failed run's error file


def test_a_run_started_again_forgets_its_earlier_error(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "error.txt").write_text("boom\n")
    mark_running(run, {"job_id": "7", "cluster": "local"})
    assert not (run / "error.txt").exists()
    assert json.loads((run / "job.json").read_text())["job_id"] == "7"
