"""The FixMatch family on the frozen ImageNet EfficientNet-Lite0, next to the linear probe.

    python benchmarks/fixmatch_effnet.py --out runs/bench/fixmatch        # CIFAR-10, k = 4, seeds 0-2
    python benchmarks/fixmatch_effnet.py --set backbone.image_size=64    # what ran here (CPU budget)

FixMatch and FreeMatch at their shipped defaults on the ``cifar10-effnet`` preset (128 px): the
weak view is the image itself, the strong views (``cache.strong_views`` of them, RandAugment-style)
are extracted once into the feature cache, so a step costs what a cached step costs. The linear
probe and label spreading run on the same splits. Writes ``benchmarks/results/fixmatch_effnet``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import require_shared, save  # noqa: E402
from ssft.report.tables import format_table, summarize  # noqa: E402
from ssft.sweep.grid import sweep  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/bench/fixmatch")
    p.add_argument("--config", default="cifar10-effnet")
    p.add_argument("--k", default="4")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--methods", default="linear_probe,label_spreading,fixmatch,freematch")
    p.add_argument("--name", default="fixmatch_effnet")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], help="extra overrides for every run"
    )
    args = p.parse_args()
    require_shared("cifar10")
    rows = sweep(
        args.config,
        Path(args.out),
        grid={"method.name": args.methods.split(","), "data.labels_per_class": args.k.split(",")},
        seeds=[int(s) for s in args.seeds.split(",")],
        overrides=["train.progress=false", *args.overrides],
    )
    group = ("dataset", "method", "labels_per_class")
    save(
        args.name,
        {"command": " ".join(sys.argv), "summary": summarize(rows, group), "runs": rows},
        format_table(rows, group),
    )


if __name__ == "__main__":
    main()
