"""``python -m ssft.launch``: torchrun's options and the ssft command split apart; a SIGTERM ends
the job with one line, the checkpoint written and the resume command that works, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ssft
from ssft.distributed import resume_command
from ssft.launch import split_argv


def test_split_argv():
    assert split_argv(["--nproc-per-node", "2", "fit", "--config", "demo"]) == (
        ["--nproc-per-node", "2"],
        ["fit", "--config", "demo"],
    )
    assert split_argv(["--standalone", "extract", "--config", "fit"])[1] == ["extract", "--config", "fit"]
    with pytest.raises(SystemExit, match="no ssft command"):
        split_argv(["--nproc-per-node", "2"])


def test_the_resume_hint_names_the_launcher(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("SSFT_LAUNCHER", raising=False)
    assert resume_command("runs/x") == "torchrun --nproc-per-node 2 -m ssft fit --resume runs/x"
    monkeypatch.setenv("SSFT_LAUNCHER", "python -m ssft.launch --nproc-per-node 2")
    assert resume_command("runs/x") == "python -m ssft.launch --nproc-per-node 2 fit --resume runs/x"
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert resume_command("runs/x") == "ssft fit --resume runs/x"


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_the_printed_command_resumes(tmp_path: Path):
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "SSFT_CACHE": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join(
            [str(Path(ssft.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    run = tmp_path / "run"
    keys = ["train.steps=400", "train.checkpoint_every=5", "train.device=cpu", "train.progress=false"]
    cmd = [sys.executable, "-m", "ssft.launch", "--standalone", "--nproc-per-node", "2", "fit"]
    args = ["--config", "demo", "--out", str(run)] + [x for k in keys for x in ("--set", k)]
    p = subprocess.Popen([*cmd, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.perf_counter()
    while not (run / "checkpoint.pt").exists() and time.perf_counter() - t0 < 300:
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert "ssft.launch: stopped by SIGTERM" in err
    hint = "python -m ssft.launch --standalone --nproc-per-node 2 fit --resume"
    assert hint in err, err[-3000:]
    resumed = subprocess.run(
        [*cmd, "--resume", str(run)], env=env, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (run / "results.json").exists()
