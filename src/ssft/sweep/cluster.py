"""A sweep's runs as scheduler jobs through ``submitit`` (SLURM, or local processes for tests).

Each job trains ``launcher.runs_per_job`` runs one after the other, exactly as the in-process
sweep does (finished runs read back, interrupted ones resumed from their checkpoint). The sweep
folder records every job (``sweep.json``), so submitting the same sweep again only sends the runs
that are neither finished nor held by a job that still runs, and ``ssft sweep --status OUT``
shows each run's state from any process while the jobs are out.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssft.sweep.grid import RunPlan, finished_row, plan_sweep, run_one, single_run
from ssft.sweep.launcher import LauncherConfig, import_submitit, make_executor
from ssft.sweep.state import (
    counts,
    format_status,
    job_alive,
    read_state,
    record_jobs,
    run_statuses,
)

#: The sweep folder's subfolder for submitit's job files and logs.
JOBS_FOLDER = "jobs"


def run_group(plans: list[RunPlan], cluster: str) -> dict[str, str]:
    """The body of one job: its runs one after the other; ``{run name: "done" | "failed"}``.

    A run that raises is recorded in its ``error.txt`` (with the traceback in the job's log) and
    the job goes on with its next run.
    """
    _, interrupted = single_run()
    submitit = import_submitit()
    try:
        job_id = str(submitit.JobEnvironment().job_id)
    except RuntimeError:  # called outside a job (a test, a debugger)
        job_id = None
    # The scheduler's warning before the time limit (SIGUSR2 under submitit) stops training as
    # SIGTERM does: the running run writes its checkpoint and the next submission resumes it.
    # No run starts after that warning.
    warned = {"time": False}

    def on_warning(signum: int, frame: Any) -> None:
        warned["time"] = True
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGUSR2, on_warning)
    outcome: dict[str, str] = {}
    for plan in plans:
        name = plan.run_dir.name
        if warned["time"]:
            print(f"{name}: not started (the job is near its time limit)", file=sys.stderr, flush=True)
            break
        if finished_row(plan) is not None:
            outcome[name] = "done"
            continue
        print(f"{name}: running", flush=True)
        try:
            outcome[name], message = run_one(plan, job={"job_id": job_id, "cluster": cluster})
        except interrupted:
            raise  # the time limit's SIGTERM: the checkpoint is written, the next submission resumes
        except Exception as e:
            traceback.print_exc()
            (plan.run_dir / "error.txt").write_text(f"{type(e).__name__}: {e}\n")
            outcome[name], message = "failed", str(e)
        if outcome[name] == "failed":  # the error log is where ssft sweep --status points
            print(f"{name}: failed: {message}", file=sys.stderr, flush=True)
        print(f"{name}: {outcome[name]}", flush=True)
    return outcome


def _groups(plans: Sequence[RunPlan], size: int) -> list[list[RunPlan]]:
    return [list(plans[i : i + size]) for i in range(0, len(plans), size)]


def submit_sweep(
    config: str | None,
    out: str | Path,
    *,
    grid: dict[str, list[str]],
    launcher: LauncherConfig,
    seeds: Sequence[int] = (0, 1, 2),
    overrides: Sequence[str] = (),
    wait: bool = True,
    verbose: bool = True,
) -> list[dict[str, Any]] | None:
    """Submit the sweep's unfinished runs as jobs; with ``wait``, follow them to the end and return
    the rows of every finished run (as :func:`ssft.sweep.grid.sweep`), else return ``None``."""
    out = Path(out)
    plans = plan_sweep(config, out, grid=grid, seeds=seeds, overrides=overrides)
    say = (lambda text: print(text, flush=True)) if verbose else (lambda text: None)

    todo, earlier = runs_to_submit(out, plans)
    busy = {r for j in earlier for r in j["runs"]}
    done_before = sum(finished_row(p) is not None for p in plans)
    for plan in todo:
        (plan.run_dir / "error.txt").unlink(missing_ok=True)  # its new job decides now
    groups = _groups(todo, launcher.runs_per_job)
    jobs: list[Any] = []
    if groups:
        executor = make_executor(launcher, out / JOBS_FOLDER)
        with executor.batch():
            jobs = [executor.submit(run_group, group, launcher.cluster) for group in groups]
        record_jobs(out, [_entry(job, group, launcher, out) for job, group in zip(jobs, groups, strict=True)])
    say(
        f"{len(plans)} runs: {done_before} done before, {len(todo)} submitted in {len(jobs)} "
        f"{launcher.cluster} job(s)"
        + (f", {len(busy)} still in {len(earlier)} earlier job(s)" if earlier else "")
        + f"; ssft sweep --status {out} shows their progress"
    )
    if not wait:
        return None
    try:
        _follow(out, jobs, earlier, launcher.poll_s, say)
    except KeyboardInterrupt:
        print(
            f"stopped waiting; jobs that still run go on (ssft sweep --status {out}); "
            "the same command again waits for them",
            file=sys.stderr,
        )
        raise
    _record_lost(out, plans, jobs)
    say(format_status(out, run_statuses(out, {str(j.job_id): False for j in jobs})))
    return [row for row in (finished_row(p) for p in plans) if row is not None]


def runs_to_submit(out: Path, plans: list[RunPlan]) -> tuple[list[RunPlan], list[dict[str, Any]]]:
    """The runs to send (neither finished nor held by a job that still runs), and the jobs of
    earlier submissions that still run (waited for, not sent again)."""
    earlier = [
        j
        for j in read_state(out).get("jobs", [])
        if any(not (out / r / "results.json").exists() for r in j["runs"]) and job_alive(j)
    ]
    busy = {r for j in earlier for r in j["runs"]}
    return [p for p in plans if finished_row(p) is None and p.run_dir.name not in busy], earlier


def _entry(job: Any, group: list[RunPlan], launcher: LauncherConfig, out: Path) -> dict[str, Any]:
    return {
        "job_id": str(job.job_id),
        "cluster": launcher.cluster,
        "host": socket.gethostname(),
        "folder": str(out / JOBS_FOLDER),
        "runs": [p.run_dir.name for p in group],
        "stdout": str(job.paths.stdout),
        "stderr": str(job.paths.stderr),
        "submitted": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _follow(out: Path, jobs: list[Any], earlier: list[dict[str, Any]], poll_s: float, say: Any) -> None:
    """Print each run's change of state and the counts, until no job of the sweep runs."""
    seen: dict[str, str] = {}
    while True:
        alive = {str(j.job_id): not j.done() for j in jobs}
        alive.update({str(j["job_id"]): job_alive(j) for j in earlier})
        statuses = run_statuses(out, alive)
        changed = [s for s in statuses if seen.get(s.name) != s.state and s.state != "pending"]
        for s in changed:
            seen[s.name] = s.state
        if changed:
            c = counts(statuses)
            tally = f"[{c['done']} done, {c['running']} running, {c['queued']} queued, {c['failed']} failed]"
            for s in changed:
                say(f"{s.name}: {s.state} {s.detail} {tally}".replace("  ", " "))
        if not any(alive.values()):
            return
        time.sleep(poll_s)


def _record_lost(out: Path, plans: list[RunPlan], jobs: list[Any]) -> None:
    """A run whose job ended without a result or an error (killed, out of memory, time limit)
    gets an ``error.txt`` naming the job, its state and its log."""
    by_run = {name: job for job in jobs for name in _runs_of(out, job)}
    for plan in plans:
        name = plan.run_dir.name
        job = by_run.get(name)
        if job is None or finished_row(plan) is not None or (plan.run_dir / "error.txt").exists():
            continue
        plan.run_dir.mkdir(parents=True, exist_ok=True)
        (plan.run_dir / "error.txt").write_text(
            f"the job {job.job_id} ended ({job.state}) before this run finished; "
            f"its log: {job.paths.stderr}\n"
        )


def _runs_of(out: Path, job: Any) -> list[str]:
    entry = next((j for j in read_state(out)["jobs"] if str(j["job_id"]) == str(job.job_id)), None)
    return entry["runs"] if entry else []
