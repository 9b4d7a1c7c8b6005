"""``data.name=csv``: a CSV file of texts or image paths with a label column (empty = unlabelled),
and :func:`parse_labels`, the label-cell parser other tabular sources share."""

from __future__ import annotations

import csv
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ssft.data.base import DATASETS, UNLABELED, Dataset, FileImages, Part
from ssft.data.paths import resolve_data_path, where_looked
from ssft.data.sources.common import INT_RE, drop_bad_images
from ssft.errors import DataError


def _read_csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and data rows (blank lines skipped); UTF-8, a BOM is tolerated."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise DataError(
            f"CSV file {path} does not exist (looked in {where_looked(path)}); fix data.path"
        ) from None
    except IsADirectoryError:
        raise DataError(f"data.path={path} is a folder; point it at a CSV file") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text ({e}); save the CSV as UTF-8") from None
    except (csv.Error, OSError) as e:
        raise DataError(f"cannot parse CSV {path} ({e}); check its quoting or save it again") from None
    if not rows:
        raise DataError(f"CSV file {path} is empty; it needs a header row naming the columns")
    return rows[0], [r for r in rows[1:] if r]


def parse_labels(cells: Sequence[str], what: str) -> tuple[np.ndarray, list[str]]:
    """Label cells -> (labels int64 with -1 for empty, class names).

    Either every non-empty cell is an integer 0..K-1 (K = the number of distinct values, so
    every class has an example) or every one is a class name (classes = sorted unique names).
    ``what`` names the source in error messages; cells are numbered from data row 1.
    """
    vals = [c.strip() for c in cells]
    filled = [(i, v) for i, v in enumerate(vals) if v]
    ints = [(i, v) for i, v in filled if INT_RE.match(v)]
    labels = np.full(len(vals), UNLABELED, dtype=np.int64)
    if ints and len(ints) < len(filled):
        i, v = next((i, v) for i, v in filled if not INT_RE.match(v))
        raise DataError(
            f"{what}: label {v!r} in data row {i + 1} is not an integer, but other labels are; use "
            "integers 0..K-1 everywhere or class names everywhere (empty = unlabelled)"
        )
    if ints:
        nums = [(i, int(v)) for i, v in ints]
        k = len({n for _, n in nums})
        for i, n in nums:
            if n < 0 or n >= k:
                hint = " (labels look 1-based: subtract 1)" if min(m for _, m in nums) == 1 else ""
                raise DataError(
                    f"{what}: label {n} in data row {i + 1} is out of range; with {k} distinct integer "
                    f"labels they must be 0..{k - 1}{hint}; renumber them or use class names "
                    "(leave the cell empty for unlabelled)"
                )
            labels[i] = n
        return labels, [str(c) for c in range(k)]
    classes = sorted({v for _, v in filled})
    index = {c: j for j, c in enumerate(classes)}
    for i, v in filled:
        labels[i] = index[v]
    return labels, classes


def _column(header: list[str], name: str, key: str, path: Path) -> int:
    stripped = [h.strip() for h in header]
    if name not in header and name.strip() not in stripped:
        raise DataError(
            f"{path} has no column {name!r} ({key}); its columns are: {', '.join(repr(h) for h in header)}"
        )
    return header.index(name) if name in header else stripped.index(name.strip())


def _csv_test_rows(cfg: Any, header: list[str], in_name: str, in_key: str) -> list[tuple[str, str]]:
    """``data.test_path``: (input, label) rows of the separate test CSV; every row must be labelled."""
    if not cfg.test_path:
        return []
    tpath = resolve_data_path(cfg.test_path)
    theader, trows = _read_csv_rows(tpath)
    ci = _column(theader, in_name, in_key, tpath)
    li = _column(theader, cfg.label_column, "data.label_column", tpath)
    out = []
    for r, row in enumerate(trows, start=1):
        if len(row) <= max(ci, li):
            raise DataError(
                f"{tpath}: data row {r} has {len(row)} field(s) but the header has {len(theader)}; "
                "fix the row (quote fields holding commas or newlines)"
            )
        if not row[li].strip():
            raise DataError(
                f"{tpath}: data row {r} has no label; every row of data.test_path must be labelled "
                "(unlabelled rows belong in data.path)"
            )
        out.append((row[ci], row[li]))
    if not out:
        raise DataError(f"{tpath} (data.test_path) has no data row; give it labelled test rows")
    return out


