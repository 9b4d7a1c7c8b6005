"""Cost against pool size (issue 26): every shipped method on 10^4 to 10^6 pooled features.

    python benchmarks/scale.py --base ag_news --sizes 10000,100000,1000000
    python benchmarks/scale.py --base cifar10 --sizes 10000,100000,1000000
    python benchmarks/scale.py --report      # tables and the figure from the saved points

SYNTHETIC pools, for cost only: the real pooled features of a base set (AG News test texts through
MiniLM-L6 at 64 tokens, 384 dims; CIFAR-10 test images through EfficientNet-Lite0 at 128 px,
1280 dims) are split 80/20 (stratified, seed 0); the 80 % is replicated to N rows with Gaussian
noise (0.05 of the features' standard deviation per replica) and written once as a float32 ``.npy``
that every point opens memory-mapped; the 20 % real rows are the test rows. 4 labels per class
(seed 0), every other pool row unlabelled.

Each point (method, N) runs in a fresh process: ``SemiSupervisedClassifier(method)`` at its
defaults, ``fit`` on the memory-mapped pool (which includes the prediction of every pool row,
``transduction_``), then ``predict_proba`` of the test rows. Recorded: wall and CPU seconds of the
fit and of the test prediction, and the peak resident memory of the process (``VmHWM``: the
interpreter and libraries too, see the ``imports`` row; pages of the memory-mapped pool that were
read count while mapped). Results accumulate in ``benchmarks/results/scale.json`` (one entry per
base, method and N; a rerun replaces its points); ``--report`` writes ``scale.md`` and
``scale.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, require_shared, save  # noqa: E402

METHODS = ("label_spreading", "linear_probe", "fixmatch", "twinturbo", "content_style")
NOISE = 0.05
BASES = {
    "ag_news": ["data.name=ag_news", "backbone.name=hf:sentence-transformers/all-MiniLM-L6-v2",
                "backbone.max_length=64"],
    "cifar10": ["data.name=imagefolder", "backbone.name=effnet:lite0", "backbone.image_size=128"],
}  # fmt: skip


def base_features(name: str, work: Path) -> Path:
    """``work/base-<name>.npz``: X (pooled features) and y of the base set, extracted once."""
    out = work / f"base-{name}.npz"
    if out.exists():
        return out
    from ssft.backbones import build_backbone
    from ssft.config import load_config
    from ssft.data import load_dataset
    from ssft.features import FeatureStore

    root = require_shared("ag_news" if name == "ag_news" else "cifar10")
    cfg = load_config(None, [*BASES[name], f"data.root={root}", "cache.store=pooled"])
    ds = load_dataset(cfg.data)
    part = ds.test if ds.test is not None else ds.train
    store = FeatureStore.build(backbone=build_backbone(cfg.backbone).freeze(), inputs=part.inputs,
                               key=f"base-{name}", root=work / "cache", store="pooled", batch_size=128)  # fmt: skip
    x = np.asarray(store.get(np.arange(len(part.inputs))).pooled, dtype=np.float32)
    np.savez(out, X=x, y=np.asarray(part.labels, dtype=np.int64))
    return out


def pool_file(base: Path, n: int, work: Path) -> tuple[Path, Path]:
    """The memory-mapped pool of ``n`` rows and its labels file (written once, row block by row block)."""
    x_path, y_path = work / f"{base.stem}-pool{n}.npy", work / f"{base.stem}-pool{n}.labels.npz"
    if x_path.exists() and y_path.exists():
        return x_path, y_path
    with np.load(base) as f:
        x, y = f["X"], f["y"]
    from ssft.data.splits import holdout_split

    pool, test = holdout_split(y, 0.2, 0)
    src_x, src_y = x[pool], y[pool]
    rng = np.random.default_rng(0)
    labelled = np.concatenate(
        [rng.choice(np.flatnonzero(src_y == c), 4, replace=False) for c in np.unique(src_y)]
    )
    labels = np.full(n, -1, dtype=np.int64)
    labels[labelled] = src_y[labelled]  # the labelled rows are real (the first copy)
    sd = float(src_x.std())
    tmp = x_path.with_suffix(".tmp.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, x.shape[1]))
    for s in range(0, n, 65536):
        rows = np.arange(s, min(n, s + 65536))
        block = src_x[rows % len(src_x)].astype(np.float32)
        noisy = rows >= len(src_x)  # the first copy is the real rows
        block[noisy] += rng.normal(scale=NOISE * sd, size=(int(noisy.sum()), x.shape[1])).astype(np.float32)
        out[rows[0] : rows[-1] + 1] = block
    out.flush()
    del out
    np.savez(y_path, y=labels, truth=src_y[np.arange(n) % len(src_y)], X_test=x[test], y_test=y[test])
    os.replace(tmp, x_path)
    return x_path, y_path


def peak_rss_mb() -> int:
    """This process's peak resident memory since it started (``VmHWM``; ``ru_maxrss`` on Linux
    also counts the parent's pages that a forked child held before ``exec``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def run_point(method: str, x_path: str, y_path: str) -> dict[str, Any]:
    """One point, in this (fresh) process."""
    if method == "imports":
        import torch  # noqa: F401

        from ssft.estimator import SemiSupervisedClassifier  # noqa: F401

        return {"peak_rss_mb": peak_rss_mb()}
    from ssft.estimator import SemiSupervisedClassifier

    x = np.load(x_path, mmap_mode="r")
    with np.load(y_path) as f:
        y, x_test, y_test = f["y"], f["X_test"], f["y_test"]
    clf = SemiSupervisedClassifier(method, seed=0)
    t, c = time.perf_counter(), time.process_time()
    clf.fit(x, y)
    fit_s, fit_cpu = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    proba = clf.predict_proba(x_test)
    pred_s, pred_cpu = time.perf_counter() - t, time.process_time() - c
    return {
        "fit_s": round(fit_s, 2), "fit_cpu_s": round(fit_cpu, 2),
        "predict_s": round(pred_s, 3), "predict_cpu_s": round(pred_cpu, 3),
        "peak_rss_mb": peak_rss_mb(),
        "test_accuracy": round(float((clf.classes_[proba.argmax(1)] == y_test).mean()), 4),
        "test_rows": int(len(y_test)),
    }  # fmt: skip


