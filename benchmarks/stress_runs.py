"""Concurrency and kill stress for ``benchmarks/stress.py``: real ``ssft fit`` processes on a tiny
config (the bundled digits, a random-weight DINOv2-architecture backbone)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import ROOT

#: The tiny run every stress case starts: strong and weak views, so the FixMatch family shares
#: three cache entries (train, test, strong view) between its members.
BASE = ["--config", "demo", "--set", "train.steps=24", "--set", "train.log_every=1",
        "--set", "train.checkpoint_every=1", "--set", "cache.strong_views=1", "--set", "data.max_test=200",
        "--set", "train.device=cpu", "--set", "train.progress=false"]  # fmt: skip
#: Four FixMatch-family runs that need the same entries.
VARIANTS = {
    "fixmatch": ["method.name=fixmatch"],
    "softmatch": ["method.name=softmatch"],
    "fixmatch+supcon": ["method.name=fixmatch", "method.lambda_supcon=0.5"],
    "softmatch+supcon": ["method.name=softmatch", "method.lambda_supcon=0.5"],
}


def env(cache: Path) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "SSFT_CACHE": str(cache),
            "PYTHONPATH": str(ROOT / "src")}  # fmt: skip


def fit_args(variant: str) -> list[str]:
    return [*BASE, *[x for s in VARIANTS[variant] for x in ("--set", s)]]


def start(args: list[str], cache: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ssft", *args],
        env=env(cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def finish(p: subprocess.Popen) -> tuple[int, str]:
    out = p.communicate(timeout=900)[0].decode(errors="replace")
    return p.returncode, out


def outcome(run: Path) -> dict[str, Any] | None:
    """What must match between two runs of one config: results and every logged term."""
    try:
        res = json.loads((run / "results.json").read_text())
        metrics = (run / "metrics.jsonl").read_text()
    except (OSError, ValueError):
        return None
    return {"acc": res["test_accuracy"], "per_class": res["per_class_accuracy"], "metrics": metrics}


def solo_runs(work: Path) -> dict[str, dict[str, Any] | None]:
    """Each variant alone, on its own empty cache: the reference of every comparison."""
    out = {}
    for name in VARIANTS:
        run = work / "solo" / name.replace("+", "_")
        code, text = finish(
            start([*["fit"], *fit_args(name), "--out", str(run)], work / "solo" / f"cache-{name}")
        )
        if code:
            raise SystemExit(f"solo run {name} failed:\n{text[-3000:]}")
        out[name] = outcome(run)
    return out


def concurrency(work: Path, solo: dict[str, Any], reps: int) -> dict[str, Any]:
    """``reps`` times: the four variants started together on one empty shared cache."""
    finished = identical = 0
    failures: list[str] = []
    for r in range(reps):
        cache = work / f"conc{r}" / "cache"
        procs = {
            name: start(
                ["fit", *fit_args(name), "--out", str(work / f"conc{r}" / name.replace("+", "_"))], cache
            )
            for name in VARIANTS
        }
        for name, p in procs.items():
            code, text = finish(p)
            got = outcome(work / f"conc{r}" / name.replace("+", "_"))
            finished += code == 0 and got is not None
            identical += got is not None and got == solo[name]
            if code or got != solo[name]:
                failures.append(f"rep {r} {name}: exit {code}; {text.strip().splitlines()[-1:]}")
    return {"runs": reps * len(VARIANTS), "finished": finished, "identical": identical, "failures": failures}


def submitit_sweep(work: Path, solo: dict[str, Any]) -> dict[str, Any]:
    """The same four variants as a ``submitit-local`` sweep of four parallel one-run jobs."""
    try:
        import submitit  # noqa: F401
    except ImportError:
        return {"skipped": "submitit is not installed"}
    out, cache = work / "sweep", work / "sweep-cache"
    args = ["sweep", *BASE, "--grid", "method.name=fixmatch,softmatch", "--grid", "method.lambda_supcon=0,0.5",
            "--seeds", "0", "--launcher", "submitit-local", "--runs-per-job", "1", "--out", str(out),
            "--set", "launcher.poll_s=0.5"]  # fmt: skip
    code, text = finish(start(args, cache))
    finished = identical = 0
    for res in sorted(out.glob("*/results.json")):
        cfg = (res.parent / "config.yaml").read_text()
        name = "softmatch" if "name: softmatch" in cfg else "fixmatch"
        name += "+supcon" if "lambda_supcon: 0.5" in cfg else ""
        got = outcome(res.parent)
        finished += got is not None
        identical += got == solo[name]
    return {"runs": 4, "exit": code, "finished": finished, "identical": identical, "tail": text[-500:]}


def kills(work: Path, n: int, seed: int) -> dict[str, Any]:
    """SIGKILL ``n`` fixmatch runs at random moments (extraction, training, checkpoint writes, in
    turn), resume each, and compare with an uninterrupted run; then check that no cache entry is
    marked complete without passing its checks."""
    from ssft.features.validate import judge_entry, verify_checksums

    rng = random.Random(seed)
    ref = outcome(work / "kill-ref")
    rows, phases = [], ("extraction", "training", "checkpoint")
    for i in range(n):
        aim = phases[i % 3]
        run, cache = work / f"kill{i}" / "run", work / f"kill{i}" / "cache"
        p = start(["fit", *fit_args("fixmatch"), "--out", str(run)], cache)
        hit = _wait_for(aim, run, cache, p, rng)
        p.send_signal(signal.SIGKILL)
        p.wait()
        resumable = (run / "config.yaml").exists()
        args = (
            ["fit", "--resume", str(run)] if resumable else ["fit", *fit_args("fixmatch"), "--out", str(run)]
        )
        code, text = finish(start(args, cache))
        got = outcome(run)
        half = []
        for entry in cache.iterdir() if cache.is_dir() else []:
            if entry.is_dir() and (entry / "complete.json").exists():
                meta = json.loads((entry / "meta.json").read_text())
                bad = judge_entry(entry, {})[1] or verify_checksums(entry, meta)
                if bad:
                    half.append(f"{entry.name}: {bad}")
        rows.append({"aimed": aim, "hit": hit, "resume_exit": code, "equal": got == ref, "bad_entries": half,
                     "error": None if code == 0 else text.strip().splitlines()[-1:]})  # fmt: skip
    return {"kills": n, "equal": sum(r["equal"] for r in rows), "rows": rows}


def reference(work: Path) -> None:
    """The uninterrupted fixmatch run (``kill-ref``, its cache ``kill-ref-cache``) that the kill,
    corruption and disk-full cases start from or compare with."""
    code, text = finish(
        start(["fit", *fit_args("fixmatch"), "--out", str(work / "kill-ref")], work / "kill-ref-cache")
    )
    if code:
        raise SystemExit(f"reference run failed:\n{text[-3000:]}")


def _wait_for(aim: str, run: Path, cache: Path, p: subprocess.Popen, rng: random.Random) -> str:
    """Wait until the run is in phase ``aim`` (plus a random delay), and say where it was."""
    deadline = time.time() + 300
    step = rng.randint(2, 20)
    while time.time() < deadline and p.poll() is None:
        entries = [e for e in cache.iterdir() if e.is_dir()] if cache.is_dir() else []
        steps = (
            len((run / "metrics.jsonl").read_text().splitlines()) if (run / "metrics.jsonl").exists() else 0
        )
        if aim == "extraction" and entries and not all((e / "complete.json").exists() for e in entries):
            time.sleep(rng.uniform(0.0, 1.5))
            return "extraction" if not (run / "checkpoint.pt").exists() else "training"
        if aim == "training" and steps >= step:
            time.sleep(rng.uniform(0.0, 0.05))
            return "training"
        if aim == "checkpoint" and steps >= step and list(run.glob(".checkpoint.pt*.tmp")):
            return "checkpoint"
        time.sleep(0.002 if aim == "checkpoint" and steps >= step else 0.02)
    return "end (too late)" if p.poll() is not None else "timeout"


def clean(work: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
