"""PNG figures of a report (matplotlib, the ``plots`` extra).

Figures are drawn with :class:`matplotlib.figure.Figure` directly, never pyplot, so a report
written from a notebook does not touch the notebook's backend.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ssft.errors import SsftError
from ssft.report.summary import RunRow, SettingTable

#: metrics.jsonl keys that are coordinates, not curves
_AXES = ("step", "epoch")


def require_matplotlib() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise SsftError(
            "the report's figures need matplotlib, which is not installed: pip install 'ssft[plots]' "
            "(or pass --no-figures for the tables alone)"
        ) from None
    return Figure


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def error_vs_labels(table: SettingTable, path: Path) -> Path:
    """Test error (%) against labelled samples, one line per method, ± std shaded (drawn by
    :func:`ssft.report.figures.plot_error_curves`, as the benchmark figures are)."""
    from ssft.report.figures import plot_error_curves

    Figure = require_matplotlib()
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.add_subplot()
    curves = {}
    for method in table.methods:
        pts = sorted(
            (float(np.mean(c.samples)), 100.0 - c.mean, c.std)
            for (m, _), c in table.cells.items()
            if m == method
        )
        curves[method] = tuple(np.array(v) for v in zip(*pts, strict=True))
    plot_error_curves(ax, curves, xlabel="labelled samples (validation labels included)")  # type: ignore[arg-type]
    ax.set_title(table.title, fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a torn last line
    return out


def training_curves(runs: list[RunRow], path: Path, title: str) -> Path | None:
    """Every logged term (each loss term, lr, validation accuracy) against the step, one panel per
    term, one line per run (seed). None when the runs logged nothing (classical baselines)."""
    curves = {r.results.get("seed", i): read_metrics(r.dir) for i, r in enumerate(runs)}
    keys: list[str] = []
    for lines in curves.values():
        for rec in lines:
            keys += [k for k in rec if k not in _AXES and k not in keys]
    if not keys:
        return None
    Figure = require_matplotlib()
    cols = min(4, len(keys))
    rows = -(-len(keys) // cols)
    fig = Figure(figsize=(3.2 * cols, 2.4 * rows), layout="constrained")
    for i, key in enumerate(keys):
        ax = fig.add_subplot(rows, cols, i + 1)
        for seed, lines in sorted(curves.items(), key=lambda kv: str(kv[0])):
            pts = [(rec["step"], rec[key]) for rec in lines if key in rec and "step" in rec]
            if pts:
                s, v = zip(*pts, strict=True)
                ax.plot(s, v, label=f"seed {seed}", linewidth=1.2)
        ax.set_title(key, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        if i == 0 and len(curves) > 1:
            ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=10)
    fig.supxlabel("step", fontsize=8)
    return _save(fig, path)


def confusion_matrix_figure(matrix: np.ndarray, classes: list[str], path: Path, title: str) -> Path:
    """Row-normalised confusion matrix (rows: true class, columns: predicted), counts written in."""
    Figure = require_matplotlib()
    k = len(classes)
    size = max(3.5, 0.45 * k + 1.5)
    fig = Figure(figsize=(size, size))
    ax = fig.add_subplot()
    rates = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(
        range(k),
        [str(c) for c in classes],
        rotation=45 if max(len(str(c)) for c in classes) > 3 else 0,
        fontsize=7,
    )
    ax.set_yticks(range(k), [str(c) for c in classes], fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(
                    j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if rates[i, j] > 0.5 else "black",
                )  # fmt: skip
    ax.set_title(title, fontsize=9)
    return _save(fig, path)
