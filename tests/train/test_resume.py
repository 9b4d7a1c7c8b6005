"""Interrupt and resume for real: SIGKILL a training subprocess at a random step, resume it, and
get exactly the metrics of an uninterrupted run; SIGTERM writes a checkpoint and exits 130;
a torn checkpoint is refused; a killed sweep resumes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ssft.errors import TrainingError

STEPS = 40
ARGS = [
    "--config", "demo",
    "--set", "method.name=twinturbo",  # discriminator optimiser and sampler state must survive too
    "--set", f"train.steps={STEPS}",
    "--set", "train.batch_size=16",
    "--set", "data.labels_per_class=2",
    "--set", "train.log_every=1",
    "--set", "train.checkpoint_every=1",
    "--set", "train.progress=false",
    "--set", "train.device=cpu",
]  # fmt: skip


def ssft(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "ssft.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **kw,
    )


def finish(p: subprocess.Popen, expect: int = 0) -> str:
    out = p.communicate(timeout=300)[0].decode()
    assert p.returncode == expect, out
    return out


def lines(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def wait_for_step(run: Path, step: int, p: subprocess.Popen) -> None:
    deadline = time.time() + 240
    while time.time() < deadline:
        if p.poll() is not None:
            pytest.fail(f"the run ended before step {step}: {p.communicate()[0].decode()[-2000:]}")
        try:
            if len((run / "metrics.jsonl").read_text().splitlines()) >= step:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    pytest.fail("timed out waiting for the run")


def test_sigkill_at_a_random_step_then_resume_is_exact(tmp_path):
    ref = tmp_path / "reference"
    finish(ssft("fit", *ARGS, "--out", str(ref)))
    kill_at = random.Random(os.urandom(8)).randint(3, STEPS - 5)
    run = tmp_path / "killed"
    p = ssft("fit", *ARGS, "--out", str(run))
    wait_for_step(run, kill_at, p)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not (run / "results.json").exists(), "the kill came too late to test anything"
    killed_after = len(lines(run))
    finish(ssft("fit", "--resume", str(run)))
    a, b = lines(ref), lines(run)
    msg = f"killed after step {killed_after} (aimed at {kill_at})"
    assert [x["step"] for x in b] == list(range(1, STEPS + 1)), msg
    for x, y in zip(a, b, strict=True):
        assert x == y, msg  # every logged term, bit for bit
    ra = json.loads((ref / "results.json").read_text())
    rb = json.loads((run / "results.json").read_text())
    assert ra["test_accuracy"] == rb["test_accuracy"], msg
    assert ra["per_class_accuracy"] == rb["per_class_accuracy"], msg


def test_sigterm_checkpoints_and_resumes(tmp_path):
    run = tmp_path / "run"
    p = ssft("fit", *ARGS, "--set", "train.checkpoint_every=0", "--out", str(run))
    wait_for_step(run, 5, p)
    p.send_signal(signal.SIGTERM)
    out = finish(p, expect=130)
    assert "--resume" in out and (run / "checkpoint.pt").is_file()
    finish(ssft("fit", "--resume", str(run)))
    assert [x["step"] for x in lines(run)] == list(range(1, STEPS + 1))


def test_torn_checkpoint_is_refused(tmp_path):
    from ssft.train.checkpoint import load_checkpoint

    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(TrainingError, match="unreadable.*delete it"):
        load_checkpoint(bad)


def test_killed_sweep_resumes(tmp_path):
    out = tmp_path / "sweep"
    args = ["sweep", "--config", "demo", "--grid", "data.labels_per_class=1,2", "--seeds", "0,1"]
    args += ["--set", "train.steps=30", "--set", "train.progress=false", "--set", "train.checkpoint_every=1"]
    p = ssft(*args, "--out", str(out))
    deadline = time.time() + 240
    while time.time() < deadline and len(list(out.glob("*/results.json"))) < 2:
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    done_before = len(list(out.glob("*/results.json")))
    text = finish(ssft(*args, "--out", str(out)))
    assert len(list(out.glob("*/results.json"))) == 4
    assert text.count("done before") >= done_before


def test_a_checkpoint_of_the_older_layout_is_refused_by_name(tmp_path):
    """A checkpoint written before the trainer kept one entry per part (flat ``lb_stream``,
    ``log_sums``, ...) is refused with one clear line, not a KeyError from deep inside."""
    import torch

    from ssft.config import load_config
    from ssft.run.runner import fit
    from ssft.train.checkpoint import save_checkpoint

    keys = ["train.steps=4", "train.progress=false", "train.device=cpu", f"cache.dir={tmp_path / 'c'}"]
    r = fit(load_config("demo", keys), tmp_path / "run")
    path = r.run_dir / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    old = {k: v for k, v in state.items() if k not in ("batch_plan", "metrics_window", "validator")}
    old.update(lb_stream=state["batch_plan"]["lb_stream"], log_sums={}, log_count=0)
    save_checkpoint(path, old)
    (r.run_dir / "results.json").unlink()
    with pytest.raises(
        TrainingError, match="has no batch_plan, metrics_window, validator: it was written by another"
    ):
        fit(None, r.run_dir, resume=True)
