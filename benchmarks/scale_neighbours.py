"""Wall time and peak memory of the neighbour-graph baselines, exact vs approximate neighbours, on
synthetic pooled features (Gaussian clusters: 10 classes of 3 sub-clusters each, 384 dims,
float32).

* label spreading: fit on N rows (4 labels per class, the rest unlabelled; default options), then
  predict 10,000 test rows; accuracy on the test rows.
* k-NN: N labelled rows, predict 10,000 test rows (default options).

Each point runs in a fresh subprocess, so its peak RSS (``ru_maxrss``, which includes the Python
interpreter and the imported libraries: see the ``baseline`` row) is its own. Writes
``benchmarks/results/scale_neighbours.{json,md}``.

    nice -n 10 env OMP_NUM_THREADS=1 python benchmarks/scale_neighbours.py --n 10000 100000
    nice -n 10 env OMP_NUM_THREADS=1 python benchmarks/scale_neighbours.py --n 20000 --accuracy-seeds 5

The second writes ``scale_neighbours.accuracy.{json,md}``: label spreading accuracy, exact vs
approximate, over several draws of the labels.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import types

import numpy as np

from common import RESULTS, machine

CLASSES, DIM, TEST, SEPARATION = 10, 384, 10_000, 0.4


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 384) float32 features and (n,) labels: each class a mix of 3 Gaussian sub-clusters."""
    rng = np.random.default_rng(1234)  # the same clusters for every n and split
    centres = (rng.normal(size=(CLASSES * 3, DIM)) * SEPARATION).astype(np.float32)
    rng = np.random.default_rng(seed)
    sub = rng.integers(0, CLASSES * 3, n)
    x = centres[sub] + rng.normal(size=(n, DIM)).astype(np.float32)
    return x, sub % CLASSES


def run_point(n: int, method: str, how: str) -> dict:
    from ssft.config import load_config
    from ssft.methods import build_method

    t0 = time.perf_counter()
    if method == "baseline":  # the interpreter and imports alone
        return {"seconds": 0.0, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    x, y = synthetic(n, seed=1)
    x_test, y_test = synthetic(TEST, seed=2)
    cfg = load_config(None, [f"method.name={method}", f"method.neighbours={how}"]).method
    m = build_method(cfg, types.SimpleNamespace(num_classes=CLASSES), class_counts=np.ones(CLASSES), seed=0)
    t0 = time.perf_counter()
    if method == "label_spreading":
        lb = np.concatenate([np.flatnonzero(y == c)[:4] for c in range(CLASSES)])
        ulb = np.setdiff1d(np.arange(n), lb)
        m.fit(x[lb], y[lb], x[ulb])
    else:
        m.fit(x, y, x[:0])
    fit_s = time.perf_counter() - t0
    proba = m.predict_proba(x_test)
    total = time.perf_counter() - t0
    return {
        "fit_seconds": round(fit_s, 2),
        "seconds": round(total, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "accuracy": round(float((proba.argmax(1) == y_test).mean()), 4),
    }


def accuracy_spread(n: int, seeds: int) -> None:
    """Label spreading test accuracy, exact vs approximate graph, over ``seeds`` draws of the 40
    labels at one N: how far apart the two paths are next to the spread across label draws."""
    from ssft.config import load_config
    from ssft.methods import build_method

    x, y = synthetic(n, seed=1)
    x_test, y_test = synthetic(TEST, seed=2)
    rows = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        lb = np.concatenate([rng.choice(np.flatnonzero(y == c), 4, replace=False) for c in range(CLASSES)])
        ulb = np.setdiff1d(np.arange(n), lb)
        row: dict = {"n": n, "label_seed": seed}
        for how in ("exact", "approximate"):
            cfg = load_config(None, ["method.name=label_spreading", f"method.neighbours={how}"]).method
            ns = types.SimpleNamespace(num_classes=CLASSES)
            m = build_method(cfg, ns, class_counts=np.ones(CLASSES), seed=0)
            m.fit(x[lb], y[lb], x[ulb])
            row[how] = round(float((m.predict_proba(x_test).argmax(1) == y_test).mean()), 4)
        rows.append(row)
        print(row, flush=True)
    diff = [r["approximate"] - r["exact"] for r in rows]
    summary = {
        "exact_mean": round(float(np.mean([r["exact"] for r in rows])), 4),
        "exact_std": round(float(np.std([r["exact"] for r in rows], ddof=1)), 4),
        "approximate_mean": round(float(np.mean([r["approximate"] for r in rows])), 4),
        "mean_difference": round(float(np.mean(diff)), 4),
        "max_abs_difference": round(float(np.max(np.abs(diff))), 4),
    }
    out = {"data": "synthetic", "rows": rows, "summary": summary}
    (RESULTS / "scale_neighbours.accuracy.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = [
        f"# Label spreading accuracy, exact vs approximate neighbours (synthetic data, N = {n:,})",
        "",
        f"{seeds} draws of 4 labels per class; test accuracy on {TEST:,} synthetic test rows.",
        "",
        "| label seed | exact | approximate |",
        "|---|---|---|",
        *[f"| {r['label_seed']} | {r['exact']} | {r['approximate']} |" for r in rows],
        "",
        f"Summary: {summary}",
    ]
    (RESULTS / "scale_neighbours.accuracy.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--point", nargs=3, metavar=("N", "METHOD", "HOW"), help="internal: one point")
    ap.add_argument("--accuracy-seeds", type=int, default=0, help="only: exact vs approximate accuracy")
    args = ap.parse_args()
    if args.accuracy_seeds:
        accuracy_spread(args.n[0], args.accuracy_seeds)
        return
    if args.point:
        print(json.dumps(run_point(int(args.point[0]), args.point[1], args.point[2])))
        return
    points = [(0, "baseline", "-")]
    points += [
        (n, m, how) for n in args.n for m in ("label_spreading", "knn") for how in ("exact", "approximate")
    ]
    rows = []
    for n, method, how in points:
        cmd = [sys.executable, __file__, "--point", str(n), method, how]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        rows.append({"n": n, "method": method, "neighbours": how, **json.loads(out)})
        print(rows[-1], flush=True)
    note = (
        "synthetic Gaussian-cluster features (10 classes x 3 sub-clusters, 384 dims, float32); "
        f"label spreading: 4 labels per class, predicts {TEST:,} test rows; k-NN: N labelled rows, "
        f"predicts {TEST:,} test rows. Timings from a shared 2-core machine (other jobs running), "
        "niced, OMP_NUM_THREADS=1: compare within the table, not across machines."
    )
    result = {"data": "synthetic", "note": note, "machine": machine(), "rows": rows}
    (RESULTS / "scale_neighbours.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# Neighbour-graph baselines at scale (synthetic data)",
        "",
        note,
        "",
        "| N | method | neighbours | fit s | fit+predict s | peak RSS MB | test accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['method']} | {r['neighbours']} | {r.get('fit_seconds', '')} | "
            f"{r['seconds']} | {r['peak_rss_mb']} | {r.get('accuracy', '')} |"
        )
    (RESULTS / "scale_neighbours.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
