"""Trainable against frozen content-style on the vision benchmarks (test parts; issue 22).

    python benchmarks/finetune_vision.py --out runs/bench/finetune-vision      # k = 25, seeds 0, 1, 2

For each dataset, the frozen preset at its shipped defaults (``mnist-yellow-effnet``,
``cifar10-effnet``) and its trainable twin (``*-effnet-trainable``: the trainable vision recipe of
``docs/trainable.md``, chosen by ``finetune_vision_dev.py`` on development data), both with the
content-style head, on identical splits (``seed`` = ``data.split_seed``). The test part is each
preset's own held-out 20 % (2,000 images), never seen by any choice. Resumable: finished runs in
``--out`` are read back. Writes ``benchmarks/results/finetune_vision.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save  # noqa: E402
from ssft.sweep.grid import sweep  # noqa: E402

PAIRS = {
    "mnist_yellow": ("mnist-yellow-effnet", "mnist-yellow-effnet-trainable"),
    "cifar10": ("cifar10-effnet", "cifar10-effnet-trainable"),
}
COMMON = ["method.name=content_style", "train.progress=false", "train.threads=1"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/bench/finetune-vision")
    p.add_argument("--k", default="25")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--datasets", default=",".join(PAIRS))
    p.add_argument("--which", default="frozen,trainable", help="which of each pair to run")
    args = p.parse_args()
    rows = []
    for ds in args.datasets.split(","):
        for which, preset in zip(("frozen", "trainable"), PAIRS[ds], strict=True):
            if which not in args.which.split(","):
                continue
            for r in sweep(
                preset,
                Path(args.out) / ds / preset,
                grid={"data.labels_per_class": args.k.split(",")},
                seeds=[int(s) for s in args.seeds.split(",")],
                overrides=COMMON,
                verbose=False,
            ):
                r["preset"], r["devset"] = preset, ds
                rows.append(r)
                print(f"{ds:<13} {preset:<32} k={r['labels_per_class']} seed={r['seed']} "
                      f"{r['test_accuracy']:.4f} {r['total_seconds']:.0f} s", flush=True)  # fmt: skip
    cells: dict[tuple[str, str, int], list[dict]] = defaultdict(list)
    for r in rows:
        cells[(r["devset"], r["preset"], int(r["labels_per_class"]))].append(r)
    md = [
        "| dataset | preset | backbone | k | runs | test accuracy % (mean ± sample std) | s / run |",
        "|---|---|---|---|---|---|---|",
    ]
    for (ds, preset, k), rs in sorted(cells.items()):
        acc = [100 * r["test_accuracy"] for r in rs]
        std = np.std(acc, ddof=1) if len(acc) > 1 else 0.0
        secs = np.mean([r["total_seconds"] for r in rs])
        md.append(
            f"| {ds} | {preset} | {rs[0]['backbone_mode']} | {k} | {len(rs)} | "
            f"{np.mean(acc):.1f} ± {std:.1f} | {secs:.0f} |"
        )
    save("finetune_vision", {"command": " ".join(sys.argv), "runs": rows}, "\n".join(md))


if __name__ == "__main__":
    main()
