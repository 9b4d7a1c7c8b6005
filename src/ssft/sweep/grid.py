"""Sweeps: a grid of overrides × seeds, one run directory each, resumable.

A finished run (its ``results.json`` exists) is read back instead of re-run; an interrupted one
(``checkpoint.pt`` but no results) is resumed from its checkpoint. So a sweep killed at any point
and started again loses at most the steps since the last checkpoint.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ssft.config import META_KEYS, Config, load_config, load_source
from ssft.errors import ConfigError, SsftError

#: The grid key that varies the preset itself rather than one of its keys.
CONFIG_KEY = "config"


def shared_settings(config: str | Path) -> list[str]:
    """A grid preset's own keys as ``key=value`` overrides (its ``base`` merged, meta keys dropped)."""
    data = {k: v for k, v in load_source(config).items() if k not in META_KEYS}

    def flat(prefix: str, value: Any) -> list[str]:
        if isinstance(value, dict):
            return [item for k, v in value.items() for item in flat(f"{prefix}{k}.", v)]
        return [
            f"{prefix[:-1]}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"
        ]

    return flat("", data)


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``["method.name=a,b", "data.labels_per_class=1,4"]`` -> ``{key: [values]}``."""
    grid: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"grid entry {item!r} must look like key=v1,v2,...")
        key, values = item.split("=", 1)
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not vals:
            raise ConfigError(f"grid entry {item!r} has no values")
        grid[key.strip()] = vals
    return grid


def legacy_run_name(combo: dict[str, str], seed: int) -> str:
    """The folder name of earlier versions (``name=supervised,labels_per_class=1,seed=0``), kept so
    a sweep started by them still resumes."""
    parts = [f"{k.split('.')[-1]}={v}" for k, v in combo.items()] + [f"seed={seed}"]
    return re.sub(r"[^A-Za-z0-9=._,-]", "_", ",".join(parts))


#: Keys whose value alone names them in a folder name, and short prefixes for common ones.
_VALUE_ONLY = ("method.name", "data.name", "backbone.name", CONFIG_KEY)
_SHORT = {"data.labels_per_class": "k", "data.val_per_class": "val", "train.steps": "steps"}


def run_name(combo: dict[str, str], seed: int) -> str:
    """A readable folder name: ``supervised_k1_seed0``, ``twinturbo_k4_lr0.001_seed2``."""
    parts = []
    for k, v in combo.items():
        if k in _VALUE_ONLY:
            parts.append(re.sub(r"\.ya?ml$", "", v.split(":", 1)[-1].rstrip("/").split("/")[-1]))
        elif k in _SHORT:
            parts.append(f"{_SHORT[k]}{v}")
        else:
            parts.append(f"{k.split('.')[-1]}-{v}")
    parts.append(f"seed{seed}")
    return re.sub(r"[^A-Za-z0-9._-]", "-", "_".join(parts)).lstrip(".") or "run"


def run_names(combos: Sequence[dict[str, str]], seeds: Sequence[int]) -> list[str]:
    """Readable names for every (combo, seed), or the full legacy names when two would collide."""
    short = [run_name(c, s) for c in combos for s in seeds]
    if len(set(short)) == len(short):
        return short
    return [legacy_run_name(c, s) for c in combos for s in seeds]


@dataclass
class RunPlan:
    """One point of a sweep: its run directory, its resolved config and the grid values behind it."""

    run_dir: Path
    cfg: Config
    combo: dict[str, str]


def plan_sweep(
    config: str | None,
    out: str | Path,
    *,
    grid: dict[str, list[str]],
    seeds: Sequence[int] = (0, 1, 2),
    overrides: Sequence[str] = (),
) -> list[RunPlan]:
    """Every (grid combination, seed) of a sweep, each config loaded (so a typo fails before the
    first run), and the run names written to ``OUT/sweep.json`` for ``ssft sweep --status``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keys = list(grid)
    combos = [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(grid[k] for k in keys))]
    plans = []
    shared = shared_settings(config) if CONFIG_KEY in grid and config is not None else []
    names = iter(run_names(combos, seeds))
    for combo in combos:
        base = combo.get(CONFIG_KEY, config)
        for seed in seeds:
            name = next(names)
            if (out / legacy_run_name(combo, seed)).is_dir() and not (out / name).exists():
                name = legacy_run_name(combo, seed)
            sets = [
                *shared,
                *overrides,
                *(f"{k}={v}" for k, v in combo.items() if k != CONFIG_KEY),
                f"seed={seed}",
                f"data.split_seed={seed}",
            ]
            plans.append(RunPlan(out / name, load_config(base, sets), combo))
    from ssft.sweep.state import record_plan

    record_plan(out, [p.run_dir.name for p in plans])
    return plans