def load_results() -> dict[str, Any]:
    path = RESULTS / "scale.json"
    return json.loads(path.read_text()) if path.exists() else {"points": []}


def measure(args: argparse.Namespace) -> None:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    base = base_features(args.base, work)
    results = load_results()
    points = results["points"]
    for n in [int(float(s)) for s in args.sizes.split(",")]:
        x_path, y_path = pool_file(base, n, work)
        for method in ["imports", *args.methods.split(",")]:
            cmd = [sys.executable, __file__, "--point", method, str(x_path), str(y_path)]
            t = time.time()
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            if proc.returncode:
                row = {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:300]}
            else:
                row = json.loads(proc.stdout.strip().splitlines()[-1])
            dim = int(np.load(x_path, mmap_mode="r").shape[1])
            row = {
                "base": args.base,
                "dim": dim,
                "n": n,
                "method": method,
                "wall_s": round(time.time() - t, 1),
                **row,
            }
            points[:] = [p for p in points if (p["base"], p["n"], p["method"]) != (args.base, n, method)]
            points.append(row)
            print(json.dumps(row), flush=True)
            (RESULTS / "scale.json").write_text(json.dumps(results, indent=1) + "\n")
        if args.drop_pools:
            x_path.unlink()


def growth(points: list[dict[str, Any]], key: str) -> float | None:
    """The slope of log(cost) against log(N) between the two largest sizes."""
    ok = sorted((p["n"], p[key]) for p in points if key in p and p[key] > 0)
    if len(ok) < 2:
        return None
    (n0, c0), (n1, c1) = ok[-2], ok[-1]
    return math.log(c1 / c0) / math.log(n1 / n0)


def report() -> None:
    results = load_results()
    pts = results["points"]
    lines = [
        "SYNTHETIC pools (real pooled features replicated with 5 % noise; see the script's docstring): "
        "cost only. Each point a fresh process, the method at its defaults through "
        "`SemiSupervisedClassifier` on the memory-mapped pool; fit includes predicting every pool row; "
        "predict = the real test rows. Growth = slope of log(fit seconds) against log(N) between the two "
        "largest sizes (N log N from 10^5 to 10^6 is 1.08; linear 1.00).",
        "",
        "| base (dims) | method | N | fit s | fit CPU s | predict s | peak RSS MB | test acc. | growth |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for base, method in sorted({(p["base"], p["method"]) for p in pts}):
        mine = sorted((p for p in pts if p["base"] == base and p["method"] == method), key=lambda p: p["n"])
        g = growth(mine, "fit_s")
        for p in mine:
            if "error" in p:
                lines.append(
                    f"| {base} ({p['dim']}) | {method} | {p['n']:,} | **failed**: `{p['error']}` |||||"
                )
                continue
            lines.append(
                f"| {base} ({p['dim']}) | {method} | {p['n']:,} | {p.get('fit_s', '')} | {p.get('fit_cpu_s', '')} | "
                f"{p.get('predict_s', '')} | {p['peak_rss_mb']:,} | {p.get('test_accuracy', '')} | "
                + (f"{g:.2f} |" if g is not None and p is mine[-1] and "fit_s" in p else " |")
            )
    _figure(pts)
    save("scale", results, "\n".join(lines) + "\n\n![cost against N](scale.png)")


def _figure(pts: list[dict[str, Any]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for base, method in sorted({(p["base"], p["method"]) for p in pts if p["method"] != "imports"}):
        mine = sorted((p for p in pts if (p["base"], p["method"]) == (base, method) and "fit_s" in p),
                      key=lambda p: p["n"])  # fmt: skip
        ns = [p["n"] for p in mine]
        style = "-" if base == "ag_news" else "--"
        axes[0].plot(ns, [p["fit_s"] for p in mine], style, marker="o", label=f"{method} ({base})")
        axes[1].plot(
            ns, [p["peak_rss_mb"] / 1024 for p in mine], style, marker="o", label=f"{method} ({base})"
        )
    for ax, title in zip(axes, ("fit wall seconds", "peak RSS (GB)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("pool rows N (synthetic)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "scale.png", dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", choices=sorted(BASES), default="ag_news")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--work", default="/work/scratch/scale", help="where the pools are written (GBs)")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per point")
    ap.add_argument("--drop-pools", action="store_true", help="delete each pool file after its points")
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--point", nargs=3, metavar=("METHOD", "X", "Y"), help="internal: one point")
    args = ap.parse_args()
    if args.point:
        print(json.dumps(run_point(*args.point)))
    elif args.report:
        report()
    else:
        measure(args)


if __name__ == "__main__":
    main()
