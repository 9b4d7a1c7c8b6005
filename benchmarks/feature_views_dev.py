"""The FixMatch family on pre-computed embeddings (feature-space views) against label spreading.

    python benchmarks/feature_views_dev.py --k 1,4 --seeds 0,1 --work /work/scratch/rel

Development data only: the AG News pool (the benchmark's 20 % test part removed first, as in
``dev_split.py``), embedded once with the frozen all-MiniLM-L6-v2 of the ``agnews-minilm`` preset
(mean-pooled, cached as ``.npy`` under ``--work``); a seeded 25 % of it is the development test part,
and ``k`` labelled items per class are drawn from the rest, the other rows unlabelled. Every method
runs through :class:`ssft.SemiSupervisedClassifier` with the preset's training keys, so the
FixMatch family sees the views of :mod:`ssft.data.feature_augment`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import require_shared, save  # noqa: E402
from ssft import SemiSupervisedClassifier  # noqa: E402
from ssft.config import DataConfig, load_config  # noqa: E402
from ssft.data import load_dataset  # noqa: E402
from ssft.data.splits import holdout_split  # noqa: E402

METHODS = ("label_spreading", "supervised", "fixmatch", "freematch", "softmatch")


def embeddings(work: Path) -> tuple[np.ndarray, np.ndarray]:
    """Mean-pooled MiniLM embeddings of the AG News development pool, extracted once."""
    path = work / "ag_news_dev_minilm.npz"
    if path.is_file():
        with np.load(path) as f:
            return f["X"], f["y"]
    import torch

    from ssft.backbones import build_backbone

    ag = load_dataset(DataConfig(name="ag_news", root=str(require_shared("ag_news"))))
    pool, _ = holdout_split(ag.train.labels, 0.2, 0, classes=ag.classes)
    backbone = build_backbone(load_config("agnews-minilm", []).backbone).freeze()
    rows = []
    with torch.no_grad():
        for start in range(0, pool.size, 128):
            texts = [ag.train.inputs[int(i)] for i in pool[start : start + 128]]
            rows.append(backbone.pooled(backbone.prepare(texts)).float().numpy())
    X, y = np.concatenate(rows), ag.train.labels[pool].astype(np.int64)
    work.mkdir(parents=True, exist_ok=True)
    np.savez(path, X=X, y=y)
    return X, y


def few_labels(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``y`` with all but ``k`` seeded items per class set to -1."""
    rng = np.random.default_rng(seed)
    out = np.full_like(y, -1)
    for c in np.unique(y):
        pick = rng.choice(np.flatnonzero(y == c), k, replace=False)
        out[pick] = c
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--k", default="1,4")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--work", default="runs/feature_views_dev")
    args = p.parse_args()
    X, y = embeddings(Path(args.work))
    train, test = holdout_split(y, 0.25, 0, classes=[str(c) for c in np.unique(y)])
    rows, cpu = [], {}
    for k in [int(v) for v in args.k.split(",")]:
        for seed in [int(v) for v in args.seeds.split(",")]:
            y_semi = few_labels(y[train], k, seed)
            for method in args.methods.split(","):
                t0 = time.process_time()
                clf = SemiSupervisedClassifier(method, config="agnews-minilm", seed=seed)
                acc = 100 * float(clf.fit(X[train], y_semi).score(X[test], y[test]))
                cpu[method] = cpu.get(method, 0.0) + time.process_time() - t0
                rows.append({"k": k, "seed": seed, "method": method, "accuracy": acc})
                print(rows[-1], flush=True)
    ks = sorted({r["k"] for r in rows})
    lines = [
        f"AG News development pool, frozen all-MiniLM-L6-v2 embeddings, {train.size} training rows, "
        f"{test.size} development test rows; seeds {args.seeds}; the machine was shared with other jobs.",
        "",
        "| method | " + " | ".join(f"k = {k}" for k in ks) + " | CPU s per run |",
        "|---|" + "---|" * (len(ks) + 1),
    ]
    for method in args.methods.split(","):
        cells = []
        for k in ks:
            accs = [r["accuracy"] for r in rows if r["method"] == method and r["k"] == k]
            cells.append(f"{np.mean(accs):.1f} ± {np.std(accs):.1f}")
        runs = sum(1 for r in rows if r["method"] == method)
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {cpu[method] / runs:.1f} |")
    cmd = "python benchmarks/feature_views_dev.py " + " ".join(sys.argv[1:])
    lines += ["", f"Command: `{cmd}`."]
    save("feature_views_dev", {"rows": rows, "command": cmd}, "\n".join(lines))


if __name__ == "__main__":
    main()
