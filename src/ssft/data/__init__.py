"""Datasets: loaders registered by name, the few-label splits, the striped MNIST variants.

>>> from ssft.config import DataConfig
>>> ds = load_dataset(DataConfig(name="digits"))
>>> len(ds.train), ds.num_classes
(1797, 10)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ssft.data import features as _features  # noqa: F401  (data.name=features)
from ssft.data.base import DATASETS, UNLABELED, ArrayImages, Dataset, FileImages, Part, read_image

# Importing a source registers its loaders in DATASETS.
from ssft.data.sources import agnews as _agnews  # noqa: F401
from ssft.data.sources import cifar10 as _cifar10  # noqa: F401
from ssft.data.sources import csv_file as _csv_file  # noqa: F401
from ssft.data.sources import digits as _digits  # noqa: F401
from ssft.data.sources import galaxy as _galaxy  # noqa: F401
from ssft.data.sources import hf_dataset as _hf_dataset  # noqa: F401
from ssft.data.sources import imagefolder as _imagefolder  # noqa: F401
from ssft.data.sources import mnist as _mnist  # noqa: F401
from ssft.data.sources import svhn as _svhn  # noqa: F401
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
