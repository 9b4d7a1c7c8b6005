"""``ssft sweep --launcher submitit``: runs as scheduler jobs (submitit's local executor here), a
failed job's runs alone sent again, the progress readable from the folder while jobs run."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from ssft.cli import main
from ssft.sweep.cluster import runs_to_submit, submit_sweep
from ssft.sweep.grid import plan_sweep
from ssft.sweep.launcher import launcher_config
from ssft.sweep.state import run_statuses

pytest.importorskip("submitit")

DEMO = {
    "base": "demo",
    "data": {"max_unlabeled": 100, "max_test": 100},
    "backbone": {"image_size": 16},
    "train": {"steps": 4, "batch_size": 16, "progress": False, "device": "cpu"},
    "cache": {"enabled": True},
}


def write(path, data):
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_jobs_run_the_sweep_and_a_resubmission_sends_only_the_failed_job(tmp_path, capsys):
    good = write(tmp_path / "digits.yaml", DEMO)
    emb = tmp_path / "emb.npz"  # missing at first: the jobs of this preset fail
    feats = write(
        tmp_path / "emb.yaml",
        {
            "data": {"name": "features", "path": str(emb), "holdout": 0.3},
            "backbone": {"name": "features:8"},
            "method": {"name": "knn"},
            "train": {"progress": False},
        },
    )
    out = tmp_path / "sweep"
    args = ["sweep", "--grid", f"config={good},{feats}", "--grid", "data.labels_per_class=1,2"]
    args += ["--seeds", "0", "--out", str(out), "--launcher", "submitit-local", "--runs-per-job", "2"]
    args += ["--set", "launcher.poll_s=0.2"]
    assert main(args) == 1  # the features runs failed
    text = capsys.readouterr().out
    state = json.loads((out / "sweep.json").read_text())
    assert [len(j["runs"]) for j in state["jobs"]] == [2, 2]  # 4 runs, 2 per job
    done = sorted(p.parent.name for p in out.glob("*/results.json"))
    failed = sorted(p.parent.name for p in out.glob("*/error.txt"))
    assert done == ["digits_k1_seed0", "digits_k2_seed0"] and failed == ["emb_k1_seed0", "emb_k2_seed0"]
    assert (
        "does not exist" in (out / "emb_k1_seed0" / "error.txt").read_text()
        or "emb.npz" in (out / "emb_k1_seed0" / "error.txt").read_text()
    )
    assert (out / "summary.md").is_file() and "digits" in (out / "summary.md").read_text()

    # the status, from the folder alone: each failed run points at its error and its job's log
    assert main(["sweep", "--status", str(out)]) == 0
    status = capsys.readouterr().out
    assert "4 runs: 2 done, 0 running, 2 failed" in status
    failed_job = next(j for j in state["jobs"] if "emb_k1_seed0" in j["runs"])
    assert f"log:   {failed_job['stderr']}" in status
    assert "emb_k1_seed0" in Path(failed_job["stderr"]).read_text()  # the log tells what happened
    assert "test accuracy" in text

    # the data appears; the same command sends the two failed runs, in one job, and no other
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 10)
    np.savez(emb, X=rng.normal(size=(30, 8)) + y[:, None], y=y)
    before = {n: (out / n / "results.json").stat().st_mtime_ns for n in done}
    assert main(args) == 0
    state = json.loads((out / "sweep.json").read_text())
    assert state["jobs"][-1]["runs"] == ["emb_k1_seed0", "emb_k2_seed0"] and len(state["jobs"]) == 3
    assert {n: (out / n / "results.json").stat().st_mtime_ns for n in done} == before
    assert not list(out.glob("*/error.txt"))
    assert [s.state for s in run_statuses(out)] == ["done"] * 4
    assert len((out / "summary.md").read_text().strip().splitlines()) == 2 + 4


def test_a_killed_job_shows_as_failed_with_its_log_and_is_sent_again(tmp_path):
    cfg = write(tmp_path / "long.yaml", {**DEMO, "train": {**DEMO["train"], "steps": 100000}})
    launcher = launcher_config(None, ["launcher.poll_s=0.2"], "submitit-local")
    out = tmp_path / "sweep"
    grid = {"data.labels_per_class": ["1"]}
    assert submit_sweep(cfg, out, grid=grid, launcher=launcher, seeds=[0], wait=False, verbose=False) is None
    job_file = out / "k1_seed0" / "job.json"
    deadline = time.time() + 60
    while time.time() < deadline and not job_file.exists():
        time.sleep(0.1)
    [status] = run_statuses(out)
    assert status.state == "running" and status.log and status.log.endswith(".err")
    plans = plan_sweep(cfg, out, grid=grid, seeds=[0])
    assert runs_to_submit(out, plans)[0] == []  # held by a job that runs: not sent twice

    os.kill(json.loads(job_file.read_text())["pid"], signal.SIGKILL)
    deadline = time.time() + 30
    while time.time() < deadline and run_statuses(out)[0].state == "running":
        time.sleep(0.1)
    [status] = run_statuses(out)
    assert status.state == "failed" and "ended" in status.detail and status.log is not None
    assert [p.run_dir.name for p in runs_to_submit(out, plans)[0]] == ["k1_seed0"]


def test_bad_launcher_input_gets_one_clear_message(tmp_path, monkeypatch):
    import sys

    from ssft.errors import SsftError

    monkeypatch.setitem(sys.modules, "submitit", None)  # not installed
    with pytest.raises(SsftError, match=r"pip install 'ssft\[submitit\]'"):
        submit_sweep(
            None, tmp_path, grid={"method.name": ["knn"]}, launcher=launcher_config(None, [], "submitit")
        )
    assert main(["sweep", "--status", str(tmp_path / "nowhere")]) == 2
