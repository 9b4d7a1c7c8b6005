"""Result tables: grouping over seeds, and the labels each setting used (validation included)."""

from __future__ import annotations

import pytest

from ssft.report.tables import format_table, labels_used, summarize


def row(seed: int, acc: float, val: int = 0, **extra) -> dict:
    return {
        "dataset": "d", "backbone": "b", "frozen": True, "method": "m", "labels_per_class": 1,
        "val_per_class": val, "num_labeled": 4, "num_validation": 4 * val, "labels_used": 4 + 4 * val,
        "seed": seed, "test_accuracy": acc, "train_seconds": 1.0, "extract_seconds": 0.0, **extra,
    }  # fmt: skip


def test_runs_with_validation_labels_are_a_separate_setting_and_count_their_labels():
    rows = [row(0, 0.5), row(1, 0.7), row(0, 0.9, val=2), row(1, 0.9, val=2)]
    lines = {ln["val_per_class"]: ln for ln in summarize(rows)}
    assert lines[0]["mean"] == pytest.approx(60.0) and lines[0]["n"] == 2
    assert lines[0]["labels_used"] == 4 and lines[2]["labels_used"] == 12
    table = format_table(rows)
    assert "| labels used |" in table and "| 2 | 12 |" in table


def test_older_results_without_the_new_keys():
    old = row(0, 0.5)
    for key in ("val_per_class", "labels_used"):
        del old[key]
    old["num_validation"] = 8
    assert labels_used(old) == 12
    (line,) = summarize([old])
    assert line["val_per_class"] == 0 and line["labels_used"] == 12
