"""Choosing the shipped defaults on development data pooled across datasets (never a test item).

    python benchmarks/dev_split.py --out runs/dev          # the development datasets, from the pools
    python benchmarks/defaults_dev.py --dev runs/dev --k 1,4 --seeds 0,1,2

Each development dataset is the benchmark's training pool only (its test part removed first by
``dev_split.py``); its own held-out 25 % is the development test part. Every candidate is one set
of overrides, the same on every dataset; the table ranks candidates by their mean development
accuracy over datasets and k, which is how the defaults in the presets were chosen.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save  # noqa: E402
from ssft.sweep.grid import sweep  # noqa: E402

# dataset -> (preset, overrides that point it at its development copy)
DATASETS = {
    "ag_news": (
        "agnews-minilm",
        [
            "data.name=csv",
            "data.text_column=text",
            "data.label_column=label",
            "data.path={dev}/ag_news_dev.csv",
        ],
    ),
    "cifar10": ("cifar10-effnet", ["data.root={dev}/cifar10_dev"]),
    "mnist_yellow": (
        "mnist-yellow-effnet",
        ["data.name=imagefolder", "data.root={dev}/mnist_stripes_yellow_dev"],
    ),
}
COMMON = ["data.holdout=0.25", "cache.store=pooled", "train.progress=false"]

CANDIDATES: dict[str, list[str]] = {
    **{f"linear_probe/C{c}": ["method.name=linear_probe", f"method.C={c}"] for c in ("0.1", "1.0", "10.0")},
    **{
        f"label_spreading/a{a}-n{n}": [
            "method.name=label_spreading",
            f"method.alpha={a}",
            f"method.n_neighbors={n}",
        ]
        for a in ("0.2", "0.5", "0.8", "0.95")
        for n in (10, 20)
    },
    "supervised/identity": ["method.name=supervised", "model.projector=identity"],
    "supervised/mlp": ["method.name=supervised", "model.projector=mlp"],
    "twinturbo/identity": ["method.name=twinturbo", "model.projector=identity"],
    "twinturbo/identity-e5": ["method.name=twinturbo", "model.projector=identity", "train.epochs=5"],
    "twinturbo/mlp": ["method.name=twinturbo", "model.projector=mlp"],
    "twinturbo/shipped": ["method.name=twinturbo"],
    "twinturbo/shipped-center": ["method.name=twinturbo", "model.center=true"],
    "twinturbo/mlp-e5": ["method.name=twinturbo", "model.projector=mlp", "train.epochs=5"],
    "content_style/identity": ["method.name=content_style", "model.projector=identity"],
    "content_style/identity-e5": ["method.name=content_style", "model.projector=identity", "train.epochs=5"],
}
# second round, twinturbo on the pooled latent (5 epochs): the weights of the unlabelled terms and
# the paper-faithful forms of the posterior and the prior samples
TT = ["method.name=twinturbo", "model.projector=identity", "train.epochs=5"]
CANDIDATES.update(
    {
        f"twinturbo/e5-{name}": [*TT, *keys]
        for name, keys in {
            "kl0.03": ["method.lambda_kl=0.03"],
            "marg0.5": ["method.lambda_marginal=0.5"],
            "categorical": ["method.conditional=categorical"],
            "posterior-softmax": ["method.posterior=softmax"],
            "prior-onehot": ["method.prior_samples=onehot"],
            "prior-smoothed": ["method.prior_samples=smoothed"],
            "prior-dirichlet100": ["method.prior_concentration=100"],
            "no-align-supcon": ["method.lambda_align=0", "method.lambda_supcon=0"],
            "ramp0.5": ["method.ramp=0.5"],
            # third round: combinations of the two that helped
            "categorical-onehot": ["method.conditional=categorical", "method.prior_samples=onehot"],
            "categorical-kl0.3": ["method.conditional=categorical", "method.lambda_kl=0.3"],
        }.items()
    }
)


# fourth round: the configuration with the best development accuracy pooled over the three sets of
# the TwinTURBO searches in benchmarks/tuned_baselines.py (the same trial scored best on AG News and
# CIFAR-10 and well on MNIST), rounded, checked here on k = 1 and 4 against the shipped one
CANDIDATES["twinturbo/e5-pooled-search"] = [
    *TT,
    "method.conditional=categorical_twin",
    "method.lambda_marginal=1.1",
    "method.lambda_kl=0.35",
    "method.lambda_align=0.8",
    "method.lambda_supcon=0.15",
    "train.lr=0.003",
]

# the FixMatch family. Round 1: the paper's fixed threshold needs a head that can become
# confident: the shipped cosine head (t = 10 at the start) against the paper's linear head, lower
# thresholds; SoftMatch's EMA, ramp and label alignment. Round 2: the head's input centred on the
# training pool's mean (model.center), which the family now does by default. Every candidate names
# model.center and SoftMatch's ema/align_labels explicitly, so its meaning does not follow the
# defaults.
FM = ["model.projector=identity", "train.epochs=5", "cache.strong_views=2"]
FIX, FREE, SOFT = "method.name=fixmatch", "method.name=freematch", "method.name=softmatch"
UNC, CEN = "model.center=false", "model.center=true"
PAPER = ["method.ema=0.999", "method.align_labels=false"]  # SoftMatch as in its paper
DA = ["method.dist_align=true", "method.ema=0.99"]  # FixMatch with distribution alignment
NODA = ["method.threshold=0.95", "method.dist_align=false"]  # FixMatch as in its paper
CANDIDATES.update(
    {
        "fixmatch/uncentred": [FIX, UNC, *NODA, *FM],
        "fixmatch/uncentred-t0.7": [FIX, UNC, "method.dist_align=false", "method.threshold=0.7", *FM],
        "fixmatch/uncentred-linear": [FIX, UNC, *NODA, "model.classifier=linear", *FM],
        "freematch/uncentred": [FREE, UNC, "method.ema=0.999", *FM],
        "freematch/uncentred-linear": [FREE, UNC, "method.ema=0.999", "model.classifier=linear", *FM],
        "softmatch/uncentred-paper": [SOFT, UNC, *PAPER, *FM],
        "softmatch/uncentred-paper-linear": [SOFT, UNC, *PAPER, "model.classifier=linear", *FM],
        "softmatch/uncentred-paper-ramp0.5": [SOFT, UNC, *PAPER, "method.ramp=0.5", *FM],
        "softmatch/uncentred-ema0.99": [SOFT, UNC, "method.ema=0.99", "method.align_labels=false", *FM],
        "softmatch/uncentred-align-labels": [SOFT, UNC, "method.ema=0.999", "method.align_labels=true", *FM],
        "softmatch/uncentred-ema0.99-align-labels": [
            SOFT, UNC, "method.ema=0.99", "method.align_labels=true", *FM
        ],
        "fixmatch/centred": [FIX, CEN, *NODA, *FM],
        **{
            f"fixmatch/centred-t{t}": [FIX, CEN, "method.dist_align=false", f"method.threshold={t}", *FM]
            for t in ("0.8", "0.7", "0.6", "0.5")
        },
        "fixmatch/centred-da": [FIX, CEN, "method.threshold=0.95", *DA, *FM],
        **{f"fixmatch/centred-t{t}-da": [FIX, CEN, f"method.threshold={t}", *DA, *FM] for t in ("0.6", "0.5")},
        "fixmatch/centred-linear": [FIX, CEN, *NODA, "model.classifier=linear", *FM],
        "freematch/centred": [FREE, CEN, "method.ema=0.999", *FM],
        "freematch/centred-ema0.99": [FREE, CEN, "method.ema=0.99", *FM],
        "softmatch/centred-paper": [SOFT, CEN, *PAPER, *FM],
        "softmatch/centred-ema0.99": [SOFT, CEN, "method.ema=0.99", "method.align_labels=false", *FM],
        "softmatch/centred-ema0.99-align-labels": [
            SOFT, CEN, "method.ema=0.99", "method.align_labels=true", *FM
        ],
    }
)  # fmt: skip


def main(
    datasets: dict[str, tuple[str, list[str]]] = DATASETS,
    candidates: dict[str, list[str]] = CANDIDATES,
    common: list[str] = COMMON,
    *,
    name: str = "defaults_dev",
    out: str = "runs/defaults-dev",
    k: str = "1,4",
    doc: str | None = __doc__,
) -> None:
    """Run ``candidates`` (name -> overrides) on each development dataset of ``datasets`` and rank
    them by their mean development accuracy; the defaults are this script's own search."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dev", default="runs/dev")
    p.add_argument("--k", default=k)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--datasets", default=",".join(datasets))
    p.add_argument("--only", default="", help="comma-separated candidate names")
    p.add_argument("--out", default=out)
    p.add_argument("--name", default=name)
    p.add_argument(
        "--collect", action="store_true", help="only tabulate the runs already finished under --out"
    )
    args = p.parse_args()
    rows = []
    for ds in args.datasets.split(",") if args.collect else []:
        for cname in candidates:
            for path in sorted((Path(args.out) / ds / cname.replace("/", "-")).glob("*/results.json")):
                rows.append({**json.loads(path.read_text()), "candidate": cname, "devset": ds})
    for ds in [] if args.collect else args.datasets.split(","):
        preset, keys = datasets[ds]
        keys = [key.format(dev=args.dev) for key in keys]
        for cname, cand in candidates.items():
            if args.only and cname not in args.only.split(","):
                continue
            for r in sweep(
                preset,
                Path(args.out) / ds / cname.replace("/", "-"),
                grid={"data.labels_per_class": args.k.split(",")},
                seeds=[int(s) for s in args.seeds.split(",")],
                overrides=[*keys, *common, *cand],
                verbose=False,
            ):
                r["candidate"], r["devset"] = cname, ds
                rows.append(r)
                print(
                    f"{ds:<13} {cname:<28} k={r['labels_per_class']} seed={r['seed']} {r['test_accuracy']:.4f}",
                    flush=True,
                )
    acc: dict[str, dict[tuple[str, int], list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        acc[r["candidate"]][(r["devset"], int(r["labels_per_class"]))].append(100 * r["test_accuracy"])
    cells = sorted({c for a in acc.values() for c in a})
    head = ["candidate", *(f"{d} k={k}" for d, k in cells), "mean"]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    ranked = sorted(acc, key=lambda c: -np.mean([np.mean(v) for v in acc[c].values()]))
    for c in ranked:
        vals = [
            f"{np.mean(acc[c][cell]):.1f} ± {np.std(acc[c][cell], ddof=1) if len(acc[c][cell]) > 1 else 0:.1f}"
            if cell in acc[c]
            else ""
            for cell in cells
        ]
        md.append(
            f"| {c} | " + " | ".join(vals) + f" | {np.mean([np.mean(v) for v in acc[c].values()]):.1f} |"
        )
    save(args.name, {"command": " ".join(sys.argv), "runs": rows}, "\n".join(md))


if __name__ == "__main__":
    main()
