"""The content-style paper's grid on real features: ImageNet-pretrained EfficientNet-Lite0.

    python benchmarks/grid_effnet.py --out runs/bench/grid            # frozen grid + trainable grid
    python benchmarks/grid_effnet.py --part frozen                    # one of them

Two ``ssft sweep`` presets, run from the repository root (they read ../shared/data):

* ``grid-effnet-frozen``: MNIST, white- and yellow-striped MNIST, CIFAR-10 (each a fixed 20 %
  held out as the test part) × supervised, twinturbo, content_style, linear_probe,
  label_spreading × k = 1, 4, 10, 25 × seeds 0, 1, 2; frozen backbone at 128 px, features cached.
* ``grid-effnet-trainable``: yellow-striped MNIST and CIFAR-10 × supervised, twinturbo,
  content_style × k = 4, 25 × frozen / last 2 stages trained, at 64 px (CPU budget), 150 steps.

Every method runs at its shipped defaults. Writes ``benchmarks/results/grid_effnet.{json,md}``
and the figure ``benchmarks/results/grid_effnet.png`` (test error against labelled samples).
Resumable: finished runs are read back, interrupted ones resume.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, ROOT, require_shared, save  # noqa: E402
from ssft.config import preset_grid  # noqa: E402
from ssft.report.figures import error_vs_labels  # noqa: E402
from ssft.report.tables import format_table, summarize  # noqa: E402
from ssft.sweep.grid import sweep  # noqa: E402

DATASET = {
    "mnist-effnet": "MNIST",
    "mnist-white-effnet": "MNIST, white stripes",
    "mnist-yellow-effnet": "MNIST, yellow stripes",
    "cifar10-effnet": "CIFAR-10",
}
PARTS = {"frozen": "grid-effnet-frozen", "trainable": "grid-effnet-trainable"}


def label(row: dict) -> str:
    mode = "frozen" if row["frozen"] else "trainable"
    budget = ", 150 steps" if row["setting"] == "trainable" else ""
    return f"{row['method']} ({mode}{budget}, {row['image_size']} px)"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/bench/grid")
    p.add_argument("--part", choices=[*PARTS, "all"], default="all")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--methods", default="", help="comma-separated subset of the grid's methods")
    p.add_argument("--configs", default="", help="comma-separated subset of the grid's presets")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], help="extra overrides for every run"
    )
    p.add_argument("--name", default="grid_effnet", help="result file name under benchmarks/results")
    args = p.parse_args()
    require_shared("mnist")
    require_shared("cifar10")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for part, preset in PARTS.items():
        if args.part not in (part, "all"):
            continue
        grid = preset_grid(preset)
        if args.methods:
            grid["method.name"] = [m for m in grid["method.name"] if m in args.methods.split(",")]
        if args.configs:
            grid["config"] = [c for c in grid["config"] if c in args.configs.split(",")]
        part_rows = sweep(
            preset,
            Path(args.out) / part,
            grid=grid,
            seeds=seeds,
            overrides=["train.progress=false", *args.overrides],
        )
        for r in part_rows:
            r["dataset"] = DATASET[r["config"]]
            r["setting"] = part
            r["line"] = label(r)
        rows += part_rows
    group = ("setting", "dataset", "method", "frozen", "image_size", "labels_per_class")
    png = error_vs_labels(
        rows,
        RESULTS / f"{args.name}.png",
        line=label,
        title="EfficientNet-Lite0 (ImageNet), test error vs labelled samples (mean ± std, 3 seeds)",
    )
    save(
        args.name,
        {"command": " ".join(sys.argv), "summary": summarize(rows, group), "runs": rows},
        format_table(rows, group) + f"\n\nFigure: [{png.name}]({png.relative_to(ROOT).as_posix()})",
    )


if __name__ == "__main__":
    main()
