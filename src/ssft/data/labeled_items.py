"""``data.labeled_items=FILE``: train on exactly the items a user labelled (``ssft suggest``'s CSV).

The file is a CSV with an ``index`` column (the item's row in the dataset's training part, as
``ssft suggest`` writes it) or an ``item`` column (its file path, or its text), and an optional
``label`` column (class name or class number). An empty or missing label is read from the dataset:
that is the simulation of a labeller, for benchmarks on labelled data.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from ssft.errors import DataError


def item_name(inputs: Any, i: int) -> str:
    """How a user knows item ``i``: its file path, its text, or (in-memory arrays) its index."""
    paths = getattr(inputs, "paths", None)
    if paths is not None:
        return str(paths[i])
    if isinstance(inputs, list):
        return str(inputs[i])
    return str(i)


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(f"data.labeled_items={path}: no such file")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        cols = reader.fieldnames or []
        if "index" not in cols and "item" not in cols:
            raise DataError(
                f"data.labeled_items={path}: needs an 'index' or an 'item' column (has {cols}); "
                "use the CSV ssft suggest wrote, with its label column filled"
            )
        return list(reader)


def _class_of(value: str, classes: list[str] | None, num_classes: int, where: str) -> int:
    if classes and value in classes:
        return classes.index(value)
    try:
        c = int(value)
    except ValueError:
        c = -1
    if not 0 <= c < num_classes:
        known = ", ".join(classes) if classes else f"0..{num_classes - 1}"
        raise DataError(f"{where}: unknown label {value!r}; known: {known}")
    return c


def read_labeled_items(dataset: Any, path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(indices into the training part, their labels) listed in ``path``; labels from the dataset
    where the file leaves them empty."""
    path = Path(path)
    inputs, labels = dataset.train.inputs, dataset.train.labels
    by_name: dict[str, list[int]] | None = None
    idx, lab = [], []
    for n, row in enumerate(_rows(path), start=2):
        where = f"data.labeled_items={path}, line {n}"
        if (row.get("index") or "").strip():
            try:
                i = int(row["index"])
            except ValueError:
                raise DataError(f"{where}: index {row['index']!r} is not an integer") from None
            if not 0 <= i < len(labels):
                raise DataError(f"{where}: index {i} is outside the training part (0..{len(labels) - 1})")
        else:
            if by_name is None:
                by_name = {}
                for j in range(len(labels)):
                    by_name.setdefault(item_name(inputs, j), []).append(j)
            hits = by_name.get(row.get("item") or "", [])
            free = [j for j in hits if j not in idx]
            if not free:
                raise DataError(f"{where}: item {str(row.get('item'))[:80]!r} is not in the training part")
            i = free[0]
        value = (row.get("label") or "").strip()
        c = _class_of(value, dataset.classes, dataset.num_classes, where) if value else int(labels[i])
        if c < 0:
            raise DataError(f"{where}: item {i} has no label in the file nor in the dataset; fill its label")
        if i in idx:
            raise DataError(f"{where}: item {i} is listed twice")
        idx.append(i)
        lab.append(c)
    if not idx:
        raise DataError(f"data.labeled_items={path} lists no item")
    return np.asarray(idx, dtype=np.int64), np.asarray(lab, dtype=np.int64)


def labeled_items_split(
    dataset: Any, path: str | Path, pool: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labeled, validation, unlabeled) with exactly the listed items labelled; their labels are
    written into ``dataset.train.labels`` (a user's labels replace the dataset's)."""
    idx, lab = read_labeled_items(dataset, path)
    outside = np.setdiff1d(idx, pool)
    if outside.size:
        raise DataError(
            f"data.labeled_items={path}: item(s) {outside[:5].tolist()} are in the held-out test part; "
            "label items of the training pool only (those ssft suggest lists)"
        )
    labels = np.array(dataset.train.labels, copy=True)
    labels[idx] = lab
    dataset.train.labels = labels
    labeled = np.sort(idx)
    unlabeled = np.setdiff1d(pool, labeled).astype(np.int64)
    return labeled, np.zeros(0, dtype=np.int64), unlabeled


def labeled_items_record(data_cfg: Any, dataset: Any, labeled: np.ndarray) -> dict[str, Any]:
    """What results.json reports of the labelled items: each one's index, name and label."""
    if not getattr(data_cfg, "labeled_items", None):
        return {}
    classes, labels, inputs = dataset.classes, dataset.train.labels, dataset.train.inputs
    return {
        "labeled_items_file": str(data_cfg.labeled_items),
        "labeled_items": [
            {
                "index": int(i),
                "item": item_name(inputs, int(i))[:200],
                "label": classes[int(labels[i])] if classes else int(labels[i]),
            }
            for i in labeled
        ],
    }
