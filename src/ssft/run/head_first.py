"""Head first, then the backbone (LP-FT): a trainable run that starts from a trained head.

Fine-tuning a pretrained backbone under a freshly initialised head sends the head's large early
gradients into the backbone and distorts the features it was chosen for (Kumar et al., "Fine-Tuning
can Distort Pretrained Features and Underperform Out-of-Distribution", ICLR 2022, whose remedy is
to train the head on the frozen features first). With ``train.head_first_epochs = n > 0`` and a
trainable backbone, a run does that: the method (every one of its terms, the unlabelled ones too)
first trains for ``n`` epochs with the backbone frozen, on features from the feature cache (the
entry a frozen run of the same backbone and data uses, so it is extracted once and shared), then
the backbone's trainable parameters join for ``train.steps`` / ``train.epochs`` steps, with fresh
optimiser state and schedule.

The first phase keeps its own metrics and checkpoint in ``<run>/head_first/``; an interrupted run
resumes inside whichever phase it was in. See docs/methods/head_first.md.

It is a phase of the run (:mod:`ssft.run.runner`), before the main one; both are a
:class:`~ssft.train.trainer.Trainer`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssft.backbones.base import Backbone
from ssft.config import Config
from ssft.data.base import Dataset
from ssft.data.splits import Split
from ssft.distributed import is_main
from ssft.methods.base import Method
from ssft.run.directory import NullLog
from ssft.run.sources import build_sources
from ssft.train.trackers import open_metrics_log
from ssft.train.trainer import Trainer

#: The first phase's folder inside the run directory.
SUBDIR = "head_first"


def head_first_config(cfg: Config) -> Config:
    """The configuration of the first phase: the same run with the backbone frozen and cached, for
    ``train.head_first_epochs`` epochs, without trackers or validation passes of its own."""
    return dataclasses.replace(
        cfg,
        backbone=dataclasses.replace(cfg.backbone, frozen=True),
        cache=dataclasses.replace(cfg.cache, enabled=True),
        train=dataclasses.replace(
            cfg.train,
            epochs=cfg.train.head_first_epochs,
            steps=None,
            labeled_epochs=None,
            logger="none",
            eval_every=0,
        ),
    )


@contextmanager
def frozen(backbone: Backbone) -> Iterator[Backbone]:
    """The backbone frozen (no gradients, eval mode) inside the block; afterwards exactly the
    trainable set the run asked for (last blocks, adapters, or everything) and its train/eval mode."""
    trainable = [(p, p.requires_grad) for p in backbone.parameters()]
    was_frozen, was_training = backbone.frozen, backbone.training
    backbone.freeze()
    try:
        yield backbone
    finally:
        for p, flag in trainable:
            p.requires_grad_(flag)
        backbone.frozen = was_frozen
        backbone.train(was_training)


def head_first_sources(
    cfg: Config,
    dataset: Dataset,
    split: Split,
    backbone: Backbone,
    device: torch.device,
    view_kinds: tuple[str, ...],
) -> tuple[Any, dict[str, Any]]:
    """The first phase's training source (cached frozen features, extracted once and shared with
    frozen runs) and its extraction stats. The run also measures its pool mean (``model.center``)
    on it, rather than running the trainable backbone over the pool a second time."""
    with frozen(backbone):
        source, _, stats = build_sources(head_first_config(cfg), dataset, split, backbone, device, view_kinds)
    return source, stats


def train_head_first(
    cfg: Config,
    run: Path,
    method: Method,
    split: Split,
    labels: np.ndarray,
    backbone: Backbone,
    device: torch.device,
    sources: tuple[Any, dict[str, Any]],
    resume: bool,
) -> dict[str, Any]:
    """Run the first phase (see the module docstring) on ``sources`` (:func:`head_first_sources`)
    and return its result fields. Skipped when resuming a run whose second phase has a checkpoint:
    that checkpoint holds the whole method."""
    if resume and (run / "checkpoint.pt").exists():
        return {}
    sub = run / SUBDIR
    sub.mkdir(parents=True, exist_ok=True)
    cfg1 = head_first_config(cfg)
    source, stats = sources
    with frozen(backbone):
        log = open_metrics_log(cfg1, sub) if is_main() else NullLog()  # rank 0 writes (DDP)
        trainer = Trainer(cfg1, sub, method, split, labels, source, device, log)
        outcome = trainer.fit(resume=resume and (sub / "checkpoint.pt").exists())
    return {
        "head_first_steps": outcome.steps,
        "head_first_seconds": outcome.seconds,
        "head_first_extract_seconds": stats["extract_seconds"],
    }
