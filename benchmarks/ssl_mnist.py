"""MNIST (and its striped variants) from scratch: a trainable random-weight ViT, every method at
the same budget (same steps, batch sizes, learning rates).

    python benchmarks/ssl_mnist.py --out runs/bench/mnist                       # plain MNIST
    python benchmarks/ssl_mnist.py --datasets mnist,mnist_stripes_white,mnist_stripes_yellow

Data: the real MNIST test set in ../shared/data/mnist (10,000 images); a fixed, class-stratified
20 % is held out as the test part (2,000 images), the other 8,000 are the pool. No pretrained vision
weights exist offline, so the backbone (``random:vit-tiny``: 4 layers, width 64, patch 4) is
trained from scratch together with the head. Resumable like every sweep.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import require_shared, save  # noqa: E402
from ssft.report.tables import format_table, summarize  # noqa: E402
from ssft.sweep.grid import sweep  # noqa: E402

BUDGET = [
    "backbone.name=random:vit-tiny",
    "backbone.frozen=false",
    "train.steps=200",
    "train.batch_size=32",
    "train.unlabeled_ratio=1",
    "train.lr=0.002",
    "train.backbone_lr=0.001",
    "train.progress=false",
    "data.max_unlabeled=null",
]
METHODS: dict[str, list[str]] = {
    "supervised": [],
    "twinturbo": [],
    "content_style": ["model.projector=identity"],
    # the classical reference on the same (frozen, random) backbone's features
    "label_spreading": ["backbone.frozen=true"],
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/bench/mnist")
    p.add_argument("--datasets", default="mnist")
    p.add_argument("--k", default="1,4,10")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--methods", default="supervised,twinturbo,content_style,label_spreading")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], help="extra overrides for every run"
    )
    p.add_argument("--name", default="ssl_mnist", help="result file name under benchmarks/results")
    args = p.parse_args()
    root = require_shared("mnist")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for dataset in args.datasets.split(","):
        for method in args.methods.split(","):
            rows += sweep(
                "mnist-offline",
                Path(args.out) / dataset / method,
                grid={"data.labels_per_class": args.k.split(",")},
                seeds=seeds,
                overrides=[
                    f"data.name={dataset}",
                    f"data.root={root}",
                    f"method.name={method}",
                    *BUDGET,
                    *METHODS.get(method, []),
                    *args.overrides,
                ],
            )
    group = ("dataset", "method", "labels_per_class")
    save(
        args.name,
        {"command": " ".join(sys.argv), "budget": BUDGET, "summary": summarize(rows, group), "runs": rows},
        format_table(rows, group),
    )


if __name__ == "__main__":
    main()
