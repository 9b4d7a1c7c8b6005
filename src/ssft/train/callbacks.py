"""What a training phase attaches to its steps, each with its own state: the progress bar, the
metrics window, the validator and the checkpointer.

A callback hears ``on_start`` once the phase knows its first step (after a resume), then
``on_step_end`` after every optimiser step (in the order the trainer lists them), ``on_end`` when
the last step is done, and ``on_close`` however the phase ends. One with state to keep across an
interruption names it ``state_key``; the trainer's checkpoint holds its ``state_dict`` there.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import torch

from ssft.progress import progress_bar
from ssft.train.checkpoint import save_checkpoint
from ssft.train.predict import predict
from ssft.train.run_dir import MetricsLog


class Trainer(Protocol):
    """What a callback reads of the trainer (:class:`ssft.train.trainer.Trainer`)."""

    cfg: Any
    method: Any
    source: Any
    device: torch.device
    log: MetricsLog
    ema: Any
    scheduler: Any
    start: int
    total: int
    steps_per_epoch: int
    stopping: bool

    def state_dict(self, step: int) -> dict[str, Any]: ...


class Callback:
    """The hooks, all optional."""

    state_key: ClassVar[str | None] = None

    def on_start(self, trainer: Trainer) -> None:
        pass

    def on_step_end(self, trainer: Trainer, done: int, values: dict[str, float]) -> None:
        pass

    def on_end(self, trainer: Trainer) -> None:
        pass

    def on_close(self, trainer: Trainer) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class Progress(Callback):
    """The step bar (``train.progress``); the metrics window sets its loss."""

    def __init__(self, desc: str, enabled: bool) -> None:
        self.desc, self.enabled = desc, enabled
        self.bar: Any = None

    def on_start(self, trainer: Trainer) -> None:
        self.bar = progress_bar(
            trainer.total, initial=trainer.start, disable=not self.enabled, desc=self.desc, unit="step"
        )

    def on_step_end(self, trainer: Trainer, done: int, values: dict[str, float]) -> None:
        self.bar.update(1)

    def on_close(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.close()


class MetricsWindow(Callback):
    """Every logged term averaged over the last ``train.log_every`` steps, written to
    ``metrics.jsonl`` (and the trackers) with the step, the epoch and the learning rate. The
    partial window is saved, so after a resume the next line averages the same steps as an
    uninterrupted run's."""

    state_key = "metrics_window"

    def __init__(self, log: MetricsLog, log_every: int, progress: Progress) -> None:
        self.log, self.log_every, self.progress = log, log_every, progress
        self.sums: dict[str, float] = {}
        self.count = 0

    def on_start(self, trainer: Trainer) -> None:
        self.log.truncate_after(trainer.start)

    def on_step_end(self, trainer: Trainer, done: int, values: dict[str, float]) -> None:
        for name, v in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + v
        self.count += 1
        if done % self.log_every == 0 or done == trainer.total:
            record = {
                "step": done,
                "epoch": done / trainer.steps_per_epoch,
                "lr": trainer.scheduler.get_last_lr()[0],
            }
            record.update({k: v / self.count for k, v in self.sums.items()})
            self.log.write(record)
            self.progress.bar.set_postfix(loss=f"{record['loss']:.4f}")
            self.sums, self.count = {}, 0

    def state_dict(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums, self.count = dict(state["sums"]), int(state["count"])


class Validator(Callback):
    """Accuracy on the validation items every ``train.eval_every`` epochs and at the end (under the
    weight average when there is one), logged; the best state is kept for the validation-selected
    model. Chosen on validation labels, never on test."""

    state_key = "validator"

    def __init__(self, validation: np.ndarray, labels: np.ndarray, eval_steps: int) -> None:
        self.validation, self.labels, self.eval_steps = validation, labels, eval_steps
        self.best_accuracy, self.best_step = -1.0, None
        self.best_state: dict[str, Any] | None = None

    def validate(self, trainer: Trainer, step: int) -> None:
        if self.validation.size == 0:
            return
        cfg, method = trainer.cfg, trainer.method
        with trainer.ema.applied() if trainer.ema is not None else contextlib.nullcontext():
            probs = predict(
                method,
                trainer.source,
                self.validation,
                cfg.cache.batch_size,
                trainer.device,
                cfg.train.precision,
            )
            acc = float((probs.argmax(1) == self.labels[self.validation]).mean())
            trainer.log.write({"step": step, "val_accuracy": acc})
            if acc > self.best_accuracy:
                self.best_accuracy, self.best_step = acc, step
                self.best_state = copy.deepcopy(method.trained_state())

    def on_step_end(self, trainer: Trainer, done: int, values: dict[str, float]) -> None:
        if self.eval_steps and done % self.eval_steps == 0 and done != trainer.total:
            self.validate(trainer, done)

    def on_end(self, trainer: Trainer) -> None:
        self.validate(trainer, trainer.total)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"best_accuracy": self.best_accuracy}
        if self.best_state is not None:
            state["best_state"], state["best_step"] = self.best_state, self.best_step
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_accuracy = float(state["best_accuracy"])
        if "best_state" in state:
            self.best_state, self.best_step = state["best_state"], int(state["best_step"])


class Checkpointer(Callback):
    """The checkpoint every ``train.checkpoint_every`` steps, on a stop signal, and at the end,
    assembled by the trainer from its parts' states (every rank takes part; rank 0 writes)."""

    def __init__(self, path: Path, every: int) -> None:
        self.path, self.every = path, every

    def on_step_end(self, trainer: Trainer, done: int, values: dict[str, float]) -> None:
        if (self.every and done % self.every == 0) or trainer.stopping:
            save_checkpoint(self.path, trainer.state_dict(done))

    def on_end(self, trainer: Trainer) -> None:
        save_checkpoint(self.path, trainer.state_dict(trainer.total))
