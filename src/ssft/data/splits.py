"""Few-label splits: class-balanced, seeded with explicit generators, saved.

* :func:`holdout_split` carves a class-stratified test part from a dataset that has one split only.
* :func:`few_label_split` draws ``k`` labelled (and ``v`` validation) examples per class; the rest of
  the pool is unlabelled. Per-class draws use a generator seeded by ``(seed, class)``, so for one seed
  the labelled set at ``k=1`` is contained in the one at ``k=4`` (nested splits make a sweep over
  ``k`` compare like with like).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssft.data.split_notes import ALL_LABELS
from ssft.errors import DataError

# Distinct stream tags so the holdout, the labelled draw and the subsampling never share a stream.
_HOLDOUT, _LABELED, _UNLABELED_CAP, _TEST_CAP = 101, 202, 303, 404


@dataclass
class Split:
    """Indices of one run's data. ``labeled``, ``validation`` and ``unlabeled`` index the dataset's
    train part; ``test`` indexes the test part, or the train part when ``test_source == "train"``
    (a held-out part of a one-split dataset)."""

    labeled: np.ndarray
    unlabeled: np.ndarray
    test: np.ndarray
    validation: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    test_source: str = "test"
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "test_source": self.test_source,
            "info": self.info,
            "labeled": self.labeled.tolist(),
            "validation": self.validation.tolist(),
            "unlabeled": self.unlabeled.tolist(),
            "test": self.test.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Split:
        arr = lambda k: np.asarray(data.get(k, []), dtype=np.int64)  # noqa: E731
        return cls(
            labeled=arr("labeled"),
            unlabeled=arr("unlabeled"),
            test=arr("test"),
            validation=arr("validation"),
            test_source=data.get("test_source", "test"),
            info=data.get("info", {}),
        )

    def save(self, path: Path, dataset: Any = None) -> None:
        """Write the indices; with ``dataset``, also each item's file path (or text), so a user can
        see which of their files were labelled (``items``; indices stay the reference)."""
        data = self.to_json()
        if dataset is not None:
            items = self.item_names(dataset)
            if items is not None:
                data["items"] = items
        from ssft.fileio import atomic_write_text
        from ssft.integrity import split_sha256

        atomic_write_text(Path(path), json.dumps({**data, "sha256": split_sha256(data)}))

    def item_names(self, dataset: Any) -> dict[str, list[str]] | None:
        """File path (or first 100 characters of text) of every item, per part; None for in-memory
        arrays, whose index is their only name."""
        test_part = dataset.train if self.test_source == "train" else dataset.test

        def names(inputs: Any, idx: np.ndarray) -> list[str] | None:
            paths = getattr(inputs, "paths", None)
            if paths is not None:
                return [str(paths[int(i)]) for i in idx]
            if isinstance(inputs, list):
                return [str(inputs[int(i)])[:100] for i in idx]
            return None

        out = {
            "labeled": names(dataset.train.inputs, self.labeled),
            "validation": names(dataset.train.inputs, self.validation),
            "unlabeled": names(dataset.train.inputs, self.unlabeled),
            "test": names(test_part.inputs, self.test) if test_part is not None else None,
        }
        if all(v is None for v in out.values()):
            return None
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def load(cls, path: Path) -> Split:
        from ssft.integrity import check_split

        data = json.loads(Path(path).read_text())
        check_split(Path(path), data)
        return cls.from_json(data)


def _class_names(classes: list[str] | None, c: int) -> str:
    return f"{c} ({classes[c]})" if classes and c < len(classes) else str(c)


def holdout_split(
    labels: np.ndarray, fraction: float, seed: int, *, classes: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of the labelled items into (pool, test); unlabelled items (-1) stay in the pool.

    Each class contributes ``round(fraction * n_c)`` items (at least one) to the test part.
    """
    labels = np.asarray(labels)
    if not 0.0 < fraction < 1.0:
        raise DataError(f"holdout fraction must be in (0, 1), got {fraction}")
    test_parts = []
    for c in np.unique(labels[labels >= 0]):
        idx = np.flatnonzero(labels == c)
        rng = np.random.default_rng([seed, _HOLDOUT, int(c)])
        n_test = max(1, int(round(fraction * idx.size)))
        if n_test >= idx.size:
            raise DataError(
                f"class {_class_names(classes, int(c))} has {idx.size} example(s): too few to hold "
                f"out a test part with data.holdout={fraction}; add data or lower data.holdout"
            )
        test_parts.append(rng.permutation(idx)[:n_test])
    test = np.sort(np.concatenate(test_parts)) if test_parts else np.zeros(0, dtype=np.int64)
    pool = np.setdiff1d(np.arange(labels.size), test)
    return pool.astype(np.int64), test.astype(np.int64)


