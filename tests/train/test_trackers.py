"""train.logger: every metrics.jsonl line, the config and the results reach each tracker; a tracker's
library is imported only when it is enabled."""

from __future__ import annotations

import json
import sys

import pytest

from ssft.api import fit
from ssft.config import load_config, parse_logger
from ssft.errors import ConfigError

SETS = [
    "method.name=twinturbo",
    "train.steps=12",
    "train.log_every=4",
    "train.batch_size=16",
    "data.labels_per_class=2",
    "train.progress=false",
]


def lines(run):
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_logger_names_and_lists():
    assert parse_logger("none") == []
    assert parse_logger("tensorboard, mlflow") == ["tensorboard", "mlflow"]
    with pytest.raises(
        ConfigError, match="unknown logger 'tensorbord'; choose none, tensorboard, mlflow, wandb"
    ):
        load_config("demo", ["train.logger=tensorbord"])


def test_no_tracker_library_is_imported_unless_enabled(tmp_path, monkeypatch):
    for name in ("mlflow", "wandb", "tensorboard", "torch.utils.tensorboard"):
        monkeypatch.setitem(sys.modules, name, None)  # importing any of them now raises ImportError
    fit("demo", tmp_path / "run", overrides=["train.steps=2", "train.progress=false"])
    with pytest.raises(
        ConfigError, match=r"train.logger=mlflow needs the mlflow package: pip install 'ssft\[mlflow\]'"
    ):
        fit("demo", tmp_path / "run2", overrides=["train.steps=2", "train.logger=mlflow"])


def test_tensorboard_event_file_holds_every_term(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = fit("demo", tmp_path / "run", overrides=[*SETS, "train.logger=tensorboard"])
    acc = EventAccumulator(str(run.run_dir / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    logged = lines(run.run_dir)
    for key in ("cond", "marginal", "kl", "align", "supcon", "loss", "lr", "d_acc"):
        events = acc.Scalars(f"train/{key}")
        assert [e.step for e in events] == [x["step"] for x in logged]
        assert [e.value for e in events] == pytest.approx([x[key] for x in logged], rel=1e-6)
    assert acc.Scalars("results/test_accuracy")[0].value == pytest.approx(run.test_accuracy)
    assert "train/epoch" in tags
    # run descriptions are not measurements: no seed or k plotted as a scalar
    assert "results/seed" not in tags and "results/labels_per_class" not in tags
    assert "config" in "".join(acc.Tags().get("tensors", []))


def test_mlflow_local_store_in_the_run_holds_params_metrics_and_results(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    run = fit("demo", tmp_path / "run", overrides=[*SETS, "train.logger=mlflow"])
    assert not (tmp_path / "mlruns").exists()
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{(run.run_dir / 'mlflow.db').resolve()}")
    (exp,) = [e for e in client.search_experiments() if e.name == "ssft"]
    assert exp.artifact_location == (run.run_dir / "mlflow-artifacts").resolve().as_uri()
    (r,) = client.search_runs([exp.experiment_id])
    assert r.info.status == "FINISHED" and r.info.run_name == "run"
    assert r.data.params["method.name"] == "twinturbo" and r.data.params["train.steps"] == "12"
    assert r.data.params["method.lambda_kl"] == "0.1"
    logged = lines(run.run_dir)
    for key in ("cond", "kl", "lr", "loss"):
        hist = sorted(client.get_metric_history(r.info.run_id, key), key=lambda m: m.step)
        assert [m.step for m in hist] == [x["step"] for x in logged]
        assert [m.value for m in hist] == pytest.approx([x[key] for x in logged])
    assert r.data.metrics["final_test_accuracy"] == pytest.approx(run.test_accuracy)
    assert "final_seed" not in r.data.metrics
    # a second run (a sweep's next) gets its own store, not the first one's
    run2 = fit("demo", tmp_path / "run2", overrides=[*SETS, "train.steps=4", "train.logger=mlflow"])
    client2 = MlflowClient(tracking_uri=f"sqlite:///{(run2.run_dir / 'mlflow.db').resolve()}")
    assert [x.info.run_name for x in client2.search_runs([exp.experiment_id])] == ["run2"]
    assert len(client.search_runs([exp.experiment_id])) == 1


def test_wandb_offline_run(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = fit("demo", tmp_path / "run", overrides=[*SETS, "train.logger=wandb"])
    offline = list((run.run_dir / "wandb").glob("offline-run-*"))
    assert len(offline) == 1 and list(offline[0].glob("*.wandb"))
