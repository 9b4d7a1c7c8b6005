"""Datasets: loaders registered by name, the few-label splits, the striped MNIST variants.

>>> from ssft.config import DataConfig
>>> ds = load_dataset(DataConfig(name="digits"))
>>> len(ds.train), ds.num_classes
(1797, 10)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ssft.data import features as _features  # noqa: F401  (registers data.name=features)
from ssft.data import hf_dataset as _hf_dataset  # noqa: F401  (registers data.name=hf_dataset)
from ssft.data import loaders as _loaders  # noqa: F401  (registers the loaders)
from ssft.data.base import DATASETS, UNLABELED, ArrayImages, Dataset, FileImages, Part, read_image
from ssft.errors import DataError

if TYPE_CHECKING:
    from ssft.config import DataConfig

__all__ = [
    "DATASETS",
    "UNLABELED",
    "ArrayImages",
    "DataError",
    "Dataset",
    "FileImages",
    "Part",
    "available_datasets",
    "load_dataset",
    "read_image",
]


def load_dataset(cfg: DataConfig) -> Dataset:
    """Load the dataset ``cfg.name`` (a :class:`~ssft.config.DataConfig`) and check its labels.

    An unknown name is a :class:`~ssft.errors.ConfigError` listing the known ones.
    """
    loader = DATASETS.get(cfg.name)
    dataset = loader(cfg)
    dataset.check_labels()
    return dataset


def available_datasets() -> dict[str, str]:
    """Dataset name -> one line of help."""
    return DATASETS.describe()
