"""``data.name=ag_news``: AG News CSV files (class index 1-4, title, description); text, 4 classes."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from ssft.data.base import DATASETS, Dataset, Part
from ssft.data.paths import where_looked
from ssft.data.sources.common import INT_RE, data_root
from ssft.errors import DataError

AG_NEWS_CLASSES = ["World", "Sports", "Business", "Sci/Tech"]


def _read_ag_news(path: Path) -> Part:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"cannot read AG News file {path} ({e}); download it again") from None
    if rows and not INT_RE.match(rows[0][0].strip()):
        rows = rows[1:]  # the header `Class Index,Title,Description` (absent in the official files)
    texts, labels = [], []
    for r, row in enumerate(rows, start=1):
        if len(row) < 3 or not INT_RE.match(row[0].strip()) or not 1 <= int(row[0]) <= 4:
            raise DataError(
                f"{path}: data row {r} ({row[:1]!r}...) is not `class index 1-4, title, description`; "
                "fix or delete the row"
            )
        labels.append(int(row[0]) - 1)
        title, desc = row[1].strip(), row[2].strip()
        texts.append(f"{title}. {desc}" if title else desc)
    if not texts:
        raise DataError(f"AG News file {path} has no data row")
    return Part(texts, np.asarray(labels, dtype=np.int64))


@DATASETS.register("ag_news", help="AG News test.csv (and train.csv) in data.root; text, 4 classes")
def load_ag_news(cfg: Any) -> Dataset:
    root = data_root(cfg, "ag_news")
    train_p, test_p = root / "train.csv", root / "test.csv"
    if not test_p.is_file() and not train_p.is_file():
        raise DataError(
            f"ag_news: no train.csv / test.csv in data.root={root}"
            f"{'' if root.is_dir() else f' (no such folder; looked in {where_looked(root)})'}; "
            "put the AG News CSV files there "
            "(columns: class index 1-4, title, description)"
        )
    test = _read_ag_news(test_p) if test_p.is_file() else None
    if train_p.is_file():
        return Dataset("ag_news", "text", list(AG_NEWS_CLASSES), _read_ag_news(train_p), test)
    assert test is not None
    return Dataset("ag_news", "text", list(AG_NEWS_CLASSES), test, None)
