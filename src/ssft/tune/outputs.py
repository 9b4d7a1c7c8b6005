"""What ``ssft tune`` writes: the trial tables, best.yaml / best.json, and the progress log."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssft.config import dump_yaml, load_config
from ssft.fileio import atomic_write_text
from ssft.train.run_dir import write_json


class Progress:
    """Lines to ``tune.log`` (always) and stdout (when verbose)."""

    def __init__(self, path: Path, verbose: bool) -> None:
        self.path, self.verbose = path, verbose

    def __call__(self, line: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with self.path.open("a") as f:
            f.write(f"{stamp}  {line}\n")
        if self.verbose:
            print(line, flush=True)


def counted(t: Any, optuna: Any) -> bool:
    fail = optuna.trial.TrialState.FAIL
    return t.state == optuna.trial.TrialState.COMPLETE or (t.state == fail and "error" in t.user_attrs)


def state(t: Any, optuna: Any) -> str:
    if t.state == optuna.trial.TrialState.FAIL:
        return "failed" if "error" in t.user_attrs else "interrupted"
    return str(t.state.name).lower()


def records(study: Any, optuna: Any) -> list[dict[str, Any]]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING):
            continue
        a = t.user_attrs
        rows.append(
            {
                "trial": int(a.get("shown_as", t.number)),  # a retry keeps its trial's number
                "study_trial": t.number,
                "state": state(t, optuna),
                "dev_accuracy": t.value,
                "dev_std": a.get("dev_std"),
                "dev_accuracies": a.get("dev_accuracies"),
                "seconds": a.get("seconds"),
                "overrides": a.get("overrides"),
                "retry_of": a.get("retry_of"),
                "error": a.get("error"),
                "params": dict(t.params),
            }
        )
    return rows


def write_tables(out: Path, rows: list[dict[str, Any]]) -> None:
    atomic_write_text(out / "trials.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    keys = sorted({k for r in rows for k in r["params"]})
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["trial", "state", "dev_accuracy", "dev_std", "seconds", *keys, "error"])
    for r in rows:
        acc = "" if r["dev_accuracy"] is None else f"{r['dev_accuracy']:.6f}"
        std = "" if r["dev_std"] is None else f"{r['dev_std']:.6f}"
        sec = "" if r["seconds"] is None else f"{r['seconds']:.1f}"
        w.writerow(
            [r["trial"], r["state"], acc, std, sec, *(r["params"].get(k, "") for k in keys), r["error"] or ""]
        )
    atomic_write_text(out / "trials.csv", buf.getvalue())


def write_best(
    out: Path,
    best: dict[str, Any],
    config: str | Path | None,
    overrides: Sequence[str],
    done: int,
    budget: int,
    counts: dict[str, int],
) -> None:
    """best.yaml: the best trial's full config, ready for ``ssft fit --config``; best.json: its numbers."""
    tuned = list(best["overrides"])
    cfg = load_config(config, [*overrides, *tuned])
    seeds = ", ".join(str(s) for s in json.loads((out / "tune.json").read_text())["seeds"])
    flags = " ".join(f"--set {o}" for o in tuned) or "(none: the defaults won)"
    header = (
        f"# ssft tune: best of {done} trials so far (budget {budget}): trial {best['trial']}, method {cfg.method.name},\n"
        f"# dev accuracy {best['dev_accuracy']:.4f} ± {best['dev_std'] or 0.0:.4f} over seeds {seeds}\n"
        f"# (scored on {counts['dev_eval_labels']} dev-eval labels carved from the training pool; the test part was never read).\n"
        f"# Use: ssft fit --config best.yaml --out RUN   (set data.labels_per_class, seed, ... with --set)\n"
        f"# Tuned keys, as overrides of the searched config: {flags}\n"
    )
    atomic_write_text(out / "best.yaml", header + dump_yaml(cfg))
    write_json(
        out / "best.json",
        {
            "trial": best["trial"],
            "dev_accuracy": best["dev_accuracy"],
            "dev_std": best["dev_std"],
            "dev_accuracies": best["dev_accuracies"],
            "overrides": tuned,
            "config": json.loads((out / "tune.json").read_text())["config"],
            "fixed_overrides": list(overrides),
        },
    )


def _short(text: str) -> str:
    key, sep, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        return text
    if not sep or value.strip().lstrip("-").isdigit():
        return text
    return f"{key}={number:.4g}"


def fmt_params(overrides: Sequence[str]) -> str:
    """Overrides for a log line, floats to 4 significant digits (best.yaml keeps every digit)."""
    return " ".join(_short(o) for o in overrides) or "(defaults)"


def best_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    ok = [r for r in rows if r["state"] == "complete"]
    if not ok:
        return None
    # Ties go to the earlier trial, so a resumed search never swaps an equal best.
    return max(ok, key=lambda r: (r["dev_accuracy"], -r["trial"]))
