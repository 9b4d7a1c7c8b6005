"""Concurrency and kill stress for ``benchmarks/stress.py``: real ``ssft fit`` processes on a tiny
config (the bundled digits, a random-weight DINOv2-architecture backbone)."""

from __future__ import annotations

import contextlib
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


#: Seconds each cache write waits in a run whose kill is aimed at that phase.
WAIT_S = {"assembly": 0.25, "extraction": 0.03}
#: Holds the ``sitecustomize`` that installs that wait in every process of such a run.
HOOK_DIR = Path(__file__).resolve().parent / "stress_hook"


def env(cache: Path) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "SSFT_CACHE": str(cache),
            "PYTHONPATH": str(ROOT / "src")}  # fmt: skip


def fit_args(variant: str) -> list[str]:
    return [*BASE, *[x for s in VARIANTS[variant] for x in ("--set", s)]]


def start(args: list[str], cache: Path, *, ranks: int = 1, slow: str | None = None) -> subprocess.Popen:
    """``ssft ARGS`` as one process, or under ``python -m ssft.launch`` with ``ranks`` CPU ranks.
    ``slow`` (``assembly`` or ``extraction``): each cache write of that phase waits ``WAIT_S`` (see
    ``stress_hook/``), so that a kill aimed at it lands inside it; results are unchanged."""
    launcher = (
        ["-m", "ssft"] if ranks == 1 else ["-m", "ssft.launch", "--standalone", f"--nproc-per-node={ranks}"]
    )
    e = env(cache)
    if slow:
        e["PYTHONPATH"] = f"{HOOK_DIR}{os.pathsep}{e['PYTHONPATH']}"
        e["STRESS_WAIT_ON"], e["STRESS_WAIT_S"] = slow, str(WAIT_S[slow])
    return subprocess.Popen([sys.executable, *launcher, *args], env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip


def kill_tree(p: subprocess.Popen) -> None:
    """SIGKILL a process and every descendant at once (torchrun starts its ranks in sessions of their
    own, so a process group does not reach them)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    todo, tree = [p.pid], []
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    p.wait()


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
    """SIGKILL ``n`` fixmatch runs at random moments (extraction, training, checkpoint writes and the
    assembly of a sharded entry, in turn), resume each, and compare with an uninterrupted run (of
    as many ranks); then check that no cache entry is marked complete without passing its checks
    and that no part of a sharded entry is left."""
    from ssft.features.validate import judge_entry, verify_checksums

    rng = random.Random(seed)
    refs = {"solo": outcome(work / "kill-ref"), "ddp": outcome(work / "kill-ref-ddp")}
    rows, phases = [], ("extraction", "training", "checkpoint", "assembly")
    for i in range(n):
        aim = phases[i % len(phases)]
        # Two ranks (a sharded extraction, assembled by rank 0) for the assembly and every other
        # extraction kill; one process otherwise.
        ranks = 2 if aim == "assembly" or (aim == "extraction" and (i // len(phases)) % 2) else 1
        run, cache = work / f"kill{i}" / "run", work / f"kill{i}" / "cache"
        slow = aim if aim in ("assembly", "extraction") else None
        p = start(["fit", *fit_args("fixmatch"), "--out", str(run)], cache, ranks=ranks, slow=slow)
        hit = _wait_for(aim, run, cache, p, rng)
        kill_tree(p)
        hit += " (2 ranks)" if ranks == 2 and hit == "extraction" else ""
        resumable = (run / "config.yaml").exists()
        args = (
            ["fit", "--resume", str(run)] if resumable else ["fit", *fit_args("fixmatch"), "--out", str(run)]
        )
        code, text = finish(start(args, cache, ranks=ranks))
        got, ref = outcome(run), refs["ddp" if ranks == 2 else "solo"]
        parts_left = (
            [e.name for e in cache.iterdir() if e.is_dir() and "-part" in e.name] if cache.is_dir() else []
        )
        half = []
        for entry in cache.iterdir() if cache.is_dir() else []:
            if entry.is_dir() and (entry / "complete.json").exists():
                meta = json.loads((entry / "meta.json").read_text())
                bad = judge_entry(entry, {})[1] or verify_checksums(entry, meta)
                if bad:
                    half.append(f"{entry.name}: {bad}")
        rows.append({"aimed": aim, "ranks": ranks, "hit": hit, "resume_exit": code, "equal": got == ref,
                     "bad_entries": half, "parts_left": parts_left,
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
    code, text = finish(
        start(
            ["fit", *fit_args("fixmatch"), "--out", str(work / "kill-ref-ddp")],
            work / "kill-ref-ddp-cache",
            ranks=2,
        )  # fmt: skip
    )
    if code:
        raise SystemExit(f"two-rank reference run failed:\n{text[-3000:]}")


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
            time.sleep(rng.uniform(0.0, 1.0))
            extracting = not all((e / "complete.json").exists() for e in _entries(cache))
            return "extraction" if extracting else "training"
        if aim == "training" and steps >= step:
            time.sleep(rng.uniform(0.0, 0.05))
            return "training"
        if aim == "checkpoint" and steps >= step and list(run.glob(".checkpoint.pt*.tmp")):
            return "checkpoint"
        if aim == "assembly" and _assembling(entries):
            time.sleep(rng.uniform(0.0, 2 * WAIT_S["assembly"]))
            return "assembly" if _assembling(entries) else "assembly (just after)"
        time.sleep(0.002 if aim == "checkpoint" and steps >= step else 0.02)
    return "end (too late)" if p.poll() is not None else "timeout"


def _entries(cache: Path) -> list[Path]:
    return [e for e in cache.iterdir() if e.is_dir()] if cache.is_dir() else []


def _assembling(entries: list[Path]) -> bool:
    """An entry is being assembled: it exists, incomplete, beside its complete parts."""
    for e in entries:
        part = e.parent / f"{e.name}-part0of2"
        if "-part" not in e.name and not (e / "complete.json").exists() and (part / "complete.json").exists():
            return True
    return False


def clean(work: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
