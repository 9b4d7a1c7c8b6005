"""Checks on a drawn split that warn rather than refuse: the same item labelled and tested."""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import numpy as np

from ssft.data.base import ArrayImages, Dataset, FileImages


def _digest(inputs: Any, i: int) -> str:
    """A content fingerprint of item ``i``: the path for files (cheap), bytes for arrays, text."""
    if isinstance(inputs, FileImages):
        return "path:" + str(inputs.paths[i].resolve())
    if isinstance(inputs, ArrayImages):
        return hashlib.sha1(np.ascontiguousarray(inputs[i]).tobytes()).hexdigest()
    if isinstance(inputs, list):
        return hashlib.sha1(str(inputs[i]).strip().encode("utf-8", "replace")).hexdigest()
    return hashlib.sha1(repr(inputs[i]).encode()).hexdigest()


def duplicates_between_labeled_and_test(dataset: Dataset, split: Any) -> list[tuple[int, int]]:
    """Pairs (labelled index, test index) holding the same file, pixels or text. Warns once,
    naming the first few, because a labelled item that is also a test item inflates accuracy."""
    test_part = dataset.train if split.test_source == "train" else dataset.test
    if test_part is None or split.labeled.size == 0:
        return []
    lab = {}
    for i in split.labeled:
        lab.setdefault(_digest(dataset.train.inputs, int(i)), int(i))
    pairs = []
    for j in split.test:
        d = _digest(test_part.inputs, int(j))
        if d in lab:
            pairs.append((lab[d], int(j)))
    if pairs:
        shown = ", ".join(f"train item {a} = test item {b}" for a, b in pairs[:5])
        warnings.warn(
            f"{dataset.name}: {len(pairs)} labelled item(s) also appear in the test part ({shown}"
            f"{', ...' if len(pairs) > 5 else ''}); test accuracy on them is not a fair measure. "
            "Remove the duplicates from the data, or use a different split seed",
            stacklevel=2,
        )
    return pairs
