"""Choosing the trainable text recipe on development data (never a test item).

    python benchmarks/dev_split.py --out runs/dev          # AG News development copy (from its pool)
    python benchmarks/finetune_dev.py --dev runs/dev --k 4,8 --seeds 0,1,2

Development datasets: Banking77's ``train.csv`` alone with 25 % of it held out (its ``test.csv``,
the benchmark's test part, is never read) and the AG News development copy of ``dev_split.py``.
Each candidate is one set of overrides of the dataset's frozen preset, the same on every dataset;
the table ranks them by mean development accuracy (``defaults_dev.py`` does the ranking), and
``results.json`` of each run keeps its timings, so accuracy can be read against cost.

Candidates: the frozen FixMatch head (the bar), then the backbone fine-tuned after the head
(``train.head_first_epochs``): the whole encoder or its last blocks, the backbone learning rate,
the number of steps, the FixMatch family's unlabelled term on live text views, and the token
budget ``backbone.max_length``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import defaults_dev  # noqa: E402

DATASETS = {
    "banking77": (
        "banking77-minilm",
        ["data.test_path=null", "data.holdout=0.25", "data.max_test=1000"],
    ),
    "ag_news": (
        "agnews-minilm",
        [
            "data.name=csv",
            "data.text_column=text",
            "data.label_column=label",
            "data.path={dev}/ag_news_dev.csv",
            "data.holdout=0.25",
            "data.max_test=1000",
        ],
    ),
}
COMMON = ["train.progress=false", "train.threads=1"]
#: the backbone trains after 5 epochs of the head on the cached frozen features (LP-FT)
FT = ["backbone.frozen=false", "train.head_first_epochs=5", "train.batch_size=16", "train.log_every=10"]
FIX = ["method.name=fixmatch"]
CANDIDATES: dict[str, list[str]] = {
    "frozen/fixmatch": FIX,
    "frozen/supervised": ["method.name=supervised"],
    "ft/fixmatch-full-s60-lr2e-5": [*FIX, *FT, "train.steps=60", "train.backbone_lr=2e-5"],
    "ft/fixmatch-full-s200-lr2e-5": [*FIX, *FT, "train.steps=200", "train.backbone_lr=2e-5"],
    "ft/fixmatch-full-s200-lr5e-5": [*FIX, *FT, "train.steps=200", "train.backbone_lr=5e-5"],
    "ft/fixmatch-last2-s200-lr5e-5": [
        *FIX,
        *FT,
        "backbone.train_blocks=2",
        "train.steps=200",
        "train.backbone_lr=5e-5",
    ],
    "ft/supervised-full-s200-lr2e-5": [
        "method.name=supervised",
        *FT,
        "train.steps=200",
        "train.backbone_lr=2e-5",
    ],
    "ft/fixmatch-full-s200-lr5e-5-supcon1": [
        *FIX,
        *FT,
        "train.steps=200",
        "train.backbone_lr=5e-5",
        "method.lambda_supcon=1.0",
    ],
    "ft/fixmatch-full-s200-lr5e-5-supcon1-bal2": [
        *FIX,
        *FT,
        "train.steps=200",
        "train.backbone_lr=5e-5",
        "method.lambda_supcon=1.0",
        "train.labeled_per_class=2",
    ],
    "ft/fixmatch-full-s200-lr5e-5-supcon1-bal2-ulb": [
        *FIX,
        *FT,
        "train.steps=200",
        "train.backbone_lr=5e-5",
        "method.lambda_supcon=1.0",
        "train.labeled_per_class=2",
        "method.supcon_unlabeled=true",
    ],
    "ft/fixmatch-full-s200-lr1e-4-supcon1-bal2": [
        *FIX,
        *FT,
        "train.steps=200",
        "train.backbone_lr=1e-4",
        "method.lambda_supcon=1.0",
        "train.labeled_per_class=2",
    ],
    "ft/fixmatch-full-s200-lr5e-5-supcon1-bal2-mu3": [
        *FIX,
        *FT,
        "train.steps=200",
        "train.backbone_lr=5e-5",
        "method.lambda_supcon=1.0",
        "train.labeled_per_class=2",
        "train.unlabeled_ratio=3",
    ],
    "ft/fixmatch-full-s200-lr5e-5-supcon1-bal2-nolpft": [
        *FIX,
        *FT,
        "train.head_first_epochs=0",
        "train.steps=200",
        "train.backbone_lr=5e-5",
        "method.lambda_supcon=1.0",
        "train.labeled_per_class=2",
    ],
    "ft/fixmatch-lora-s200-lr1e-3-supcon1-bal2": [
        *FIX,
        *FT,
        "backbone.lora=true",
        "train.steps=200",
        "train.backbone_lr=1e-3",
        "method.lambda_supcon=1.0",
        "train.labeled_per_class=2",
    ],
    "ft/fixmatch-full-le10-lr5e-5-supcon1-bal2": [
        *FIX,
        *FT,
        "train.labeled_epochs=10",
        "train.backbone_lr=5e-5",
        "method.lambda_supcon=1.0",
        "train.labeled_per_class=2",
    ],
    # about the head-first phase alone (one step of the second phase): what that phase starts
    # from, predicted through the live backbone
    "ft/fixmatch-full-s1-supcon1-bal2": [
        *FIX,
        *FT,
        "train.steps=1",
        "method.lambda_supcon=1.0",
        "train.labeled_per_class=2",
    ],
    "ft/fixmatch-full-s200-lr2e-5-len128": [
        *FIX,
        *FT,
        "train.steps=200",
        "train.backbone_lr=2e-5",
        "backbone.max_length=128",
    ],
    # diagnostics of the AG News loss, ten labelled passes: the backbone without dropout while it
    # trains (its features then match the evaluated ones), and a near-still backbone (the head's part)
    "ft/fixmatch-full-le10-lr5e-5-supcon1-bal2-nodrop": [
        *FIX,
        *FT,
        "train.labeled_epochs=10",
        "train.backbone_lr=5e-5",
        "method.lambda_supcon=1.0",
        "train.labeled_per_class=2",
        "backbone.dropout=0",
    ],
    "ft/fixmatch-full-le10-lr1e-5-supcon1-bal2": [
        *FIX,
        *FT,
        "method.lambda_supcon=1.0",
        "train.labeled_per_class=2",
        "train.labeled_epochs=10",
        "train.backbone_lr=1e-5",
    ],
    "ft/fixmatch-full-le10-lr5e-5-bal2": [
        *FIX,
        *FT,
        "train.labeled_epochs=10",
        "train.backbone_lr=5e-5",
        "train.labeled_per_class=2",
    ],
    "ft/fixmatch-full-le10-lr5e-5-supcon1-bal2-ulb": [
        *FIX,
        *FT,
        "train.labeled_epochs=10",
        "train.backbone_lr=5e-5",
        "train.labeled_per_class=2",
        "method.lambda_supcon=1.0",
        "method.supcon_unlabeled=true",
    ],
    "ft/fixmatch-full-le10-lr5e-5-supcon1-t05-bal2": [
        *FIX,
        *FT,
        "train.labeled_epochs=10",
        "train.backbone_lr=5e-5",
        "train.labeled_per_class=2",
        "method.lambda_supcon=1.0",
        "method.supcon_temperature=0.5",
    ],
    "ft/fixmatch-full-le10-lr5e-5-supcon01-bal2": [
        *FIX,
        *FT,
        "train.labeled_epochs=10",
        "train.backbone_lr=5e-5",
        "train.labeled_per_class=2",
        "method.lambda_supcon=0.1",
    ],
    # the contrastive term through a projection MLP (the SupCon paper's), not on the head's latent
    "ft/fixmatch-full-le10-lr5e-5-supcon1p-bal2": [
        *FIX,
        *FT,
        "train.labeled_per_class=2",
        "method.lambda_supcon=1.0",
        "method.supcon_projection=128",
        "train.labeled_epochs=10",
        "train.backbone_lr=5e-5",
    ],
    "ft/fixmatch-full-s200-lr5e-5-supcon1p-bal2": [
        *FIX,
        *FT,
        "train.labeled_per_class=2",
        "method.lambda_supcon=1.0",
        "method.supcon_projection=128",
        "train.steps=200",
        "train.backbone_lr=5e-5",
    ],
    "ft/fixmatch-full-le10-lr5e-5-supcon1-bal2-wu03": [
        *FIX,
        *FT,
        "train.labeled_epochs=10",
        "train.backbone_lr=5e-5",
        "method.lambda_supcon=1.0",
        "train.labeled_per_class=2",
        "train.warmup=0.3",
    ],
    # more classes per contrastive batch (32 of Banking77's 77 rather than 8), fewer steps
    "ft/fixmatch-full-s100-b64-lr5e-5-supcon1-bal2": [
        *FIX,
        *FT,
        "method.lambda_supcon=1.0",
        "train.labeled_per_class=2",
        "train.steps=100",
        "train.batch_size=64",
        "train.backbone_lr=5e-5",
    ],
    "ft/fixmatch-full-s200-lr5e-5-supcon1-t005-bal2": [
        *FIX,
        *FT,
        "method.lambda_supcon=1.0",
        "train.labeled_per_class=2",
        "train.steps=200",
        "train.backbone_lr=5e-5",
        "method.supcon_temperature=0.05",
    ],
    "ft/fixmatch-full-le10-lr1e-9-supcon1-bal2": [
        *FIX,
        *FT,
        "train.labeled_epochs=10",
        "train.backbone_lr=1e-9",
        "method.lambda_supcon=1.0",
        "train.labeled_per_class=2",
    ],
}

if __name__ == "__main__":
    defaults_dev.main(
        DATASETS, CANDIDATES, COMMON, name="finetune_dev", out="runs/finetune-dev", k="4", doc=__doc__
    )
