"""The development split of ``ssft tune``, carved from the training pool only, so that
tuning never reads a test label.

The run's test part is removed first, exactly as :func:`~ssft.data.splits.make_split` removes it
(``data.holdout`` / ``data.holdout_seed`` for a one-split dataset; the whole test split
otherwise). What remains, the pool, is split class-stratified into

* **dev-train**: the items a trial trains on; its ``k`` labelled items per class (and any
  ``data.val_per_class`` validation items) are drawn from here, per seed, like a real run draws
  them from the pool; the rest is the trial's unlabelled data;
* **dev-eval**: labelled items a trial is scored on. These labels are spent on tuning: they are
  counted and reported, and a user with only ``k`` labels per class has no such set.

The result is a new :class:`~ssft.data.base.Dataset` holding dev-train as its train part and
dev-eval as its test part, so a trial is an ordinary run of :func:`ssft.run.runner.fit` that cannot
read a test item: the test part is not in it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ssft.data.base import ArrayImages, Dataset, FileImages, Part
from ssft.data.splits import holdout_split, stratified_cap
from ssft.data.subset import SubsetInputs
from ssft.errors import DataError

#: stream tag of the dev-eval draw, distinct from the tags in ssft.data.splits
_DEV_EVAL = 505


class IndexedInputs(SubsetInputs):
    """Items ``indices`` of an input collection of a type ssft does not know how to copy, with an
    identity of their own (the feature cache keys a dev dataset by it)."""

    def identity(self) -> str:
        parent = self.inputs.identity() if hasattr(self.inputs, "identity") else type(self.inputs).__name__
        h = hashlib.sha256(str(parent).encode())
        h.update(np.ascontiguousarray(self.indices).tobytes())
        return h.hexdigest()[:16]


def subset_inputs(inputs: Any, idx: np.ndarray) -> Any:
    """The inputs ``idx`` of a part, as the same kind of collection where ssft knows the kind."""
    idx = np.asarray(idx, dtype=np.int64)
    if type(inputs) is list:
        return [inputs[int(i)] for i in idx]
    if type(inputs) is ArrayImages:
        return ArrayImages(np.ascontiguousarray(inputs.array[idx]))
    if type(inputs) is FileImages:
        return FileImages([inputs.paths[int(i)] for i in idx])
    return IndexedInputs(inputs, idx)


@dataclass
class DevSplit:
    """Indices into the original dataset's train part, and the dev dataset built from them."""

    dev_train: np.ndarray
    dev_eval: np.ndarray
    #: indices of the run's test part (into the train part when ``test_source == "train"``): never used
    test: np.ndarray
    test_source: str
    dataset: Dataset
    fraction: float
    seed: int

    def counts(self) -> dict[str, int]:
        return {
            "pool": int(self.dev_train.size + self.dev_eval.size),
            "dev_train": int(self.dev_train.size),
            "dev_eval_labels": int(self.dev_eval.size),
            "test_excluded": int(self.test.size),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "fraction": self.fraction,
            "seed": self.seed,
            "test_source": self.test_source,
            "counts": self.counts(),
            "dev_train": self.dev_train.tolist(),
            "dev_eval": self.dev_eval.tolist(),
            "test": self.test.tolist(),
        }


def make_dev_split(dataset: Dataset, data_cfg: Any, fraction: float, seed: int = 0) -> DevSplit:
    """Carve dev-train and dev-eval from the pool of ``dataset`` (see the module docstring).

    ``fraction`` of each class's labelled pool items go to dev-eval (at least one per class),
    capped at ``data.max_test`` items; unlabelled items (label -1) always stay in dev-train.
    """
    if not 0.0 < fraction < 1.0:
        raise DataError(f"the dev fraction must be in (0, 1), got {fraction} (--dev-fraction)")
    labels = dataset.train.labels
    if dataset.test is None:
        pool, test = holdout_split(labels, data_cfg.holdout, data_cfg.holdout_seed, classes=dataset.classes)
        test_source = "train"
    else:
        pool = np.arange(labels.size, dtype=np.int64)
        test = np.flatnonzero(dataset.test.labels >= 0).astype(np.int64)
        test_source = "test"
    try:
        keep, held = holdout_split(labels[pool], fraction, seed * 1000 + _DEV_EVAL, classes=dataset.classes)
    except DataError as e:
        raise DataError(f"cannot carve a dev-eval part from the training pool: {e}") from None
    dev_train, dev_eval = pool[keep], pool[held]
    cap = getattr(data_cfg, "max_test", None)
    if cap is not None and cap < dev_eval.size:
        # data.max_test caps dev-eval as it caps the test part; the items left over stay in the pool.
        kept = stratified_cap(labels, dev_eval, cap, seed * 1000 + _DEV_EVAL, _DEV_EVAL)
        dev_train = np.sort(np.concatenate([dev_train, np.setdiff1d(dev_eval, kept)]))
        dev_eval = kept
    missing = [dataset.classes[c] for c in range(dataset.num_classes) if not (labels[dev_eval] == c).any()]
    if missing:
        raise DataError(
            f"the training pool has no labelled item of class(es) {', '.join(missing[:5])} to score "
            "trials on; add labelled data for them"
        )
    train = dataset.train
    dev = Dataset(
        name=f"{dataset.name}-dev",
        modality=dataset.modality,
        classes=list(dataset.classes),
        train=Part(subset_inputs(train.inputs, dev_train), labels[dev_train]),
        test=Part(subset_inputs(train.inputs, dev_eval), labels[dev_eval]),
        extra={"dev_of": dataset.name},
    )
    return DevSplit(dev_train, dev_eval, test, test_source, dev, fraction, seed)
