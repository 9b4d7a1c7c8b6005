"""Write the *development* datasets used to choose hyper-parameters, carved from the training pool
only: the benchmark's held-out test part (``data.holdout=0.2``, ``data.holdout_seed=0``) is removed
first, so no choice made on these datasets ever looks at a test item.

    python benchmarks/dev_split.py --out runs/dev      # writes runs/dev/ag_news_dev.csv, runs/dev/<name>_dev/

Use them with ``data.name=csv`` (AG News) or ``data.name=imagefolder`` (MNIST, striped MNIST, CIFAR-10); their own held-out
part (``data.holdout``) is the development test set.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import require_shared  # noqa: E402
from ssft.config import DataConfig  # noqa: E402
from ssft.data import load_dataset  # noqa: E402
from ssft.data.splits import holdout_split  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/dev")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    ag = load_dataset(DataConfig(name="ag_news", root=str(require_shared("ag_news"))))
    pool, _ = holdout_split(ag.train.labels, 0.2, 0, classes=ag.classes)
    with open(out / "ag_news_dev.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i in pool:
            w.writerow([ag.train.inputs[int(i)], ag.classes[int(ag.train.labels[int(i)])]])
    print(f"{out / 'ag_news_dev.csv'}: {pool.size} items")

    images = {
        "mnist": DataConfig(name="mnist", root=str(require_shared("mnist"))),
        "mnist_stripes_yellow": DataConfig(name="mnist_stripes_yellow", root=str(require_shared("mnist"))),
        "mnist_stripes_white": DataConfig(name="mnist_stripes_white", root=str(require_shared("mnist"))),
        "cifar10": DataConfig(name="imagefolder", root=str(require_shared("cifar10"))),
    }
    for name, cfg in images.items():
        ds = load_dataset(cfg)
        pool, _ = holdout_split(ds.train.labels, 0.2, 0, classes=ds.classes)
        root = out / f"{name}_dev"
        for i in pool:
            d = root / ds.classes[int(ds.train.labels[int(i)])]
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.asarray(ds.train.inputs[int(i)])).save(d / f"{int(i):05d}.png")
        print(f"{root}: {pool.size} images")


if __name__ == "__main__":
    main()
