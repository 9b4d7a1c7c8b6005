"""AG News with frozen all-MiniLM-L6-v2: every method on the same features and splits.

    python benchmarks/ssl_agnews.py --out runs/bench/agnews            # k = 1, 4, 10; seeds 0, 1, 2

The test part is a fixed, class-stratified 20 % of ../shared/data/ag_news/test.csv (1,520 items),
the same for every seed; the pool is the other 6,080. The backbone runs once (feature cache).
Resumable: finished runs are read back, interrupted ones resume from their checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import require_shared, save  # noqa: E402
from ssft.report.tables import format_table, summarize  # noqa: E402
from ssft.sweep.grid import sweep  # noqa: E402

# label -> overrides. "twinturbo" is the preset's transformer projector over MiniLM's tokens;
# "twinturbo-identity" is the cosine classifier directly on the pooled latent (no projector).
METHODS: dict[str, list[str]] = {
    "linear_probe": ["method.name=linear_probe"],
    "label_spreading": ["method.name=label_spreading"],
    "supervised": ["method.name=supervised"],
    "twinturbo": ["method.name=twinturbo"],
    "twinturbo-identity": ["method.name=twinturbo", "model.projector=identity"],
    # the configuration chosen on development data (benchmarks/tune_dev.py --task agnews-twinturbo):
    # more steps on the unlabelled stream; supervised at the same budget for a fair comparison
    "twinturbo-identity-e5": ["method.name=twinturbo", "model.projector=identity", "train.epochs=5"],
    "supervised-identity-e5": ["method.name=supervised", "model.projector=identity", "train.epochs=5"],
    "content_style": ["method.name=content_style", "model.projector=identity"],
    # the FixMatch family on cached weak/strong text views (docs/methods/fixmatch.md), preset defaults
    "fixmatch": ["method.name=fixmatch"],
    "freematch": ["method.name=freematch"],
    # the optional consistency term on strong views, beyond the papers
    "twinturbo+consistency": ["method.name=twinturbo", "method.lambda_consistency=1"],
    "content_style+consistency": [
        "method.name=content_style",
        "model.projector=identity",
        "method.lambda_consistency=1",
    ],
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/bench/agnews")
    p.add_argument("--k", default="1,4,10")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], help="extra overrides for every run"
    )
    p.add_argument("--name", default="ssl_agnews", help="result file name under benchmarks/results")
    args = p.parse_args()
    root = require_shared("ag_news")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for method in args.methods.split(","):
        if method not in METHODS:
            raise SystemExit(f"unknown method label {method!r}; known: {', '.join(METHODS)}")
        part = sweep(
            "agnews-minilm",
            Path(args.out) / method,
            grid={"data.labels_per_class": args.k.split(",")},
            seeds=seeds,
            overrides=[
                f"data.root={root}",
                "train.progress=false",
                *METHODS[method],
                *args.overrides,
            ],
        )
        for r in part:
            r["method"] = method
        rows += part
    group = ("method", "labels_per_class")
    save(
        args.name,
        {"command": " ".join(sys.argv), "summary": summarize(rows, group), "runs": rows},
        format_table(rows, group),
    )


if __name__ == "__main__":
    main()
