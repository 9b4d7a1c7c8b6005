"""``ssft demo``: the whole pipeline offline on the bundled 8×8 digits, every method, one table.

The backbone is a DINOv2-architecture transformer with random weights (no download possible
offline), so the absolute numbers say little about pretrained models; the demo shows the moving
parts: few-label split, feature cache, each method's terms, result rows.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ssft.config import load_config

DEMO_METHODS: list[tuple[str, list[str]]] = [
    ("linear_probe", []),
    ("label_spreading", []),
    ("supervised", []),
    ("twinturbo", []),
    ("content_style", ["model.projector=identity"]),
]


def run_demo(out: Path, quick: bool = False, seeds: tuple[int, ...] = (0,)) -> list[dict[str, Any]]:
    from ssft.api import fit
    from ssft.methods import METHODS
    from ssft.report.tables import format_table

    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, extra in DEMO_METHODS:
        if name not in METHODS:
            continue
        for seed in seeds:
            sets = [f"method.name={name}", f"seed={seed}", f"data.split_seed={seed}", *extra]
            if quick:
                sets += ["train.steps=6"]
            cfg = load_config("demo", sets)
            run_dir = out / f"{name}-seed{seed}"
            if (run_dir / "results.json").exists():
                import json

                rows.append(json.loads((run_dir / "results.json").read_text()))
                continue
            t0 = time.perf_counter()
            result = fit(cfg, out=run_dir)
            r = result.results
            print(
                f"{name:<16} seed {seed}: test accuracy {r['test_accuracy']:.3f} ({time.perf_counter() - t0:.1f} s)"
            )
            rows.append(r)
    table = format_table(rows)
    print()
    print(table)
    (out / "summary.md").write_text(table + "\n")
    print(f"\nrun directories and summary.md in {out}")
    return rows
