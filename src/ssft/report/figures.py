"""Figures of results (``pip install 'ssft[plots]'``): test error against labelled samples.

The form of the papers' figures: one panel per dataset, x = labelled training samples (k per
class × classes, log scale), y = test error %, one line per method (solid: frozen backbone,
dashed: trainable), mean over seeds with ± std shading.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ssft.errors import SsftError


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise SsftError("figures need matplotlib: pip install 'ssft[plots]'") from None
    return Figure


Curve = tuple[np.ndarray, np.ndarray, np.ndarray]


def error_curves(
    rows: Iterable[dict[str, Any]],
    *,
    panel: Callable[[dict[str, Any]], str] = lambda r: str(r["dataset"]),
    line: Callable[[dict[str, Any]], str] = lambda r: str(r["method"]),
) -> tuple[dict[str, dict[str, Curve]], set[str]]:
    """Rows -> ``{panel: {line: (labelled samples, mean error %, std error %)}}`` and the names of
    trainable lines. Labelled samples = k per class × classes; std is the sample std over seeds."""
    points: dict[str, dict[str, dict[int, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    trainable: set[str] = set()
    for r in rows:
        n_classes = len(r.get("classes") or []) or 1
        name = line(r)
        points[panel(r)][name][int(r["labels_per_class"]) * n_classes].append(100.0 * float(r["test_error"]))
        if r.get("frozen") is False:
            trainable.add(name)
    curves: dict[str, dict[str, Curve]] = {}
    for p, lines in points.items():
        curves[p] = {}
        for name, pts in lines.items():
            xs = np.array(sorted(pts))
            mean = np.array([np.mean(pts[x]) for x in xs])
            std = np.array([np.std(pts[x], ddof=1) if len(pts[x]) > 1 else 0.0 for x in xs])
            curves[p][name] = (xs, mean, std)
    return curves, trainable


def error_vs_labels(
    rows: Iterable[dict[str, Any]],
    path: str | Path,
    *,
    panel: Callable[[dict[str, Any]], str] = lambda r: str(r["dataset"]),
    line: Callable[[dict[str, Any]], str] = lambda r: str(r["method"]),
    title: str = "",
) -> Path:
    """Write the PNG; ``panel`` and ``line`` name a row's dataset panel and its line.

    A line whose rows are trainable (``frozen`` false) is dashed. Returns the path written.
    """
    Figure = _figure_class()  # never pyplot: a notebook's backend stays as it is
    data, trainable = error_curves(rows, panel=panel, line=line)
    panels = sorted(data)
    cols = 2 if len(panels) == 4 else min(len(panels), 3)
    nrows = (len(panels) + cols - 1) // cols
    fig = Figure(figsize=(6.0 * cols, 4.2 * nrows))
    axes = np.array(fig.subplots(nrows, cols, squeeze=False))
    colours = line_colours(sorted({n for p in data.values() for n in p}))
    for ax, p in zip(axes.flat, panels, strict=False):
        plot_error_curves(ax, data[p], trainable=trainable, colours=colours)
        ax.set_title(p)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    seen: dict[str, Any] = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(lab, h)
    fig.legend(
        list(seen.values()), list(seen.keys()), loc="lower center", ncol=min(len(seen), 3), frameon=False
    )
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.035 * ((len(seen) + 2) // 3) + 0.02, 1, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def line_colours(names: list[str]) -> dict[str, Any]:
    """One distinct colour per line name (tab10 up to 10 lines, tab20 beyond)."""
    from matplotlib import colormaps

    cmap, n = ("tab10", 10) if len(names) <= 10 else ("tab20", 20)
    return {name: colormaps[cmap](i % n) for i, name in enumerate(names)}


def plot_error_curves(
    ax: Any,
    curves: dict[str, Curve],
    *,
    trainable: set[str] = frozenset(),  # type: ignore[assignment]
    colours: dict[str, Any] | None = None,
    xlabel: str = "labelled training samples",
) -> None:
    """Draw ``{line: (labelled samples, mean error %, std error %)}`` on ``ax``: one line per name
    with ± std shading, dashed when trainable, log x when the samples span a factor of 8 or more.
    The one drawing of error against labels, for the benchmark figures and for ``ssft report``."""
    colours = colours or line_colours(sorted(curves))
    for name in sorted(curves):
        xs, mean, std = curves[name]
        style = "--" if name in trainable else "-"
        ax.plot(xs, mean, style, marker="o", ms=3, color=colours[name], label=name)
        ax.fill_between(xs, mean - std, mean + std, color=colours[name], alpha=0.15, lw=0)
    xs_all = [float(x) for xs, _, _ in curves.values() for x in xs]
    if xs_all and max(xs_all) >= 8 * max(1.0, min(xs_all)):
        ax.set_xscale("log")
    if xs_all:  # ticks at the measured budgets only: no 38.5 labelled samples between two points
        ticks = sorted(set(xs_all))
        ax.set_xticks(ticks, [f"{x:g}" for x in ticks])
        ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test error %")
    ax.grid(True, which="both", alpha=0.3)
