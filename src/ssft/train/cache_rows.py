"""Which training items a run's cache entries cover.

The entry of the training part is keyed by the items it holds. Without ``data.max_unlabeled``
those are the whole pool (labelled, validation and unlabelled items), the same for every split
seed. With it, the unlabelled items are a subsample drawn with the split seed, so an entry of
exactly the run's items would be extracted again for every seed: the entry then covers the whole
pool (every training item not held out as test, which depends on ``data.holdout_seed`` only) and
the run reads its own items from it.
"""

from __future__ import annotations

import numpy as np

from ssft.config import Config
from ssft.data.base import Dataset
from ssft.data.splits import Split, holdout_split


def cache_rows(cfg: Config, dataset: Dataset, split: Split) -> np.ndarray:
    """Sorted indices into ``dataset.train`` that the training part's cache entries hold; they
    include every item the run reads (labelled, validation, unlabelled)."""
    used = np.unique(np.concatenate([split.labeled, split.validation, split.unlabeled])).astype(np.int64)
    if cfg.data.max_unlabeled is None:
        return used
    n = len(dataset.train.labels)
    if split.test_source == "test":
        pool = np.arange(n, dtype=np.int64)
    else:
        pool, _ = holdout_split(
            dataset.train.labels, cfg.data.holdout, cfg.data.holdout_seed, classes=dataset.classes
        )
    return np.union1d(pool, used).astype(np.int64)
