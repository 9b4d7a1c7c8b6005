"""Which items to label (issue 24): cold-start and next-batch picks, scored by what they train.

    python benchmarks/suggest.py --datasets mnist,agnews,banking77 --cache-dir /work/scratch/suggest/cache

For each dataset (a frozen-backbone preset; its pool's features read from the cache), budget
N = b x K items (b = 1, 2, 4 per class on average, K classes) and seed 0, 1, 2, each picker chooses
N items of the pool without looking at labels (class-balanced random does look: an oracle row), and
label spreading (ssft's shipped defaults, through the scikit-learn estimator) trains on them; its
accuracy on the held-out test part is reported. At ``--fixmatch-per-class`` the shipped FixMatch
also trains (``ssft fit`` with ``data.labeled_items``, cached weak/strong views). Next batch: from
ssft's cold-start picks at 2 per class, label spreading's probabilities choose 2 per class more;
compared at the same total (4 per class) with random picks. CPU seconds of picking are measured in
the same process (the machine was shared; ratios within one run are what compare).
Writes benchmarks/results/suggest.md (+ .json, + suggest.png with matplotlib).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import suggest_picks as sp  # noqa: E402
from common import RESULTS, save  # noqa: E402

PRESETS = {
    "mnist": "mnist-effnet",
    "agnews": "agnews-minilm",
    "banking77": "banking77-minilm",
    "cifar10": "cifar10-effnet",
}
COLD = [
    "random",
    "balanced random (oracle)",
    "skactiveml TypiClust",
    "skactiveml ProbCover",
    "ssft probcover",
    "ssft typiclust",
]
NEXT = [
    "random",
    "skactiveml margin",
    "skactiveml TypiClust",
    "ssft margin",
    "ssft badge",
    "ssft typiclust",
    "ssft margin_coverage",
]
DEFAULT_COLD, DEFAULT_NEXT = "ssft typiclust", "ssft margin_coverage"


def load(name: str, cache: str) -> dict[str, Any]:
    from ssft.config import load_config
    from ssft.suggest.run import load_pool
    from ssft.train.predict import pooled_features

    cfg = load_config(PRESETS[name], [f"cache.dir={cache}", "train.progress=false"])
    pool = load_pool(cfg)
    ds, split = pool.dataset, pool.split
    test_part = ds.train if split.test_source == "train" else ds.test
    bs = cfg.cache.batch_size
    return {
        "preset": PRESETS[name],
        "x": pool.features,
        "raw": pooled_features(pool.source, pool.index, bs),
        "y": ds.train.labels[pool.index],
        "index": pool.index,
        "k": ds.num_classes,
        "x_test": pooled_features(pool.test_source, split.test, bs),
        "y_test": test_part.labels[split.test],
    }


def pickers(d: dict[str, Any]) -> dict[str, sp.Picker]:
    y, k = d["y"], d["k"]
    return {
        "random": sp.ssft_picker("random"),
        "balanced random (oracle)": sp.balanced_random(y),
        "skactiveml TypiClust": sp.anchor_typiclust(y),
        "skactiveml ProbCover": sp.anchor_probcover(y, k),
        "skactiveml margin": sp.anchor_margin,
        **{
            f"ssft {s}": sp.ssft_picker(s)
            for s in ("probcover", "typiclust", "margin", "badge", "margin_coverage")
        },
    }


def spread(d: dict[str, Any], labeled: np.ndarray) -> tuple[float, np.ndarray]:
    """Label spreading at its shipped defaults on the picks: test accuracy, pool probabilities (n, K)."""
    if "graph" not in d:
        from suggest_spread import GraphSpreading

        d["graph"] = GraphSpreading(d["raw"], d["x_test"])
    out = d["graph"].fit(np.where(labeled, d["y"], -1), d["k"])
    return float((out["test"].argmax(1) == d["y_test"]).mean()), out["pool"]


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    t = time.process_time()
    out = fn(*args)
    return out, time.process_time() - t


def mask(n: int, picks: np.ndarray) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[picks] = True
    return m


def fixmatch(d: dict[str, Any], picks: np.ndarray, seed: int, cache: str, work: Path) -> float:
    """The shipped FixMatch (``ssft fit``) on exactly the picked items, labels read from the data."""
    from ssft.api import fit

    items = work / "items.csv"
    with items.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index"])
        w.writerows([[int(d["index"][p])] for p in picks])
    run = Path(tempfile.mkdtemp(dir=work))
    sets = [
        f"data.labeled_items={items}",
        f"seed={seed}",
        "method.name=fixmatch",
        f"cache.dir={cache}",
        "train.progress=false",
        "train.threads=1",
    ]
    return float(fit(d["preset"], run, overrides=sets).test_accuracy)


def cold_rows(name: str, d: dict[str, Any], args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    rows, p, n = [], pickers(d), len(d["y"])
    for b in args.per_class:
        for seed in args.seeds:
            for strat in COLD:
                picks, cpu = timed(p[strat], d["x"], np.zeros(n, bool), None, b * d["k"], seed)
                acc, _ = spread(d, mask(n, picks))
                row = {
                    "dataset": name,
                    "strategy": strat,
                    "per_class": b,
                    "seed": seed,
                    "cpu_s": cpu,
                    "classes_hit": int(np.unique(d["y"][picks]).size),
                    "label_spreading": acc,
                }
                if b == args.fixmatch_per_class and strat in args.fixmatch_strategies:
                    row["fixmatch"] = fixmatch(d, picks, seed, args.cache_dir, work)
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def next_rows(name: str, d: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    rows, p, n, half = [], pickers(d), len(d["y"]), 2 * d["k"]
    for seed in args.seeds:
        first = p[DEFAULT_COLD](d["x"], np.zeros(n, bool), None, half, seed)
        labeled = mask(n, first)
        acc0, probs = spread(d, labeled)
        for strat in NEXT:
            more, cpu = timed(p[strat], d["x"], labeled, probs, half, seed)
            assert not labeled[more].any()
            acc, _ = spread(d, labeled | mask(n, more))
            rows.append(
                {
                    "dataset": name,
                    "strategy": strat,
                    "seed": seed,
                    "cpu_s": cpu,
                    "round0": acc0,
                    "label_spreading": acc,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def ms(v: list[float]) -> str:
    return f"{100 * np.mean(v):.1f} ± {100 * np.std(v):.1f}"


def markdown(cold: list[dict[str, Any]], nxt: list[dict[str, Any]], args: argparse.Namespace) -> str:
    from suggest_report import tables

    return tables(cold, nxt, args, COLD, NEXT, DEFAULT_COLD, DEFAULT_NEXT, ms)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="mnist,agnews,banking77")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--per-class", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--fixmatch-per-class", type=int, default=2, help="0: no FixMatch rows")
    ap.add_argument(
        "--fixmatch-strategies",
        nargs="+",
        default=["random", "balanced random (oracle)", "skactiveml TypiClust", "ssft typiclust"],
    )
    ap.add_argument("--cache-dir", default="/work/scratch/suggest/cache")
    ap.add_argument("--work", default="/work/scratch/suggest/bench")
    ap.add_argument("--name", default="suggest")
    ap.add_argument("--rerun", action="store_true", help="measure again a dataset already measured in --work")
    ap.add_argument("--only", action="store_true", help="measure, write the per-dataset file, no report")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cold, nxt = [], []
    for name in args.datasets.split(","):
        part = work / f"{args.name}-{name}.json"
        if not part.is_file() or args.rerun:
            d = load(name, args.cache_dir)
            part.write_text(
                json.dumps({"cold": cold_rows(name, d, args, work), "next": next_rows(name, d, args)})
            )
        rows = json.loads(part.read_text())
        cold, nxt = cold + rows["cold"], nxt + rows["next"]
    if args.only:
        return
    cmd = "python benchmarks/suggest.py " + " ".join(sys.argv[1:])
    save(
        args.name,
        {"command": cmd, "cold": cold, "next": nxt},
        markdown(cold, nxt, args) + f"\n\nCommand: `{cmd}`.",
    )
    try:
        from suggest_report import figure

        figure(cold, COLD, RESULTS / f"{args.name}.png")
    except ImportError:
        pass


if __name__ == "__main__":
    main()
