"""Choosing the trainable vision recipe on development data (never a test item).

    python benchmarks/dev_split.py --out runs/dev          # the development copies, from the pools
    python benchmarks/finetune_vision_dev.py --dev runs/dev --k 25 --seeds 0,1,2

Development datasets: yellow-striped MNIST and CIFAR-10, each the benchmark's training pool only
(``dev_split.py`` removes the test part first) with its own 25 % held out. Every candidate is one
set of overrides of the dataset's frozen preset, the same on both datasets, and trains the same
head (content-style, the method whose paper fine-tunes its backbone) on EfficientNet-Lite0; the
table ranks candidates by their mean development accuracy over the two datasets.

Candidates: the frozen head (the bar); the grid's trainable setting (the last 2 stages at
``backbone_lr=1e-4`` from a fresh head, ``grid-effnet-trainable``); the head trained first on the
cached frozen features (LP-FT, ``train.head_first_epochs``) before the backbone joins; lower
backbone learning rates; the whole network; LoRA adapters.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import defaults_dev  # noqa: E402

DATASETS = {
    "mnist_yellow": (
        "mnist-yellow-effnet",
        ["data.name=imagefolder", "data.root={dev}/mnist_stripes_yellow_dev"],
    ),
    "cifar10": ("cifar10-effnet", ["data.root={dev}/cifar10_dev"]),
}
COMMON = ["data.holdout=0.25", "cache.store=pooled", "train.progress=false", "train.threads=1"]
CS = ["method.name=content_style"]
TRAIN = ["backbone.frozen=false", "train.batch_size=32"]
LPFT = ["train.head_first_epochs=5"]
LAST2 = ["backbone.train_blocks=2"]
CANDIDATES: dict[str, list[str]] = {
    "frozen/content_style": CS,
    "ft/last2-s150-lr1e-4": [*CS, *TRAIN, *LAST2, "train.steps=150", "train.backbone_lr=1e-4"],
    "ft/last2-lpft-s150-lr1e-4": [*CS, *TRAIN, *LAST2, *LPFT, "train.steps=150", "train.backbone_lr=1e-4"],
    "ft/last2-lpft-s150-lr1e-5": [*CS, *TRAIN, *LAST2, *LPFT, "train.steps=150", "train.backbone_lr=1e-5"],
    "ft/last2-lpft-s300-lr3e-5": [*CS, *TRAIN, *LAST2, *LPFT, "train.steps=300", "train.backbone_lr=3e-5"],
    "ft/full-lpft-s150-lr3e-5": [
        *CS,
        *TRAIN,
        "backbone.train_blocks=0",
        *LPFT,
        "train.steps=150",
        "train.backbone_lr=3e-5",
    ],
    **{
        f"{name}-bnfrozen": [*keys, "backbone.bn_stats=frozen"]
        for name, keys in (
            ("ft/last2-s150-lr1e-4", [*CS, *TRAIN, *LAST2, "train.steps=150", "train.backbone_lr=1e-4"]),
            (
                "ft/last2-lpft-s150-lr1e-4",
                [*CS, *TRAIN, *LAST2, *LPFT, "train.steps=150", "train.backbone_lr=1e-4"],
            ),
            (
                "ft/last2-lpft-s150-lr1e-5",
                [*CS, *TRAIN, *LAST2, *LPFT, "train.steps=150", "train.backbone_lr=1e-5"],
            ),
            (
                "ft/full-lpft-s150-lr3e-5",
                [*CS, *TRAIN, "backbone.train_blocks=0", *LPFT, "train.steps=150", "train.backbone_lr=3e-5"],
            ),
            ("ft/last2-s300-lr1e-4", [*CS, *TRAIN, *LAST2, "train.steps=300", "train.backbone_lr=1e-4"]),
            ("ft/last2-s150-lr3e-4", [*CS, *TRAIN, *LAST2, "train.steps=150", "train.backbone_lr=3e-4"]),
            (
                "ft/full-s150-lr1e-4",
                [*CS, *TRAIN, "backbone.train_blocks=0", "train.steps=150", "train.backbone_lr=1e-4"],
            ),
            ("ft/last2-s150-lr1e-3", [*CS, *TRAIN, *LAST2, "train.steps=150", "train.backbone_lr=1e-3"]),
            (
                "ft/full-s150-lr3e-4",
                [*CS, *TRAIN, "backbone.train_blocks=0", "train.steps=150", "train.backbone_lr=3e-4"],
            ),
            (
                "ft/last3-s150-lr3e-4",
                [*CS, *TRAIN, "backbone.train_blocks=3", "train.steps=150", "train.backbone_lr=3e-4"],
            ),
            (
                "ft/last2-lpft-s300-lr1e-4",
                [*CS, *TRAIN, *LAST2, *LPFT, "train.steps=300", "train.backbone_lr=1e-4"],
            ),
        )
    },
    "ft/lora-s150-lr1e-3": [
        *CS,
        *TRAIN,
        "backbone.train_blocks=0",
        "backbone.lora=true",
        "train.steps=150",
        "train.backbone_lr=1e-3",
    ],
    "ft/lora-s150-lr3e-3": [
        *CS,
        *TRAIN,
        "backbone.train_blocks=0",
        "backbone.lora=true",
        "train.steps=150",
        "train.backbone_lr=3e-3",
    ],
    "ft/lora-s150-lr1e-2": [
        *CS,
        *TRAIN,
        "backbone.train_blocks=0",
        "backbone.lora=true",
        "train.steps=150",
        "train.backbone_lr=1e-2",
    ],
    "ft/lora-lpft-s150-lr1e-3": [
        *CS,
        *TRAIN,
        *LPFT,
        "backbone.train_blocks=0",
        "backbone.lora=true",
        "train.steps=150",
        "train.backbone_lr=1e-3",
    ],
}

if __name__ == "__main__":
    defaults_dev.main(
        DATASETS,
        CANDIDATES,
        COMMON,
        name="finetune_vision_dev",
        out="runs/finetune-vision-dev",
        k="25",
        doc=__doc__,
    )
