"""ssft report: tables with labels counted including validation, figures, confusion matrices; the
sweep's progress lines and its closing report."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from ssft.cli import main
from ssft.report.build import run_confusion, write_report
from ssft.report.summary import collect_runs, setting_tables

PNG = b"\x89PNG\r\n\x1a\n"


def fake_runs(root, *, val_per_class=0):
    """2 methods x k in (1, 4, 10) x 2 seeds, 3 classes; accuracy = 0.1*k/10 + 0.5 + 0.01*seed."""
    for method in ("supervised", "twinturbo"):
        for k in (1, 4, 10):
            for seed in (0, 1):
                d = root / f"{method}_k{k}_seed{seed}"
                d.mkdir(parents=True)
                acc = 0.5 + 0.01 * k + 0.02 * seed + (0.1 if method == "twinturbo" else 0.0)
                (d / "results.json").write_text(
                    json.dumps(
                        {
                            "test_accuracy": acc,
                            "dataset": "toy",
                            "backbone": "random:x",
                            "frozen": True,
                            "method": method,
                            "labels_per_class": k,
                            "num_labeled": 3 * k,
                            "num_validation": 3 * val_per_class,
                            "classes": ["a", "b", "c"],
                            "seed": seed,
                        }
                    )
                )
                lines = [
                    {"step": s, "epoch": s / 10, "lr": 0.1, "loss": 1.0 / s, "ce": 1.0 / s} for s in (1, 2, 3)
                ]
                (d / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_tables_count_validation_labels_and_sort_k(tmp_path):
    fake_runs(tmp_path, val_per_class=2)
    (t,) = setting_tables(collect_runs(tmp_path))
    assert t.methods == ["supervised", "twinturbo"] and t.ks == [3, 6, 12]  # k + 2 validation labels
    cell = t.cells[("twinturbo", 6)]
    # seeds 0 and 1: 0.5 + 0.04 + 0.1 (+ 0.02) -> 64 % and 66 %
    assert cell.mean == pytest.approx(65.0) and cell.std == pytest.approx(np.std([64.0, 66.0], ddof=1))
    assert cell.text() == "65.0 ± 1.4 (2)"


def test_report_writes_markdown_html_and_figures(tmp_path):
    fake_runs(tmp_path / "runs")
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "rep")]) == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| method | 1 labels/class | 4 labels/class | 10 labels/class |" in md
    assert "| twinturbo | 62.0 ± 1.4 (2) | 65.0 ± 1.4 (2) | 71.0 ± 1.4 (2) |" in md
    page = (tmp_path / "rep" / "index.html").read_text()
    figs = sorted((tmp_path / "rep" / "figures").glob("*.png"))
    names = [f.name for f in figs]
    assert "error_vs_labels_toy_random-x_True.png" in names
    assert sum(n.startswith("curves_") for n in names) == 6  # 2 methods x 3 k
    for f in figs:
        assert f.read_bytes()[:8] == PNG and f.stat().st_size > 5000
        assert f'src="figures/{f.name}"' in page and f"(figures/{f.name})" in md
    assert "<table>" in page and "<td>62.0 ± 1.4 (2)</td>" in page


def test_missing_matplotlib_is_one_clear_message(tmp_path, monkeypatch, capsys):
    fake_runs(tmp_path / "runs")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "rep")]) == 2
    assert "pip install 'ssft[plots]'" in capsys.readouterr().err
    write_report(tmp_path / "runs", tmp_path / "rep", figures=False)
    assert "62.0 ± 1.4" in (tmp_path / "rep" / "report.md").read_text()


def test_confusion_matrix_of_a_real_run(tmp_path):
    from ssft.api import fit

    run = fit("demo", tmp_path / "run", overrides=["train.steps=3", "data.labels_per_class=2"])
    matrix, classes = run_confusion(run.run_dir)
    assert matrix.shape == (10, 10) and classes == run.results["classes"]
    assert matrix.sum() == run.results["num_test"]
    assert np.trace(matrix) / matrix.sum() == pytest.approx(run.test_accuracy)
    write_report(tmp_path, tmp_path / "rep", confusion=True)
    assert (tmp_path / "rep" / "figures" / "confusion_run.png").read_bytes()[:8] == PNG


def test_sweep_shows_progress_goes_past_a_failed_run_and_writes_the_report(tmp_path, monkeypatch, capsys):
    import ssft.run.runner as runner
    from ssft.errors import TrainingError

    real_fit = runner.fit

    def fit(cfg, out, *, resume=False):
        if "k2_seed1" in str(out):
            raise TrainingError("loss term 'ce' is nan")
        return real_fit(cfg, out, resume=resume)

    monkeypatch.setattr(runner, "fit", fit)
    args = ["sweep", "--config", "demo", "--grid", "data.labels_per_class=1,2", "--seeds", "0,1"]
    code = main([*args, "--set", "train.steps=2", "--out", str(tmp_path / "sw")])
    out, err = capsys.readouterr()
    assert code == 1 and "1 run(s) failed" in err and "k2_seed1" in err
    assert "[0 done, 1 running, 0 failed, 3 to go of 4; time left unknown]" in out
    assert "k2_seed1: FAILED: loss term 'ce' is nan [3 done, 0 running, 1 failed, 0 to go of 4;" in out
    assert (tmp_path / "sw" / "k2_seed1" / "error.txt").read_text().startswith("TrainingError")
    assert (tmp_path / "sw" / "report" / "index.html").is_file()
    assert "report: " in out
    # the failed run is listed, not missing, in the summary and the report
    assert "`k2_seed1`: TrainingError: loss term 'ce' is nan" in (tmp_path / "sw" / "summary.md").read_text()
    assert "## Failed runs (1)" in (tmp_path / "sw" / "report" / "report.md").read_text()
