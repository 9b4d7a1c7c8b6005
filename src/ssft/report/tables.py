"""Result tables: rows of ``results.json`` grouped into mean ± std per setting."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_GROUP = ("dataset", "backbone", "frozen", "method", "labels_per_class", "val_per_class")
#: keys that older results.json files lack, with the value they had then
_MISSING = {"val_per_class": 0}


def labels_used(row: dict[str, Any]) -> int:
    """Labels a run consumed: the labelled set plus the labelled validation set (validation labels are labels too)."""
    if "labels_used" in row:
        return int(row["labels_used"])
    return int(row.get("num_labeled", 0)) + int(row.get("num_validation", 0))


def collect(root: Path) -> list[dict[str, Any]]:
    """Every ``results.json`` below ``root``."""
    return [json.loads(p.read_text()) for p in sorted(Path(root).rglob("results.json"))]


def summarize(
    rows: Iterable[dict[str, Any]], group: Sequence[str] = DEFAULT_GROUP, metric: str = "test_accuracy"
) -> list[dict[str, Any]]:
    """One line per group: mean and sample std of ``metric`` over seeds, and the count."""
    groups: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    seconds: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    labels: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for r in rows:
        key = tuple(r.get(g, _MISSING.get(g)) for g in group)
        labels[key].append(labels_used(r))
        groups[key].append(float(r[metric]))
        seconds[key].append(float(r.get("train_seconds", 0.0)) + float(r.get("extract_seconds", 0.0)))
    out = []
    for key, vals in sorted(groups.items(), key=lambda kv: tuple(sort_key(v) for v in kv[0])):
        a = np.asarray(vals) * 100.0
        out.append(
            {
                **dict(zip(group, key, strict=True)),
                "mean": float(a.mean()),
                "std": float(a.std(ddof=1)) if a.size > 1 else 0.0,
                "n": int(a.size),
                "labels_used": float(np.mean(labels[key])),
                "seconds": float(np.mean(seconds[key])),
            }
        )
    return out


def sort_key(value: Any) -> tuple[int, float, str]:
    """Numbers in numeric order (k = 1, 4, 10, not 1, 10, 4), before text; None last."""
    if value is None:
        return (2, 0.0, "")
    if isinstance(value, bool):
        return (1, 0.0, str(value))
    if isinstance(value, int | float):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def format_table(rows: Iterable[dict[str, Any]], group: Sequence[str] = DEFAULT_GROUP) -> str:
    """A Markdown table of accuracy (%) mean ± std over seeds, with the labels each run used
    (labelled + validation)."""
    lines = summarize(rows, group)
    head = [*group, "labels used", "accuracy % (mean ± std)", "seeds", "seconds/run"]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ln in lines:
        md.append(
            "| "
            + " | ".join(str(ln[g]) for g in group)
            + f" | {ln['labels_used']:g}"
            + (f" | {ln['mean']:.1f} ± {ln['std']:.1f}" if ln["n"] > 1 else f" | {ln['mean']:.1f}")
            + f" | {ln['n']} | {ln['seconds']:.1f} |"
        )
    return "\n".join(md)
