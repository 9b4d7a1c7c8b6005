"""Result rows of a folder of runs, grouped for reports: mean ± std per method and label budget.

Labels per class count every label the run consumed, validation labels included
(``(num_labeled + num_validation) / num_classes``): a validation set is paid for in labels.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssft.report.tables import sort_key

#: A table/figure per setting: the same data, backbone and frozen/trainable.
SETTING = ("dataset", "backbone", "frozen")


@dataclass
class RunRow:
    """One finished run: its results.json and where it lives."""

    dir: Path
    results: dict[str, Any]

    @property
    def labels_per_class(self) -> float:
        r = self.results
        k = len(r.get("classes") or []) or 1
        if "num_labeled" in r:
            total = (int(r["num_labeled"]) + int(r.get("num_validation", 0) or 0)) / k
        else:
            total = float(r.get("labels_per_class", 0))
        return int(total) if float(total).is_integer() else round(total, 2)

    @property
    def labelled_samples(self) -> int:
        r = self.results
        return int(r.get("num_labeled", 0)) + int(r.get("num_validation", 0) or 0)

    def setting(self) -> tuple[Any, ...]:
        return tuple(self.results.get(k) for k in SETTING)


def collect_runs(root: Path) -> list[RunRow]:
    """Every run below ``root`` with a readable results.json, sorted by folder."""
    rows = []
    for p in sorted(Path(root).rglob("results.json")):
        try:
            rows.append(RunRow(p.parent, json.loads(p.read_text())))
        except (OSError, json.JSONDecodeError):
            continue  # a run being written; the next report picks it up
    return rows


@dataclass
class Cell:
    """Test accuracy over seeds, in percent."""

    values: list[float] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else 0.0

    def text(self) -> str:
        if len(self.values) == 1:  # one seed has no spread to show
            return f"{self.mean:.1f} (1)"
        return f"{self.mean:.1f} ± {self.std:.1f} ({len(self.values)})"


@dataclass
class SettingTable:
    """Method × labels per class for one setting (dataset, backbone, frozen)."""

    setting: tuple[Any, ...]
    methods: list[str]
    ks: list[float]
    cells: dict[tuple[str, float], Cell]

    @property
    def title(self) -> str:
        dataset, backbone, frozen = self.setting
        return f"{dataset} — {backbone} ({'frozen' if frozen else 'trainable'})"


def setting_tables(rows: list[RunRow]) -> list[SettingTable]:
    by_setting: dict[tuple[Any, ...], dict[tuple[str, float], Cell]] = defaultdict(dict)
    for row in rows:
        key = (str(row.results.get("method")), row.labels_per_class)
        cell = by_setting[row.setting()].setdefault(key, Cell())
        cell.values.append(100.0 * float(row.results["test_accuracy"]))
        cell.samples.append(row.labelled_samples)
    tables = []
    for setting in sorted(by_setting, key=lambda s: tuple(sort_key(x) for x in s)):
        cells = by_setting[setting]
        methods = sorted({m for m, _ in cells})
        ks = sorted({k for _, k in cells})
        tables.append(SettingTable(setting, methods, ks, cells))
    return tables


def markdown_table(t: SettingTable) -> str:
    head = ["method", *[f"{k} labels/class" for k in t.ks]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in t.methods:
        cells = [t.cells[(m, k)].text() if (m, k) in t.cells else "–" for k in t.ks]
        lines.append("| " + " | ".join([m, *cells]) + " |")
    return "\n".join(lines)