def _image_paths(
    cfg: Any, path: Path, values: list[str]
) -> tuple[list[Path], list[int], list[tuple[str, str]]]:
    """The image files the cells name (relative to the CSV's folder): (paths, kept row indices, missing
    files dropped by ``data.skip_bad``); a path named twice is warned about, since it could leak."""
    base = path.parent
    paths: list[Path] = []
    keep: list[int] = []
    bad: list[tuple[str, str]] = []
    for r, v in enumerate(values, start=1):
        v = v.strip()
        if not v:
            raise DataError(
                f"{path}: data row {r} has an empty {cfg.image_column!r} cell; give an image path"
            )
        p = Path(v).expanduser()
        p = p if p.is_absolute() else base / p
        if not p.is_file():
            if cfg.skip_bad:
                bad.append((str(p), f"data row {r}: file does not exist"))
                continue
            raise DataError(
                f"{path}: data row {r} names image {v!r}, but {p} does not exist; paths are relative to "
                "the CSV's folder: fix the path, or pass data.skip_bad=true to drop such rows"
            )
        paths.append(p)
        keep.append(r - 1)
    seen: dict[Path, int] = {}
    dups = []
    for p in paths:
        key = p.resolve()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 2:
            dups.append(str(p))
    if dups:
        warnings.warn(
            f"{path}: {len(dups)} image file(s) appear more than once (e.g. {', '.join(dups[:5])}); "
            "duplicates can leak between the labelled, unlabelled and test parts",
            stacklevel=3,
        )
    return paths, keep, bad


@DATASETS.register("csv", help="data.path CSV: data.text_column or data.image_column + data.label_column")
def load_csv(cfg: Any) -> Dataset:
    if not cfg.path:
        raise DataError("dataset 'csv' needs data.path: set data.path=<file.csv>")
    if bool(cfg.text_column) == bool(cfg.image_column):
        raise DataError(
            "dataset 'csv' needs exactly one of data.text_column (texts) or data.image_column (image paths); "
            f"got text_column={cfg.text_column!r}, image_column={cfg.image_column!r}"
        )
    path = resolve_data_path(cfg.path)
    header, rows = _read_csv_rows(path)
    in_key, in_name = (
        ("data.text_column", cfg.text_column) if cfg.text_column else ("data.image_column", cfg.image_column)
    )
    ci = _column(header, in_name, in_key, path)
    li = _column(header, cfg.label_column, "data.label_column", path)
    for r, row in enumerate(rows, start=1):
        if len(row) <= max(ci, li):
            raise DataError(
                f"{path}: data row {r} has {len(row)} field(s) but the header has {len(header)}; "
                "fix the row (quote fields holding commas or newlines)"
            )
    values = [row[ci] for row in rows]
    test_rows = _csv_test_rows(cfg, header, in_name, in_key)
    cells = [row[li] for row in rows] + [row[1] for row in test_rows]
    all_labels, classes = parse_labels(cells, str(path))
    labels = all_labels[: len(rows)]
    if not classes:
        raise DataError(
            f"{path}: column {cfg.label_column!r} has no label at all; label at least one row per class"
        )
    test = None
    if test_rows:
        if cfg.image_column:
            raise DataError(
                "data.test_path works with text CSVs (data.text_column); for image paths, keep one CSV "
                "and let data.holdout hold the test part out"
            )
        test = Part([row[0] for row in test_rows], all_labels[len(rows) :])
    if cfg.text_column:
        return Dataset("csv", "text", classes, Part(list(values), labels), test)

    paths, keep, bad = _image_paths(cfg, path, values)
    kept_labels = [int(labels[i]) for i in keep]
    extra: dict[str, Any] = {}
    if cfg.skip_bad:
        paths, kept_labels, decoded_bad = drop_bad_images(paths, kept_labels)
        extra["bad_files"] = bad + decoded_bad
    return Dataset(
        "csv", "image", classes, Part(FileImages(paths), np.asarray(kept_labels, dtype=np.int64)), None, extra
    )
