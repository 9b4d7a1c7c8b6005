"""Hyper-parameter choices on the development datasets of ``dev_split.py`` (never the test part).

    python benchmarks/dev_split.py --out runs/dev
    python benchmarks/tune_dev.py --dev runs/dev --task agnews --k 4 --seeds 0,1
    python benchmarks/tune_dev.py --dev runs/dev --task mnist --k 4 --seeds 0

Each candidate is a list of overrides; the table printed (and saved under benchmarks/results as
``tune_<task>.md``) is development accuracy, mean ± std over the seeds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save  # noqa: E402
from ssft.report.tables import format_table  # noqa: E402
from ssft.sweep.grid import sweep  # noqa: E402

AG_BASE = ["data.name=csv", "data.text_column=text", "data.label_column=label", "data.holdout=0.25"]
# the same budget as benchmarks/ssl_mnist.py
MNIST_BASE = [
    "data.name=imagefolder", "data.holdout=0.25", "backbone.name=random:vit-tiny", "backbone.frozen=false",
    "train.steps=200", "train.batch_size=32", "train.unlabeled_ratio=1", "train.lr=0.002",
    "train.backbone_lr=0.001", "data.max_unlabeled=null",
]  # fmt: skip

CANDIDATES: dict[str, dict[str, list[str]]] = {
    "agnews": {
        "linear_probe": ["method.name=linear_probe"],
        "label_spreading": ["method.name=label_spreading"],
        "supervised/transformer": ["method.name=supervised"],
        "supervised/identity": ["method.name=supervised", "model.projector=identity"],
        "twinturbo/transformer": ["method.name=twinturbo"],
        "twinturbo/identity": ["method.name=twinturbo", "model.projector=identity"],
        "twinturbo/mlp": ["method.name=twinturbo", "model.projector=mlp", "model.width=256"],
        "content_style/pooled": ["method.name=content_style"],
    },
    # twinturbo on the pooled latent (identity projector): term weights, variants, schedule
    "agnews-twinturbo": {
        f"tt/{name}": ["method.name=twinturbo", "model.projector=identity", *keys]
        for name, keys in {
            "default": [],
            "categorical": ["method.conditional=categorical"],
            "categorical_twin": ["method.conditional=categorical_twin"],
            "kl0.5": ["method.lambda_kl=0.5"],
            "kl0": ["method.lambda_kl=0"],
            "marginal2": ["method.lambda_marginal=2"],
            "no_align": ["method.lambda_align=0"],
            "no_supcon": ["method.lambda_supcon=0"],
            "epochs5": ["train.epochs=5"],
            "ulb_ratio4": ["train.unlabeled_ratio=4"],
            # second round: combinations of what helped in the first
            "epochs5_kl0.5": ["train.epochs=5", "method.lambda_kl=0.5"],
            "epochs5_categorical": ["train.epochs=5", "method.conditional=categorical"],
            "epochs5_categorical_kl0.5": [
                "train.epochs=5",
                "method.conditional=categorical",
                "method.lambda_kl=0.5",
            ],
            "epochs10_kl0.5": ["train.epochs=10", "method.lambda_kl=0.5"],
        }.items()
    },
    "mnist": {
        "supervised": ["method.name=supervised"],
        "twinturbo": ["method.name=twinturbo"],
        "content_style": ["method.name=content_style", "model.projector=identity"],
        "content_style/non_saturating": [
            "method.name=content_style",
            "model.projector=identity",
            "method.kl_generator=non_saturating",
        ],
        "content_style/kl0.01": [
            "method.name=content_style",
            "model.projector=identity",
            "method.lambda_content=0.01",
            "method.lambda_style=0.01",
        ],
        "content_style/projector": ["method.name=content_style", "method.input=projector"],
        "twinturbo/non_saturating": ["method.name=twinturbo", "method.kl_generator=non_saturating"],
        "twinturbo/no_unsup": ["method.name=twinturbo", "method.lambda_marginal=0", "method.lambda_kl=0"],
    },
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dev", default="runs/dev")
    p.add_argument("--task", choices=sorted(CANDIDATES), required=True)
    p.add_argument("--k", default="4")
    p.add_argument("--seeds", default="0")
    p.add_argument("--only", default="", help="comma-separated candidate names")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--out", default="runs/tune")
    args = p.parse_args()
    dev = Path(args.dev)
    if args.task.startswith("agnews"):
        preset, base = "agnews-minilm", [*AG_BASE, f"data.path={dev / 'ag_news_dev.csv'}"]
    else:
        preset, base = "mnist-offline", [*MNIST_BASE, f"data.root={dev / 'mnist_dev'}"]
    rows = []
    for name, keys in CANDIDATES[args.task].items():
        if args.only and name not in args.only.split(","):
            continue
        for r in sweep(
            preset,
            Path(args.out) / args.task / name.replace("/", "-"),
            grid={"data.labels_per_class": args.k.split(",")},
            seeds=[int(s) for s in args.seeds.split(",")],
            overrides=[*base, "train.progress=false", *keys, *args.overrides],
            verbose=False,
        ):
            r["candidate"] = name
            rows.append(r)
            print(
                f"{name:<28} k={r['labels_per_class']} seed={r['seed']} dev acc {r['test_accuracy']:.4f}",
                flush=True,
            )
    save(
        f"tune_{args.task}",
        {"command": " ".join(sys.argv), "runs": rows},
        format_table(rows, ("candidate", "labels_per_class")),
    )


if __name__ == "__main__":
    main()
