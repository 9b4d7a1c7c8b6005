"""The FixMatch family's shipped defaults against the papers' forms, one deviation at a time.

    python benchmarks/fixmatch_forms_dev.py --seeds 0,1 --work /work/scratch/rel/forms

Each row adds one of the papers' choices to the shipped defaults (an EMA of the weights for
evaluation, weakly augmented labelled items, mu = 7 unlabelled items per labelled one), then all of
them with each paper's own thresholds and momenta ("papers' form"). The number of steps is fixed
per dataset (the presets' epoch count at mu = 1), so mu = 7 sees 7 times more unlabelled items, as
in the papers. k = 4 labels per class.

* AG News development pool (the benchmark's test part removed first), frozen all-MiniLM-L6-v2
  embeddings (``feature_views_dev.py`` extracts them), through :class:`ssft.SemiSupervisedClassifier`
  with the ``agnews-minilm`` preset and feature-space views; a seeded 25 % is the test part.
* The bundled 8x8 digits with the frozen ImageNet EfficientNet-Lite0 at 64 px (``demo-effnet``),
  cached views (one weak view per item for the weakly augmented labelled items); its 30 % holdout.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save  # noqa: E402
from feature_views_dev import embeddings, few_labels  # noqa: E402
from ssft import SemiSupervisedClassifier  # noqa: E402
from ssft.config import load_config  # noqa: E402
from ssft.data.splits import holdout_split  # noqa: E402
from ssft.run.runner import fit  # noqa: E402

METHODS = ("fixmatch", "freematch", "softmatch")
PAPER_KEYS = {
    "fixmatch": ["model.center=false", "method.threshold=0.95", "method.dist_align=false"],
    "freematch": ["model.center=false", "method.ema=0.999"],
    "softmatch": ["model.center=false", "method.ema=0.999", "method.align_labels=false"],
}
EMA, WEAK, MU = ["train.ema_weights=0.999"], ["method.weak_labeled=true"], ["train.unlabeled_ratio=7"]
VARIANTS = {
    "shipped defaults": lambda m: [],
    "+ EMA weights 0.999": lambda m: EMA,
    "+ weak labelled views": lambda m: WEAK,
    "+ mu = 7": lambda m: MU,
    "papers' form (all of the above + thresholds, momenta, no centring)": lambda m: [
        *EMA,
        *WEAK,
        *MU,
        *PAPER_KEYS[m],
    ],
}
AG_STEPS = 5 * 143  # the preset's 5 epochs of 4,560 rows at batch 32, mu = 1
DIGITS_STEPS = 5 * 40  # demo-effnet: 5 epochs of 1,258 pool items at batch 32


def ag_news(work: Path, method: str, keys: list[str], seed: int) -> float:
    X, y = embeddings(work)
    train, test = holdout_split(y, 0.25, 0, classes=[str(c) for c in np.unique(y)])
    clf = SemiSupervisedClassifier(
        method, config="agnews-minilm", seed=seed, steps=AG_STEPS, overrides=[k for k in keys]
    )
    return 100 * float(clf.fit(X[train], few_labels(y[train], 4, seed)).score(X[test], y[test]))


def digits(work: Path, method: str, keys: list[str], seed: int, out: Path) -> float:
    cfg = load_config(
        "demo-effnet",
        [
            f"method.name={method}",
            f"seed={seed}",
            f"data.split_seed={seed}",
            f"train.steps={DIGITS_STEPS}",
            "cache.views=1",
            f"cache.dir={work / 'cache'}",
            *keys,
        ],
    )
    return 100 * float(fit(cfg, out).results["test_accuracy"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--datasets", default="ag_news,digits")
    p.add_argument("--work", default="runs/fixmatch_forms_dev")
    p.add_argument(
        "--rows",
        default=None,
        help="a file of rows printed by an earlier (interrupted) run: those rows are reused, not rerun",
    )
    p.add_argument("--name", default="fixmatch_forms_dev", help="result file name in benchmarks/results")
    args = p.parse_args()
    work = Path(args.work)
    seeds = [int(v) for v in args.seeds.split(",")]
    datasets = args.datasets.split(",")
    done = []
    if args.rows:
        done = [
            ast.literal_eval(line)
            for line in Path(args.rows).read_text().splitlines()
            if line.startswith("{")
        ]
    rows = []
    for dataset in datasets:
        for variant, keys_of in VARIANTS.items():
            for method in METHODS:
                for seed in seeds:
                    row = {"dataset": dataset, "variant": variant, "method": method, "seed": seed}
                    old = [r for r in done if all(r[k] == v for k, v in row.items())]
                    if old:
                        rows.append(old[0])
                        continue
                    t0 = time.process_time()
                    keys = keys_of(method)
                    if dataset == "ag_news":
                        acc = ag_news(work, method, keys, seed)
                    else:
                        out = work / "runs" / f"{method}-{len(rows)}"
                        acc = digits(work, method, keys, seed, out)
                    rows.append({**row, "accuracy": acc, "cpu_s": time.process_time() - t0})
                    print(rows[-1], flush=True)
    header = " | ".join(f"{m} {d}" for d in datasets for m in METHODS)
    lines = [
        f"k = 4 labels per class, seeds {args.seeds}, development data (see the script); accuracy %, "
        "mean ± std over seeds; the machine (2 cores) was shared with other jobs.",
        "",
        f"| variant | {header} |",
        "|---|" + "---|" * (len(datasets) * len(METHODS)),
    ]
    for variant in VARIANTS:
        cells = []
        for d in datasets:
            for m in METHODS:
                a = [
                    r["accuracy"]
                    for r in rows
                    if (r["dataset"], r["variant"], r["method"]) == (d, variant, m)
                ]
                cells.append(f"{np.mean(a):.1f} ± {np.std(a):.1f}")
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    cmd = "python benchmarks/fixmatch_forms_dev.py " + " ".join(sys.argv[1:])
    lines += ["", f"Command: `{cmd}`."]
    save(args.name, {"rows": rows, "command": cmd}, "\n".join(lines))


if __name__ == "__main__":
    main()
