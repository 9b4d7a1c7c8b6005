"""Experiment trackers (``train.logger``): TensorBoard, MLflow, Weights & Biases.

Every line of ``metrics.jsonl`` (each loss term, the learning rate, the validation accuracy) goes to
each enabled tracker at its step; the resolved config is logged as parameters (dotted keys) and the
final results as summary metrics. A tracker's library is imported only when it is enabled. The
value of ``train.logger`` is parsed by :func:`ssft.config.parse_logger` (a config-level check).

Where they write: TensorBoard event files in ``<run>/tensorboard``; MLflow to ``$MLFLOW_TRACKING_URI``
or else a local SQLite store ``<run>/mlflow.db`` (experiment ``$MLFLOW_EXPERIMENT_NAME`` or ``ssft``); wandb to
project ``$WANDB_PROJECT`` or ``ssft``, files under ``<run>``, in the mode ``$WANDB_MODE`` says
(``offline`` keeps everything local).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from ssft.config import parse_logger, to_dict
from ssft.errors import ConfigError
from ssft.train.run_dir import MetricsLog

_MODULES = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}


def check_installed(names: list[str]) -> None:
    for n in names:
        if importlib.util.find_spec(_MODULES[n]) is None:
            raise ConfigError(f"train.logger={n} needs the {n} package: pip install 'ssft[{n}]'")


def flat_params(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> ``{"train.lr": 0.001, ...}`` (None written as "None")."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out.update(flat_params(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = "None" if v is None else v
    return out


def _scalars(record: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in record.items()
        if k != "step" and isinstance(v, int | float) and not isinstance(v, bool)
    }


#: Parts of a results key that make it a measurement; the other numbers (seed, k, counts, sizes)
#: describe the run and go to the config/parameters, not to the scalar plots.
_MEASURES = ("accuracy", "error", "seconds", "peak_", "passes")


def _result_scalars(results: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in _scalars(results).items() if any(m in k for m in _MEASURES)}


class TensorBoardTracker:
    def __init__(self, run: Path, params: dict[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run / "tensorboard"))
        table = "\n".join(f"| {k} | {v} |" for k, v in params.items())
        self.writer.add_text("config", "| key | value |\n|---|---|\n" + table, 0)

    def metrics(self, record: dict[str, Any], step: int) -> None:
        for k, v in _scalars(record).items():
            self.writer.add_scalar(f"train/{k}", v, step)

    def results(self, results: dict[str, Any], step: int) -> None:
        for k, v in _result_scalars(results).items():
            self.writer.add_scalar(f"results/{k}", v, step)

    def close(self) -> None:
        self.writer.close()


class MLflowTracker:
    def __init__(self, run: Path, params: dict[str, Any]) -> None:
        import mlflow

        self.mlflow = mlflow
        self.own_store = False
        # Default: a local SQLite store in the run directory (MLflow's plain-file store is deprecated).
        self.own_store = own_store = not os.environ.get("MLFLOW_TRACKING_URI")  # set_tracking_uri sets it
        uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(run / 'mlflow.db').resolve()}"
        mlflow.set_tracking_uri(uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "ssft")
        if own_store and mlflow.get_experiment_by_name(name) is None:
            # The run's own store keeps its artifacts beside it, not in ./mlruns of the working directory.
            mlflow.create_experiment(name, artifact_location=(run / "mlflow-artifacts").resolve().as_uri())
        mlflow.set_experiment(name)
        self.active = mlflow.start_run(run_name=run.name)
        mlflow.log_params({k: str(v) for k, v in params.items()})

    def metrics(self, record: dict[str, Any], step: int) -> None:
        self.mlflow.log_metrics(_scalars(record), step=step)

    def results(self, results: dict[str, Any], step: int) -> None:
        self.mlflow.log_metrics({f"final_{k}": v for k, v in _result_scalars(results).items()}, step=step)

    def close(self) -> None:
        self.mlflow.end_run()
        if self.own_store:  # the next run of a sweep gets its own store, not this one's
            os.environ.pop("MLFLOW_TRACKING_URI", None)


class WandbTracker:
    def __init__(self, run: Path, params: dict[str, Any]) -> None:
        import wandb

        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "ssft"),
            name=run.name,
            dir=str(run),
            config=params,
            reinit="finish_previous",
        )

    def metrics(self, record: dict[str, Any], step: int) -> None:
        self.run.log(_scalars(record), step=step)

    def results(self, results: dict[str, Any], step: int) -> None:
        self.run.summary.update({f"final_{k}": v for k, v in _result_scalars(results).items()})

    def close(self) -> None:
        self.run.finish()


_CLASSES = {"tensorboard": TensorBoardTracker, "mlflow": MLflowTracker, "wandb": WandbTracker}


class TrackedMetricsLog(MetricsLog):
    """metrics.jsonl that also sends every line to the enabled trackers."""

    def __init__(self, path: Path, trackers: list[Any]) -> None:
        super().__init__(path)
        self.trackers = trackers
        self.last_step = 0

    def write(self, record: dict[str, Any]) -> None:
        super().write(record)
        self.last_step = int(record.get("step", self.last_step))
        for t in self.trackers:
            t.metrics(record, self.last_step)

    def finish(self, results: dict[str, Any]) -> None:
        """Log the final results and close every tracker."""
        for t in self.trackers:
            t.results(results, self.last_step)
            t.close()
        self.trackers = []


def open_metrics_log(cfg: Any, run: Path) -> TrackedMetricsLog:
    """The run's metrics log, with the trackers ``cfg.train.logger`` names (none: a plain log)."""
    names = parse_logger(cfg.train.logger)
    check_installed(names)
    params = flat_params(to_dict(cfg))
    return TrackedMetricsLog(run / "metrics.jsonl", [_CLASSES[n](run, params) for n in names])
