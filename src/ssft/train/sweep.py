"""Sweeps: a grid of overrides × seeds, one run directory each, resumable.

A finished run (its ``results.json`` exists) is read back instead of re-run; an interrupted one
(``checkpoint.pt`` but no results) is resumed from its checkpoint. So a sweep killed at any point
and started again loses at most the steps since the last checkpoint.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssft.config import load_config
from ssft.errors import ConfigError


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


def run_name(combo: dict[str, str], seed: int) -> str:
    parts = [f"{k.split('.')[-1]}={v}" for k, v in combo.items()] + [f"seed={seed}"]
    return re.sub(r"[^A-Za-z0-9=._,-]", "_", ",".join(parts))


def sweep(
    config: str | None,
    out: str | Path,
    *,
    grid: dict[str, list[str]],
    seeds: Sequence[int] = (0, 1, 2),
    overrides: Sequence[str] = (),
    verbose: bool = True,
) -> list[dict[str, Any]]:
    """Run every combination of ``grid`` for every seed (``seed`` and ``data.split_seed``)."""
    from ssft.train.loop import fit

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keys = list(grid)
    combos = [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(grid[k] for k in keys))]
    # Check every config before the first run, so a typo fails in a second, not after an hour.
    plans = []
    for combo in combos:
        for seed in seeds:
            sets = [
                *overrides,
                *(f"{k}={v}" for k, v in combo.items()),
                f"seed={seed}",
                f"data.split_seed={seed}",
            ]
            plans.append((out / run_name(combo, seed), load_config(config, sets)))
    rows = []
    for i, (run_dir, cfg) in enumerate(plans, 1):
        tag = f"[{i}/{len(plans)}] {run_dir.name}"
        if (run_dir / "results.json").exists():
            rows.append(json.loads((run_dir / "results.json").read_text()))
            if verbose:
                print(f"{tag}: done before ({rows[-1]['test_accuracy']:.4f})", flush=True)
            continue
        resume = (run_dir / "checkpoint.pt").exists()
        result = fit(None if resume else cfg, run_dir, resume=resume)
        rows.append(result.results)
        if verbose:
            r = result.results
            print(
                f"{tag}: test accuracy {r['test_accuracy']:.4f} "
                f"({r['train_seconds'] + r['extract_seconds']:.1f} s{', resumed' if resume else ''})",
                flush=True,
            )
    return rows
