"""One trial of ``ssft tune``: a config trained on dev-train and scored on dev-eval, per seed.

Each seed is an ordinary :func:`ssft.run.runner.fit` run on the development dataset (the feature
cache makes every run after the first skip the backbone). Its folder keeps ``config.yaml``,
``split.json`` and ``metrics.jsonl``; the accuracy is written as ``dev_results.json`` with every
``test`` key renamed ``dev``, and the weights are dropped, so a trial folder can never be taken
for a run scored on the test part (``ssft table`` and ``ssft evaluate`` do not read it).
"""

from __future__ import annotations

import json
import shutil
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssft.config import Config, from_dict, to_dict
from ssft.train.run_dir import write_json
from ssft.tune.dev_split import DevSplit

DEV_RESULTS = "dev_results.json"


@dataclass
class TrialScore:
    """Dev accuracy per seed and their mean (the trial's objective)."""

    accuracies: list[float]
    seconds: float
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def std(self) -> float:
        return statistics.stdev(self.accuracies) if len(self.accuracies) > 1 else 0.0


def with_seed(cfg: Config, seed: int) -> Config:
    """``cfg`` with ``seed`` and ``data.split_seed`` set to ``seed`` (as ``ssft sweep`` does), and
    no progress bars (a search runs many short runs)."""
    data = to_dict(cfg)
    data["seed"] = seed
    data["data"]["split_seed"] = seed
    data["train"]["progress"] = False
    return from_dict(data)


def _as_dev(results: dict[str, Any]) -> dict[str, Any]:
    return {k.replace("test", "dev"): v for k, v in results.items()}


def score_on_dev(cfg: Config, dev: DevSplit, seeds: Sequence[int], out: str | Path) -> TrialScore:
    """Train ``cfg`` on dev-train and score it on dev-eval for each seed; folders under ``out``.

    A seed whose ``dev_results.json`` exists is read back; a half-written seed folder (the search
    was killed during it) is started again.
    """
    from ssft.run.runner import fit

    out = Path(out)
    accs, runs, seconds = [], [], 0.0
    for seed in seeds:
        run_dir = out / f"seed={seed}"
        done = run_dir / DEV_RESULTS
        if done.is_file():
            r = json.loads(done.read_text())
        else:
            if run_dir.exists():
                shutil.rmtree(run_dir)
            result = fit(with_seed(cfg, seed), run_dir, dataset=dev.dataset)
            r = _as_dev(result.results)
            r["dev_split"] = "dev_split.json of the tune folder (indices into the original train part)"
            write_json(done, r)
            for name in ("results.json", "model.safetensors", "checkpoint.pt"):
                (run_dir / name).unlink(missing_ok=True)
        accs.append(float(r["dev_accuracy"]))
        seconds += float(r.get("total_seconds", 0.0))
        runs.append(r)
    return TrialScore(accs, seconds, runs)
