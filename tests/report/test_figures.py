"""The error-vs-labels figure: the curves it draws, and the PNG."""

from __future__ import annotations

import numpy as np
import pytest

from ssft.report.figures import error_curves, error_vs_labels


def row(dataset, method, k, err, frozen=True):
    return {
        "dataset": dataset,
        "method": method,
        "labels_per_class": k,
        "test_error": err,
        "frozen": frozen,
        "classes": ["a", "b", "c", "d"],
    }


ROWS = [
    row("cifar", "supervised", 1, 0.50),
    row("cifar", "supervised", 1, 0.40),
    row("cifar", "supervised", 1, 0.30),
    row("cifar", "supervised", 4, 0.20),
    row("cifar", "supervised", 4, 0.22),
    row("cifar", "twinturbo", 4, 0.10, frozen=False),
    row("mnist", "supervised", 10, 0.05),
]


def test_curves_are_mean_and_sample_std_over_seeds_per_labelled_samples():
    curves, trainable = error_curves(ROWS)
    xs, mean, std = curves["cifar"]["supervised"]
    assert xs.tolist() == [4, 16]  # k x 4 classes
    np.testing.assert_allclose(mean, [40.0, 21.0])
    np.testing.assert_allclose(std, [10.0, np.std([20.0, 22.0], ddof=1)])
    assert curves["cifar"]["twinturbo"][1].tolist() == [10.0]
    assert curves["mnist"]["supervised"][0].tolist() == [40]
    assert trainable == {"twinturbo"}


def test_png_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    path = error_vs_labels(ROWS, tmp_path / "fig.png", title="t")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_one_drawing_serves_both_figures(tmp_path, monkeypatch):
    """The benchmark figure and ``ssft report``'s figure draw through plot_error_curves: the line
    of a trainable run is dashed, the x axis is logarithmic once the samples span a factor of 8."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from ssft.report import figures, plots

    ax = Figure().add_subplot()
    curves = {
        "a": (np.array([10, 100]), np.array([50.0, 20.0]), np.array([1.0, 2.0])),
        "b": (np.array([10, 100]), np.array([60.0, 30.0]), np.array([0.0, 0.0])),
    }
    figures.plot_error_curves(ax, curves, trainable={"b"})
    styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
    assert styles == {"a": "-", "b": "--"}
    assert ax.get_xscale() == "log"
    ax2 = Figure().add_subplot()
    figures.plot_error_curves(ax2, {"a": (np.array([10, 20]), np.array([5.0, 4.0]), np.array([0.0, 0.0]))})
    assert ax2.get_xscale() == "linear"

    drawn = []
    real = figures.plot_error_curves

    def spy(ax, curves, **kw):
        drawn.append(sorted(curves))
        real(ax, curves, **kw)

    monkeypatch.setattr(figures, "plot_error_curves", spy)
    figures.error_vs_labels(ROWS, tmp_path / "bench.png")
    assert drawn, "the benchmark figure does not draw through plot_error_curves"
    from ssft.report.summary import Cell, SettingTable

    cell = Cell()
    cell.values, cell.samples = [80.0, 70.0], [40, 40]
    table = SettingTable(("digits", "random", True), ["m"], [4.0], {("m", 4.0): cell})
    plots.error_vs_labels(table, tmp_path / "report.png")
    assert drawn and drawn[-1] == ["m"]
