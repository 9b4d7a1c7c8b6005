"""``data.name=hf_dataset``: a Hugging Face ``datasets`` dataset (pip install 'ssft[hf-datasets]').

``data.path`` is a local folder written by ``save_to_disk``, a local folder of parquet files (split
by file name: ``train-*.parquet``, ``test-*.parquet``), or a hub id (downloaded only with network;
offline, a cached copy is used). Columns: ``data.text_column`` or ``data.image_column`` (an Image
feature) and ``data.label_column`` (a ClassLabel, integers 0..K-1 or class names; -1, None or empty
= unlabelled). Splits: ``data.train_split`` and ``data.test_split``, the dataset's own; without a
test split a test part is held out (``data.holdout``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ssft.data.base import DATASETS, UNLABELED, Dataset, Part
from ssft.data.paths import resolve_data_path
from ssft.data.sources.csv_file import parse_labels
from ssft.errors import DataError


class HFImages:
    """Images of one column of a ``datasets.Dataset``, decoded on access to uint8 (H, W, 3)."""

    def __init__(self, ds: Any, column: str) -> None:
        self.ds, self.column = ds, column

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> np.ndarray:
        img = self.ds[int(i)][self.column]
        if hasattr(img, "convert"):
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
        return np.asarray(img, dtype=np.uint8)

    def identity(self) -> str:
        return f"{getattr(self.ds, '_fingerprint', '')}:{self.column}:{len(self.ds)}"


def _open(path_or_id: str) -> Any:
    try:
        import datasets
    except ImportError:
        raise DataError(
            "data.name=hf_dataset needs the datasets package: pip install 'ssft[hf-datasets]'"
        ) from None
    local = resolve_data_path(path_or_id)
    try:
        if local.is_dir():
            if (local / "dataset_dict.json").is_file() or (local / "dataset_info.json").is_file():
                return datasets.load_from_disk(str(local))
            return datasets.load_dataset(str(local))
        if path_or_id.startswith(("/", ".", "~")):
            raise DataError(f"data.path={path_or_id}: no such folder (a save_to_disk or parquet folder)")
        return datasets.load_dataset(path_or_id)
    except DataError:
        raise
    except Exception as e:
        raise DataError(
            f"cannot load Hugging Face dataset {path_or_id!r} ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
            "give a local save_to_disk or parquet folder, or a hub id with network access "
            "(offline, HF_DATASETS_OFFLINE=1 uses a cached copy)"
        ) from None


def _labels(ds: Any, column: str, classes: list[str] | None) -> tuple[np.ndarray, list[str]]:
    values = ds[column]
    if classes is not None:  # a ClassLabel feature: integers, -1 = unlabelled
        return np.asarray([UNLABELED if v is None else int(v) for v in values], dtype=np.int64), classes
    cells = ["" if v is None or (isinstance(v, int) and v == UNLABELED) else str(v) for v in values]
    return parse_labels(cells, f"hf_dataset column {column!r}")


@DATASETS.register(
    "hf_dataset",
    help="a Hugging Face datasets dataset: data.path = save_to_disk/parquet folder or hub id; columns as keys",
)
def load_hf_dataset(cfg: Any) -> Dataset:
    if not cfg.path:
        raise DataError("dataset 'hf_dataset' needs data.path: a save_to_disk or parquet folder, or a hub id")
    if bool(cfg.text_column) == bool(cfg.image_column):
        raise DataError(
            "dataset 'hf_dataset' needs exactly one of data.text_column or data.image_column; "
            f"got text_column={cfg.text_column!r}, image_column={cfg.image_column!r}"
        )
    data = _open(cfg.path)
    splits = list(data.keys()) if hasattr(data, "keys") else []
    if not splits:
        raise DataError(f"{cfg.path} holds a single split; save it as a DatasetDict with a train split")
    if cfg.train_split not in splits:
        raise DataError(
            f"{cfg.path} has no split {cfg.train_split!r} (data.train_split); splits: {', '.join(splits)}"
        )
    train_ds = data[cfg.train_split]
    column = cfg.text_column or cfg.image_column
    for key, col in (
        ("data.text_column" if cfg.text_column else "data.image_column", column),
        ("data.label_column", cfg.label_column),
    ):
        if col not in train_ds.column_names:
            raise DataError(
                f"{cfg.path}: no column {col!r} ({key}); columns: {', '.join(train_ds.column_names)}"
            )
    feature = train_ds.features[cfg.label_column]
    classes = list(feature.names) if hasattr(feature, "names") else None

    def part(ds: Any, known: list[str] | None) -> tuple[Part, list[str]]:
        labels, names = _labels(ds, cfg.label_column, known)
        inputs: Any = [str(t) for t in ds[column]] if cfg.text_column else HFImages(ds, column)
        return Part(inputs, labels), names

    if cfg.test_split and cfg.test_split not in splits and cfg.test_split != "test":
        # Only the default may be missing (then data.holdout holds a test part out): a split the
        # user named and the data lacks must not silently turn into 20 % of train.
        raise DataError(
            f"{cfg.path} has no split {cfg.test_split!r} (data.test_split); splits: {', '.join(splits)}. "
            "Name one of them, or set data.test_split=null to hold data.holdout of the train split out"
        )
    train, names = part(train_ds, classes)
    test = None
    if cfg.test_split and cfg.test_split in splits:
        test_ds = data[cfg.test_split]
        if classes is None:
            # Class names must index the same way in both parts: parse them over the union.
            labels_all, names = _labels(_Concat(train_ds, test_ds, cfg.label_column), cfg.label_column, None)
            train = Part(train.inputs, labels_all[: len(train_ds)])
            test_inputs: Any = (
                [str(t) for t in test_ds[column]] if cfg.text_column else HFImages(test_ds, column)
            )
            test = Part(test_inputs, labels_all[len(train_ds) :])
        else:
            test, _ = part(test_ds, classes)
    modality = "text" if cfg.text_column else "image"
    return Dataset("hf_dataset", modality, names, train, test)


class _Concat:
    """The label column of two splits, read as one (so string labels get one class index)."""

    def __init__(self, a: Any, b: Any, column: str) -> None:
        self.values = list(a[column]) + list(b[column])
        self.column = column

    def __getitem__(self, key: str) -> list[Any]:
        return self.values
