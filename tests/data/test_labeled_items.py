"""data.labeled_items: train on exactly the listed items, labels from the file or the dataset."""

from __future__ import annotations

import numpy as np
import pytest

from ssft.config import load_config
from ssft.data import load_dataset
from ssft.data.base import Dataset, Part
from ssft.data.labeled_items import labeled_items_record, read_labeled_items
from ssft.data.splits import make_split
from ssft.errors import DataError


def texts() -> Dataset:
    inputs = [f"text {i}" for i in range(12)]
    labels = np.array([0, 1, 2] * 4)
    labels[11] = -1  # one unlabelled row
    test = Part(["a", "b", "c"], np.array([0, 1, 2]))
    return Dataset("t", "text", ["x", "y", "z"], Part(inputs, labels), test)


def write(tmp_path, text):
    p = tmp_path / "items.csv"
    p.write_text(text)
    return p


def cfg_with(path):
    return load_config("demo", [f"data.labeled_items={path}"]).data


def test_split_uses_exactly_the_listed_items(tmp_path):
    ds = texts()
    p = write(tmp_path, "index,item,label\n4,,\n,text 7,\n11,,z\n")
    split = make_split(ds, cfg_with(p))
    assert split.labeled.tolist() == [4, 7, 11]
    assert ds.train.labels[[4, 7, 11]].tolist() == [1, 1, 2]  # file label on 11, dataset's elsewhere
    assert set(split.unlabeled.tolist()) == set(range(12)) - {4, 7, 11}
    assert split.info["labeled_items"] == str(p) and split.info["labels_per_class"] is None
    rec = labeled_items_record(cfg_with(p), ds, split.labeled)
    assert [r["label"] for r in rec["labeled_items"]] == ["y", "y", "z"]
    assert rec["labeled_items"][1]["item"] == "text 7"


def test_class_numbers_and_names_both_work(tmp_path):
    idx, lab = read_labeled_items(texts(), write(tmp_path, "index,label\n0,2\n1,y\n"))
    assert idx.tolist() == [0, 1] and lab.tolist() == [2, 1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name\n1\n", "needs an 'index' or an 'item' column"),
        ("index\n99\n", "outside the training part"),
        ("index\nx\n", "is not an integer"),
        ("item\nmissing\n", "is not in the training part"),
        ("index,label\n1,w\n", "unknown label 'w'; known: x, y, z"),
        ("index\n11\n", "no label in the file nor in the dataset"),
        ("index\n1\n1\n", "listed twice"),
        ("index\n", "lists no item"),
    ],
)
def test_bad_files_are_named(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        read_labeled_items(texts(), write(tmp_path, text))


def test_a_test_item_cannot_be_labelled(tmp_path):
    cfg = load_config("demo").data
    ds = load_dataset(cfg)
    test = make_split(ds, cfg).test
    p = write(tmp_path, f"index\n{int(test[0])}\n")
    with pytest.raises(DataError, match="held-out test part"):
        make_split(ds, cfg_with(p))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        make_split(texts(), cfg_with(tmp_path / "nope.csv"))
