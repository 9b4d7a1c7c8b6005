"""What ``ssft report`` shows a newcomer: progress, failed runs, no empty sections or fake spread."""

from __future__ import annotations

import json
import shutil

import numpy as np

from ssft.report.build import write_report
from ssft.report.failures import failed_runs
from ssft.report.summary import collect_runs, setting_tables
from ssft.report.tables import format_table


def one_run(root, name, method="label_spreading", k=4, seed=0, metrics=False):
    d = root / name
    d.mkdir(parents=True)
    r = {
        "test_accuracy": 0.75,
        "dataset": "toy",
        "backbone": "random:x",
        "frozen": True,
        "method": method,
        "labels_per_class": k,
        "num_labeled": 3 * k,
        "classes": ["a", "b", "c"],
        "seed": seed,
    }
    (d / "results.json").write_text(json.dumps(r))
    if metrics:
        (d / "metrics.jsonl").write_text(
            "".join(json.dumps({"step": s, "loss": 1.0 / s}) + "\n" for s in (1, 2))
        )
    return r


def test_one_seed_shows_no_spread(tmp_path):
    r = one_run(tmp_path, "a")
    (t,) = setting_tables(collect_runs(tmp_path))
    assert t.cells[("label_spreading", 4)].text() == "75.0 (1)"
    table = format_table([r])
    assert "± 0.0" not in table and "| 75.0 | 1 |" in table


def test_failed_runs_are_listed_and_classical_runs_have_no_curves_heading(tmp_path):
    one_run(tmp_path / "runs", "ok")
    bad = tmp_path / "runs" / "bad"
    bad.mkdir()
    (bad / "error.txt").write_text("DataError: no such file\nmore\n")
    assert failed_runs(tmp_path / "runs") == [("bad", "DataError: no such file")]
    write_report(tmp_path / "runs", tmp_path / "rep")
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "1 runs, 1 failed." in md and "## Failed runs (1)" in md and "`bad`: DataError: no such file" in md
    assert (
        "Training curves" not in md and "Training curves" not in (tmp_path / "rep" / "index.html").read_text()
    )


def test_one_budget_plot_ticks_only_at_the_budget(tmp_path):
    from matplotlib.figure import Figure

    from ssft.report.figures import plot_error_curves

    ax = Figure().add_subplot()
    plot_error_curves(ax, {"m": (np.array([40.0]), np.array([20.0]), np.array([0.0]))})
    assert list(ax.get_xticks()) == [40.0]
    ax = Figure().add_subplot()
    plot_error_curves(ax, {"m": (np.array([3.0, 12.0, 30.0]), np.array([20.0, 10, 5]), np.zeros(3))})
    assert list(ax.get_xticks()) == [3.0, 12.0, 30.0]


def test_confusion_reports_progress_and_loads_the_data_once(tmp_path, capsys, monkeypatch):
    import ssft.data
    from ssft.api import fit

    fit("demo", tmp_path / "runs" / "r1", overrides=["train.steps=2", "data.labels_per_class=2"])
    shutil.copytree(tmp_path / "runs" / "r1", tmp_path / "runs" / "r2")
    calls = []
    real = ssft.data.load_dataset
    monkeypatch.setattr(ssft.data, "load_dataset", lambda cfg: calls.append(1) or real(cfg))
    write_report(tmp_path / "runs", tmp_path / "rep", figures=False, confusion=True)
    err = capsys.readouterr().err
    assert "confusion matrix 1/2: r1" in err and "confusion matrix 2/2: r2" in err
    assert len(calls) == 1
