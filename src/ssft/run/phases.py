"""The parts a run trains and how it trains them: the model (its head initialised from the seed
alone), and :func:`train_method`, the one entry for both kinds of method (a gradient phase for a
trained method, one closed-form fit for a classical baseline), shared by ``ssft fit`` and the
scikit-learn estimator."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ssft.backbones.base import Backbone
from ssft.config import Config
from ssft.data.splits import Split
from ssft.distributed import is_main
from ssft.heads.model import SSFTModel
from ssft.methods.base import Method, centers_input
from ssft.methods.closed_form import ClosedFormMethod
from ssft.train.center import training_pool_means
from ssft.train.predict import pooled_features
from ssft.train.run_dir import MetricsLog
from ssft.train.streams import FeatureSource
from ssft.train.trainer import Trainer, TrainOutcome


def build_model(
    cfg: Config,
    backbone: Backbone,
    num_classes: int,
    source: FeatureSource,
    split: Split,
    device: torch.device,
) -> SSFTModel:
    """The head on ``backbone``, initialised from ``cfg.seed`` alone (not from whatever extraction
    consumed); when it centres its input (``model.center``), the means are measured on the training
    pool of ``source`` (:mod:`ssft.train.center`)."""
    torch.manual_seed(cfg.seed)
    model = SSFTModel(backbone, cfg.model, num_classes, center=centers_input(cfg)).to(device)
    if model.center:
        pooled, tokens = training_pool_means(
            source, split, cfg.seed, cfg.cache.batch_size, tokens=model.centers_tokens
        )
        model.set_feature_mean(pooled, token_mean=tokens)
    return model


def train_method(
    cfg: Config,
    run_dir: Path,
    method: Method,
    split: Split,
    labels: np.ndarray,
    source: FeatureSource,
    device: torch.device,
    log: MetricsLog,
    resume: bool = False,
) -> TrainOutcome:
    """Train ``method`` on the labelled and unlabelled items of ``split``: a closed-form method is
    fitted once on their pooled features (by rank 0 under DDP: the other ranks take its results),
    any other goes through a :class:`~ssft.train.trainer.Trainer` phase."""
    if isinstance(method, ClosedFormMethod):
        t0 = time.perf_counter()
        if is_main():
            bs = cfg.cache.batch_size
            method.fit(
                pooled_features(source, split.labeled, bs),
                labels[split.labeled],
                pooled_features(source, split.unlabeled, bs),  # all methods may use its statistics
            )
        return TrainOutcome(steps=0, seconds=time.perf_counter() - t0)
    return Trainer(cfg, run_dir, method, split, labels, source, device, log).fit(resume)