def single_run() -> tuple[Callable[..., Any], type[SsftError]]:
    """The single-run ``fit`` and the ``Interrupted`` error it raises when stopped by a signal.

    The only place a sweep names the training loop's module, imported at call time so that
    planning a sweep (or reading its status) does not load torch.
    """
    from ssft.errors import Interrupted
    from ssft.run.runner import fit

    return fit, Interrupted


def run_one(plan: RunPlan, job: dict[str, Any] | None = None) -> tuple[str, dict[str, Any] | str]:
    """Train (or resume) one run of a sweep: ``("done", results)`` or ``("failed", message)``.

    A run that fails with an :class:`SsftError` is recorded in its ``error.txt``; ``job``
    (where and under which scheduler job it runs) goes to its ``job.json`` while it trains, so
    ``ssft sweep --status`` can tell a running run from a lost one.
    """
    from ssft.sweep.state import mark_running

    fit, interrupted = single_run()

    run_dir = plan.run_dir
    resume = (run_dir / "checkpoint.pt").exists()
    mark_running(run_dir, job)
    try:
        row = dict(fit(None if resume else plan.cfg, run_dir, resume=resume).results)
    except SsftError as e:
        if isinstance(e, interrupted):
            raise
        # One bad run does not end the sweep: it is recorded, reported and skipped.
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "error.txt").write_text(f"{type(e).__name__}: {e}\n")
        return "failed", str(e)
    (run_dir / "error.txt").unlink(missing_ok=True)
    return "done", row


def finished_row(plan: RunPlan) -> dict[str, Any] | None:
    """The results of a finished run (tagged with its grid preset), or ``None``."""
    path = plan.run_dir / "results.json"
    if not path.exists():
        return None
    row = json.loads(path.read_text())
    if CONFIG_KEY in plan.combo:
        row[CONFIG_KEY] = plan.combo[CONFIG_KEY]  # which preset of the grid the run came from
    return row


def sweep(
    config: str | None,
    out: str | Path,
    *,
    grid: dict[str, list[str]],
    seeds: Sequence[int] = (0, 1, 2),
    overrides: Sequence[str] = (),
    verbose: bool = True,
) -> list[dict[str, Any]]:
    """Run every combination of ``grid`` for every seed (``seed`` and ``data.split_seed``), one
    after the other in this process (``ssft.sweep.cluster`` sends them to a scheduler).

    The grid key ``config`` varies the preset or YAML file itself (one dataset per preset, say):
    each run starts from its grid value, then the keys of ``config`` (the grid preset's own
    settings, shared by every run) apply on top, then ``overrides``, then the other grid keys.
    """
    from ssft.sweep.progress import SweepProgress

    plans = plan_sweep(config, out, grid=grid, seeds=seeds, overrides=overrides)
    rows = []
    progress = SweepProgress(len(plans), verbose=verbose)
    for plan in plans:
        name = plan.run_dir.name
        row = finished_row(plan)
        if row is not None:
            progress.skipped(name, row["test_accuracy"])
            rows.append(row)
            continue
        resume = (plan.run_dir / "checkpoint.pt").exists()
        progress.start(name)
        status, outcome = run_one(plan)
        if status == "failed":
            progress.failed(name, str(outcome))
            continue
        assert isinstance(outcome, dict)
        progress.finished(
            name,
            outcome["test_accuracy"],
            resumed=resume,
            extract_seconds=outcome.get("extract_seconds", 0.0),
        )
        row = finished_row(plan)
        rows.append(row if row is not None else outcome)
    return rows
