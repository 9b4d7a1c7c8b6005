"""Splits a user should hear about: a named test split that is missing, labels left unused,
every label on request, a test part too small to mean much (with its 95 % interval)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from ssft.config import load_config
from ssft.data.split_notes import ALL_LABELS, wilson95
from ssft.data.splits import few_label_split
from ssft.errors import ConfigError, DataError


def test_wilson_interval_against_hand_values():
    # 5 of 8: p = 0.625; z = 1.96: centre = (0.625 + 0.2401) / 1.4802 = 0.5845, half = 0.2995 / 1.4802 ...
    lo, hi = wilson95(5, 8)
    assert lo == pytest.approx(0.3057, abs=1e-3) and hi == pytest.approx(0.8632, abs=1e-3)
    lo, hi = wilson95(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-3)
    assert wilson95(0, 0) == (0.0, 1.0)


def test_all_labels_uses_every_label_and_parses():
    labels = np.array([0, 0, 0, 1, 1, -1, -1, 1, 0])
    lab, val, unl = few_label_split(labels, ALL_LABELS, 0, num_classes=2)
    assert lab.tolist() == [0, 1, 2, 3, 4, 7, 8] and unl.tolist() == [5, 6] and val.size == 0
    lab, val, unl = few_label_split(labels, ALL_LABELS, 0, num_classes=2, val_per_class=1)
    assert lab.size == 5 and val.size == 2 and unl.tolist() == [5, 6]
    assert load_config(None, ["data.labels_per_class=all"]).data.labels_per_class == ALL_LABELS
    with pytest.raises(ConfigError, match=">= 1 or all"):
        load_config(None, ["data.labels_per_class=0"])
    with pytest.raises(DataError, match="class 1 has 0 labelled"):
        few_label_split(np.array([0, 0, -1]), ALL_LABELS, 0, num_classes=2)


def csv_40_labelled(tmp_path):
    """A partly labelled text CSV: 40 labelled rows (2 classes), 60 unlabelled."""
    rows = ["text,label"]
    for i in range(100):
        word = "great" if i % 2 else "awful"
        rows.append(f"item {i} {word},{('good' if i % 2 else 'bad') if i < 40 else ''}")
    (tmp_path / "items.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "items.csv"


def test_partly_labelled_csv_warns_of_unused_labels_and_a_small_test_part(tmp_path):
    from ssft.api import fit

    sets = [
        "data.name=csv",
        f"data.path={csv_40_labelled(tmp_path)}",
        "data.text_column=text",
        "backbone.name=random:bert-tiny",
        "method.name=supervised",
        "train.steps=2",
        "train.progress=false",
    ]
    with pytest.warns(UserWarning) as got:
        r = fit(None, tmp_path / "run", overrides=[*sets, "data.labels_per_class=4"]).results
    text = " ".join(str(w.message) for w in got)
    assert "labelled item(s) beyond data.labels_per_class=4" in text and "labels_per_class=all" in text
    assert f"only {r['num_test']} item(s)" in text and "95 % interval" in text
    lo, hi = r["test_accuracy_interval95"]
    assert lo <= r["test_accuracy"] <= hi and hi - lo > 0.3
    with pytest.warns(UserWarning) as got:
        r = fit(None, tmp_path / "all", overrides=[*sets, "data.labels_per_class=all"]).results
    assert not any("beyond data.labels_per_class" in str(w.message) for w in got)
    assert r["num_labeled"] == 40 - r["num_test"]


@pytest.mark.skipif(importlib.util.find_spec("datasets") is None, reason="datasets is not installed")
def test_a_named_test_split_that_is_missing_is_an_error(tmp_path):
    import datasets

    from ssft.data import load_dataset

    dd = datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict({"t": ["a", "b", "c", "d"], "y": [0, 1, 0, 1]})}
    )
    dd.save_to_disk(str(tmp_path / "d"))
    base = [
        "data.name=hf_dataset",
        f"data.path={tmp_path / 'd'}",
        "data.text_column=t",
        "data.label_column=y",
    ]
    with pytest.raises(DataError, match=r"no split 'validation' \(data.test_split\); splits: train"):
        load_dataset(load_config(None, [*base, "data.test_split=validation"]).data)
    assert load_dataset(load_config(None, base).data).test is None  # the default may be missing
    assert load_dataset(load_config(None, [*base, "data.test_split=null"]).data).test is None
