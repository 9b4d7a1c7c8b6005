"""A sweep's state on disk, readable at any time: which runs are done, running, queued or failed.

Everything lives in the sweep folder, so ``ssft sweep --status OUT`` works from any process (a
login node while the jobs are out on the cluster, say):

* ``OUT/sweep.json``: the planned run names and, for a scheduler, every job submitted (its id, its
  runs and its log files);
* ``OUT/<run>/results.json`` (done), ``OUT/<run>/error.txt`` (failed);
* ``OUT/<run>/job.json``: written when a run starts: host, process id and scheduler job.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssft.fileio import atomic_write_text

STATE_FILE = "sweep.json"
#: SLURM job states in which a job may still run its runs.
ALIVE_STATES = {
    "PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING", "SUSPENDED",
    "REQUEUE_HOLD", "REQUEUE_FED", "SIGNALING", "STAGE_OUT", "UNKNOWN", "READY",
}  # fmt: skip


def read_state(out: Path) -> dict[str, Any]:
    path = Path(out) / STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else {"runs": [], "jobs": []}


def write_state(out: Path, state: dict[str, Any]) -> None:
    atomic_write_text(Path(out) / STATE_FILE, json.dumps(state, indent=2) + "\n")


def record_plan(out: Path, names: list[str]) -> None:
    """Keep the sweep's run names (new ones appended: a sweep started again with a larger grid)."""
    state = read_state(out)
    state["runs"] = list(dict.fromkeys([*state.get("runs", []), *names]))
    state.setdefault("jobs", [])
    write_state(out, state)


def record_jobs(out: Path, jobs: list[dict[str, Any]]) -> None:
    state = read_state(out)
    state["jobs"] = [*state.get("jobs", []), *jobs]
    write_state(out, state)


def mark_running(run_dir: Path, job: dict[str, Any] | None = None) -> None:
    """Write ``job.json``: this run is training now, here, under ``job`` (a scheduler job or none)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "error.txt").unlink(missing_ok=True)  # an earlier attempt's error no longer holds
    info = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **(job or {}),
    }
    atomic_write_text(run_dir / "job.json", json.dumps(info, indent=2) + "\n")


def pid_alive(pid: int, host: str | None = None) -> bool | None:
    """Whether process ``pid`` still runs; ``None`` when it ran on another host (cannot tell)."""
    if host is not None and host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child not yet reaped by its parent is a zombie: it runs no more
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def job_state(job: dict[str, Any]) -> str:
    """The scheduler's word on a submitted job: ``RUNNING``, ``COMPLETED``, ``FAILED``, ...

    Local jobs are processes of this host (dead: ``ENDED``); SLURM jobs are asked of ``sacct``
    through submitit.
    """
    if job.get("cluster") == "local":
        alive = pid_alive(int(job["job_id"]), job.get("host"))
        return "UNKNOWN" if alive is None else ("RUNNING" if alive else "ENDED")
    from ssft.sweep.launcher import import_submitit

    submitit = import_submitit()
    return str(submitit.SlurmJob(folder=job["folder"], job_id=str(job["job_id"])).state).upper()


def job_alive(job: dict[str, Any]) -> bool:
    return job_state(job) in ALIVE_STATES


@dataclass
class RunStatus:
    """One run's state: ``done``, ``running``, ``queued``, ``failed``, ``interrupted`` or ``pending``."""

    name: str
    state: str
    detail: str = ""
    log: str | None = None  # the scheduler's log of the job that ran (or runs) it


def _last_job(jobs: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((j for j in reversed(jobs) if name in j.get("runs", [])), None)


def run_statuses(out: Path, alive: dict[str, bool] | None = None) -> list[RunStatus]:
    """The state of every planned run of the sweep in ``out``.

    ``alive`` maps job ids to whether they still run, where the caller knows better than the
    scheduler (the process that submitted them); other jobs are looked up.
    """
    out = Path(out)
    state = read_state(out)
    jobs = state.get("jobs", [])
    known = dict(alive or {})

    def is_alive(job: dict[str, Any]) -> bool:
        key = str(job["job_id"])
        if key not in known:
            known[key] = job_alive(job)
        return known[key]

    statuses = []
    for name in state.get("runs", []):
        run = out / name
        job = _last_job(jobs, name)
        log = job.get("stderr") if job else None
        if (run / "results.json").exists():
            acc = json.loads((run / "results.json").read_text()).get("test_accuracy")
            statuses.append(RunStatus(name, "done", f"test accuracy {acc:.4f}" if acc is not None else ""))
            continue
        started = json.loads((run / "job.json").read_text()) if (run / "job.json").is_file() else {}
        if (run / "error.txt").exists():  # removed when the run starts again, so never stale
            message = (run / "error.txt").read_text().strip().splitlines()
            statuses.append(RunStatus(name, "failed", message[0] if message else "", log))
        elif job is not None and is_alive(job):
            here = str(started.get("job_id")) == str(job["job_id"])
            where = f"job {job['job_id']}" + (f" on {started.get('host')}" if here else "")
            statuses.append(RunStatus(name, "running" if here else "queued", where, log))
        elif job is not None:
            detail = f"job {job['job_id']} ended ({job_state(job)}) before the run finished"
            statuses.append(RunStatus(name, "failed", detail, log))
        elif started and not job:
            # an in-process sweep (no scheduler): its process tells whether it still trains
            alive = pid_alive(int(started["pid"]), started.get("host"))
            statuses.append(
                RunStatus(name, "interrupted" if alive is False else "running", f"pid {started['pid']}")
            )
        else:
            statuses.append(RunStatus(name, "pending"))
    return statuses


def counts(statuses: list[RunStatus]) -> dict[str, int]:
    out = {k: 0 for k in ("done", "running", "queued", "failed", "interrupted", "pending")}
    for s in statuses:
        out[s.state] += 1
    return out


def format_status(out: Path, statuses: list[RunStatus]) -> str:
    """One summary line, then one line per run; failed runs point at their error and job log."""
    c = counts(statuses)
    head = ", ".join(f"{v} {k}" for k, v in c.items() if v or k in ("done", "running", "failed"))
    lines = [f"{out}: {len(statuses)} runs: {head}"]
    width = max((len(s.name) for s in statuses), default=0)
    for s in statuses:
        line = f"  {s.name:<{width}}  {s.state:<11} {s.detail}".rstrip()
        if s.state == "failed":
            if (Path(out) / s.name / "error.txt").exists():
                line += f"\n  {'':<{width}}  error: {Path(out) / s.name / 'error.txt'}"
            if s.log:
                line += f"\n  {'':<{width}}  log:   {s.log}"
        lines.append(line)
    return "\n".join(lines)
