"""One training phase: AdamW with warm-up and cosine decay, gradient clipping, autocast on GPU,
every term logged, checkpointed, resumable exactly.

The step reads top to bottom in :meth:`Trainer.fit`. Which items a step trains on is the
:class:`~ssft.train.batch_plan.BatchPlan`'s business; what happens around the steps (progress,
metrics, validation, checkpoints) is its callbacks' (:mod:`ssft.train.callbacks`); DDP is the
:class:`~ssft.train.ddp.DataParallel` strategy. The checkpoint is assembled from each part's
``state_dict`` (:meth:`Trainer.state_dict`), so it knows no feature.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssft.config import Config
from ssft.data.splits import Split
from ssft.distributed import mean_over_ranks, resume_command
from ssft.errors import Interrupted, TrainingError
from ssft.methods.base import Method
from ssft.train.batch_plan import BatchPlan
from ssft.train.callbacks import Callback, Checkpointer, MetricsWindow, Progress, Validator
from ssft.train.checkpoint import load_checkpoint
from ssft.train.ddp import DataParallel
from ssft.train.optim import constrain_, parameter_groups
from ssft.train.run_dir import MetricsLog
from ssft.train.runtime import autocast_for, rng_state, set_rng_state
from ssft.train.schedule import stop_signals, warmup_cosine
from ssft.train.streams import FeatureSource
from ssft.train.weight_ema import WeightEMA


@dataclass
class TrainOutcome:
    """What a phase reports: steps done, training seconds (over interruptions too), the
    validation-selected state (or None) and its result fields."""

    steps: int
    seconds: float
    best_state: dict[str, Any] | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def total_steps(tc: Any, steps_per_epoch: int, labeled: int) -> int:
    """The run's optimiser steps: ``train.steps`` if set, else ``train.labeled_epochs`` passes over
    the ``labeled`` items, else ``train.epochs`` passes of the unlabelled stream; the last two are
    capped at ``train.max_steps``."""
    if tc.steps:
        return int(tc.steps)
    if tc.labeled_epochs:
        wanted = max(1, math.ceil(tc.labeled_epochs * labeled / tc.batch_size))
    else:
        wanted = tc.epochs * steps_per_epoch
    return int(min(wanted, tc.max_steps or math.inf))


class Trainer:
    """The parts of one phase, built from the config; :meth:`fit` trains (resuming when asked)."""

    def __init__(
        self,
        cfg: Config,
        run_dir: Path,
        method: Method,
        split: Split,
        labels: np.ndarray,
        source: FeatureSource,
        device: torch.device,
        log: MetricsLog,
    ) -> None:
        tc = cfg.train
        self.cfg, self.run_dir, self.method, self.source, self.device, self.log = (
            cfg,
            run_dir,
            method,
            source,
            device,
            log,
        )
        self.ddp = DataParallel(method, device)
        self.plan = BatchPlan(cfg, method, split, labels, self.ddp, device)
        self.steps_per_epoch = max(
            1, math.ceil((split.labeled.size + split.unlabeled.size) / self.plan.ulb_batch)
        )
        self.total = total_steps(tc, self.steps_per_epoch, split.labeled.size)
        # Weight decay on weight matrices only: not on t, b, class embeddings, biases, norms (optim.py).
        self.groups = parameter_groups(
            method,
            lr=tc.lr,
            backbone_lr=tc.backbone_lr,
            weight_decay=tc.weight_decay,
            layer_decay=tc.layer_decay,
        )
        self.params = [p for g in self.groups for p in g["params"]]
        self.optimizer = torch.optim.AdamW(self.groups, lr=tc.lr, weight_decay=tc.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, warmup_cosine(self.total, tc.warmup)
        )
        self.scaler = torch.amp.GradScaler(enabled=device.type == "cuda" and tc.precision == "fp16")
        # train.ema_weights: an average of the weights for evaluation (train/weight_ema.py)
        self.ema = WeightEMA(method, self.params, tc.ema_weights) if tc.ema_weights else None
        self.checkpoint_path = run_dir / "checkpoint.pt"
        progress = Progress(cfg.method.name, tc.progress)
        self.validator = Validator(
            split.validation, labels, tc.eval_every * self.steps_per_epoch if tc.eval_every else 0
        )
        self.callbacks: list[Callback] = [
            progress,
            MetricsWindow(log, tc.log_every, progress),
            self.validator,
            Checkpointer(self.checkpoint_path, tc.checkpoint_every),
        ]
        self.start, self.previous_seconds, self.stopping = 0, 0.0, False
        self._t0 = time.perf_counter()

    # -- the checkpoint: one entry per part ------------------------------------------------------

    def seconds(self) -> float:
        return self.previous_seconds + time.perf_counter() - self._t0

    def state_dict(self, step: int) -> dict[str, Any]:
        state = {
            "step": step,
            "train_seconds": self.seconds(),
            "method": self.method.trained_state(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "batch_plan": self.plan.state_dict(),
            **self.ddp.rng_states(rng_state()),  # this rank's generators (every rank's under DDP)
        }
        if self.ema is not None:
            state["weight_ema"] = self.ema.state_dict()
        for cb in self.callbacks:
            if cb.state_key:
                state[cb.state_key] = cb.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        parts = ["method", "optimizer", "scheduler", "batch_plan"]
        parts += [cb.state_key for cb in self.callbacks if cb.state_key]
        absent = [k for k in parts if k not in state]
        if absent:  # e.g. a checkpoint of an ssft before the trainer kept one entry per part
            raise TrainingError(
                f"{self.checkpoint_path} has no {', '.join(absent)}: it was written by another version "
                "of ssft and cannot resume this run; delete it to restart the run (or finish it with "
                "the version that started it)"
            )
        self.method.restore_trained_state(
            state["method"], f"delete {self.checkpoint_path} to restart the run"
        )
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.plan.load_state_dict(state["batch_plan"])
        if self.ema is not None:
            if "weight_ema" not in state:
                raise TrainingError(
                    f"{self.checkpoint_path} was written without train.ema_weights; resume with it off"
                )
            self.ema.load_state_dict(state["weight_ema"])
        set_rng_state(self.ddp.rank_rng_state(state))
        self.start, self.previous_seconds = int(state["step"]), float(state["train_seconds"])
        for cb in self.callbacks:
            if cb.state_key:
                cb.load_state_dict(state[cb.state_key])

    # -- the loop ---------------------------------------------------------------------------------

    def fit(self, resume: bool = False) -> TrainOutcome:
        """Train from the first step, or from the checkpoint when ``resume`` and there is one."""
        if resume and self.checkpoint_path.exists():
            self.load_state_dict(load_checkpoint(self.checkpoint_path))
        tc, total = self.cfg.train, self.total
        train_step = self.ddp.wrap()  # method.train_step, through DistributedDataParallel under DDP
        self.method.train()
        self._t0 = time.perf_counter()
        for cb in self.callbacks:
            cb.on_start(self)
        payloads = self.source.prefetch(self.plan.items(self.start, total))
        try:
            with stop_signals() as flag:
                for step in range(self.start, total):
                    payload = next(payloads)
                    with autocast_for(self.device, tc.precision):
                        terms = train_step(self.plan.batch(self.source, payload, step, total))
                    values = self.logged_values(terms, step)
                    self.optimise(terms["loss"])
                    done = step + 1
                    # under DDP the flag is agreed on by every rank, at the same step
                    self.stopping = self.ddp.any_rank(flag["stop"])
                    for cb in self.callbacks:
                        cb.on_step_end(self, done, values)
                    if self.stopping and done != total:
                        raise Interrupted(
                            f"stopped at step {done}/{total}; resume with: {resume_command(self.run_dir)}"
                        )
            for cb in self.callbacks:
                cb.on_end(self)
        finally:
            for cb in self.callbacks:
                cb.on_close(self)
        if self.ema is not None:
            self.ema.copy_to_model()  # the final model is the average: evaluated, saved and loaded as such
        fields: dict[str, Any] = {"steps_per_epoch": self.steps_per_epoch}
        v = self.validator
        if v.best_state is not None:
            fields.update(val_accuracy=v.best_accuracy, val_selected_step=v.best_step)
        return TrainOutcome(total, self.seconds(), v.best_state, fields)

    def logged_values(self, terms: dict[str, Any], step: int) -> dict[str, float]:
        """Every term as a float, the mean over the ranks (the global batch's value), checked: a
        non-finite term stops training with its name, not the total's it spoiled."""
        values = {k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for k, v in terms.items()}
        values = dict(zip(values, mean_over_ranks(list(values.values())), strict=True))
        bad = [n for n, v in values.items() if not math.isfinite(v)]
        if bad:
            name = next((n for n in bad if n != "loss"), bad[0])
            path = self.checkpoint_path
            where = f"the last good checkpoint is {path}" if path.exists() else "no checkpoint yet"
            raise TrainingError(
                f"step {step}: loss term {name!r} is {values[name]}; training stopped ({where}). "
                "Lower train.lr, check the data for NaN/inf, or disable that term"
            )
        return values

    def optimise(self, loss: torch.Tensor) -> None:
        """One optimiser step on ``loss``: backward (scaled under fp16), clipping, the step, the
        modules' constraints (e.g. the classifier's bound on log t), the weight average, the
        schedule."""
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.cfg.train.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.params, self.cfg.train.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        constrain_(self.method)
        if self.ema is not None:
            self.ema.update()
        self.scheduler.step()
