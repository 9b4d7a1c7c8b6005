"""What a user must hear about a split: labels left unused, a test part too small to mean much.

The test accuracy's 95 % Wilson score interval (Wilson 1927, "Probable inference, the law of
succession, and statistical inference") is stored with every run (``test_accuracy_interval95``) and
printed with it, so a figure from 8 test items is read as what it is.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

#: ``data.labels_per_class=all``: every labelled item of the training pool is labelled.
ALL_LABELS = -1
#: Below this many test items a test accuracy is reported with a warning (interval wider than ~±10 %).
SMALL_TEST = 100


def wilson95(correct: int, n: int) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion ``correct / n``; ``(0, 1)`` when ``n`` is 0."""
    if n <= 0:
        return (0.0, 1.0)
    z = 1.959963984540054
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def note_split(dataset: Any, split: Any, k: int) -> None:
    """Warn when labelled items of partly labelled data go unused (``k`` per class kept)."""
    labels = np.asarray(dataset.train.labels)
    if k == ALL_LABELS or not (labels < 0).any():
        return  # a fully labelled benchmark split is few-label by design: nothing to say
    pool_labelled = np.flatnonzero(labels >= 0)
    used = np.union1d(split.labeled, split.validation)
    spare = np.setdiff1d(np.intersect1d(pool_labelled, split.unlabeled), used)
    if spare.size:
        warnings.warn(
            f"{dataset.name}: {spare.size} labelled item(s) beyond data.labels_per_class={k} per class are "
            "used as unlabelled; set data.labels_per_class=all to use every label",
            stacklevel=2,
        )


def note_test_size(name: str, correct: int, n: int) -> tuple[float, float]:
    """The 95 % interval of the test accuracy; a warning stating it when the test part is small."""
    lo, hi = wilson95(correct, n)
    if n < SMALL_TEST:
        warnings.warn(
            f"{name}: the test part has only {n} item(s): test accuracy {correct / max(n, 1):.4f} lies "
            f"anywhere in [{lo:.2f}, {hi:.2f}] (95 % interval); add labelled test data "
            "(data.test_path, a larger data.holdout) before reading much into it",
            stacklevel=2,
        )
    return lo, hi