def few_label_split(
    labels: np.ndarray,
    k: int,
    seed: int,
    *,
    num_classes: int,
    val_per_class: int = 0,
    pool: np.ndarray | None = None,
    classes: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``k`` labelled and ``val_per_class`` validation items per class from ``pool``.

    ``k = ALL_LABELS`` (``data.labels_per_class=all``) labels every labelled pool item not drawn
    for validation. Returns ``(labeled, validation, unlabeled)``, sorted, disjoint, covering ``pool``. Raises a
    :class:`DataError` naming the class when a class has fewer than ``k + val_per_class`` labelled items.
    """
    labels = np.asarray(labels)
    pool = np.arange(labels.size) if pool is None else np.asarray(pool, dtype=np.int64)
    every = k == ALL_LABELS
    if k < 1 and not every:
        raise DataError(f"labels_per_class must be >= 1 or all, got {k}")
    need = (1 if every else k) + val_per_class
    lab, val = [], []
    pool_labels = labels[pool]
    for c in range(num_classes):
        idx = pool[pool_labels == c]
        if idx.size < need:
            what = f"{1 if every else k} labelled" + (
                f" + {val_per_class} validation" if val_per_class else ""
            )
            raise DataError(
                f"class {_class_names(classes, c)} has {idx.size} labelled example(s) in the training "
                f"pool, fewer than the {what} asked for; lower data.labels_per_class"
                + (" or data.val_per_class" if val_per_class else "")
                + " or add labelled data for that class"
            )
        perm = np.random.default_rng([seed, _LABELED, c]).permutation(np.sort(idx))
        # Validation is drawn from the end of the permutation so that changing k leaves it unchanged.
        lab.append(perm[: idx.size - val_per_class] if every else perm[:k])
        if val_per_class:
            val.append(perm[-val_per_class:])
    labeled = np.sort(np.concatenate(lab)).astype(np.int64)
    validation = np.sort(np.concatenate(val)).astype(np.int64) if val else np.zeros(0, dtype=np.int64)
    unlabeled = np.setdiff1d(pool, np.concatenate([labeled, validation])).astype(np.int64)
    return labeled, validation, unlabeled


def stratified_cap(labels: np.ndarray, idx: np.ndarray, cap: int, seed: int, tag: int) -> np.ndarray:
    """A seeded subsample of ``idx`` of size ``cap``, proportional per class (unlabelled = one class)."""
    if cap >= idx.size:
        return idx
    rng = np.random.default_rng([seed, tag])
    lab = labels[idx]
    keep = []
    groups = np.unique(lab)
    # Largest-remainder allocation so the total is exactly ``cap``.
    counts = np.array([(lab == g).sum() for g in groups])
    quota = counts * cap / idx.size
    alloc = np.floor(quota).astype(int)
    for j in np.argsort(-(quota - alloc))[: cap - alloc.sum()]:
        alloc[j] += 1
    for g, a in zip(groups, alloc, strict=True):
        members = idx[lab == g]
        keep.append(rng.permutation(members)[:a])
    return np.sort(np.concatenate(keep)).astype(np.int64)


def make_split(dataset: Any, cfg: Any) -> Split:
    """The run's split for a :class:`~ssft.data.base.Dataset` and a :class:`~ssft.config.DataConfig`."""
    train_labels = dataset.train.labels
    if dataset.test is None:
        pool, test = holdout_split(train_labels, cfg.holdout, cfg.holdout_seed, classes=dataset.classes)
        test_source = "train"
        test_labels = train_labels
    else:
        pool = np.arange(train_labels.size, dtype=np.int64)
        test = np.flatnonzero(dataset.test.labels >= 0).astype(np.int64)
        test_source = "test"
        test_labels = dataset.test.labels
    if getattr(cfg, "labeled_items", None):  # the items a user labelled (docs/suggest.md)
        from ssft.data.labeled_items import labeled_items_split

        labeled, validation, unlabeled = labeled_items_split(dataset, cfg.labeled_items, pool)
    else:
        labeled, validation, unlabeled = few_label_split(
            train_labels,
            cfg.labels_per_class,
            cfg.split_seed,
            num_classes=dataset.num_classes,
            val_per_class=cfg.val_per_class,
            pool=pool,
            classes=dataset.classes,
        )
    if cfg.max_unlabeled is not None:
        unlabeled = stratified_cap(train_labels, unlabeled, cfg.max_unlabeled, cfg.split_seed, _UNLABELED_CAP)
    if cfg.max_test is not None:
        test = stratified_cap(test_labels, test, cfg.max_test, cfg.holdout_seed, _TEST_CAP)
    if test.size == 0:
        raise DataError(f"{dataset.name}: the test part has no labelled example")
    info = {
        "dataset": dataset.name,
        "labels_per_class": None if getattr(cfg, "labeled_items", None) else cfg.labels_per_class,
        "labeled_items": getattr(cfg, "labeled_items", None),
        "split_seed": cfg.split_seed,
        "holdout": cfg.holdout if test_source == "train" else None,
        "holdout_seed": cfg.holdout_seed if test_source == "train" else None,
        "counts": {
            "labeled": int(labeled.size),
            "validation": int(validation.size),
            "unlabeled": int(unlabeled.size),
            "test": int(test.size),
        },
    }
    return Split(labeled, unlabeled, test, validation, test_source, info)
