"""data.name=hf_dataset, offline, on datasets written here: save_to_disk and parquet folders."""

from __future__ import annotations

import numpy as np
import pytest

from ssft.config import load_config
from ssft.data import load_dataset
from ssft.errors import DataError

datasets = pytest.importorskip("datasets")


def text_dataset(tmp_path):
    feats = datasets.Features(
        {"review": datasets.Value("string"), "stars": datasets.ClassLabel(names=["bad", "good"])}
    )
    train = {"review": [f"review {i} {'great' if i % 2 else 'awful'}" for i in range(12)]}
    train["stars"] = [i % 2 if i < 6 else -1 for i in range(12)]  # 6 labelled, 6 unlabelled
    test = {"review": ["great stuff", "awful stuff", "great", "awful"], "stars": [1, 0, 1, 0]}
    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(train, features=feats),
            "test": datasets.Dataset.from_dict(test, features=feats),
        }
    )
    dd.save_to_disk(str(tmp_path / "reviews"))
    return tmp_path / "reviews"


def cfg(path, *sets):
    return load_config(None, ["data.name=hf_dataset", f"data.path={path}", *sets]).data


def test_save_to_disk_text_with_class_labels_and_own_splits(tmp_path):
    path = text_dataset(tmp_path)
    ds = load_dataset(cfg(path, "data.text_column=review", "data.label_column=stars"))
    assert ds.modality == "text" and ds.classes == ["bad", "good"]
    assert ds.train.inputs[3] == "review 3 great" and ds.train.labels.tolist()[:8] == [
        0,
        1,
        0,
        1,
        0,
        1,
        -1,
        -1,
    ]
    assert (
        ds.test is not None and ds.test.labels.tolist() == [1, 0, 1, 0] and ds.test.inputs[0] == "great stuff"
    )


def test_fit_end_to_end_on_a_saved_dataset(tmp_path):
    from ssft.api import fit

    path = text_dataset(tmp_path)
    sets = [
        "data.name=hf_dataset",
        f"data.path={path}",
        "data.text_column=review",
        "data.label_column=stars",
        "data.labels_per_class=2",
        "backbone.name=random:bert-tiny",
        "train.steps=2",
        "train.progress=false",
    ]
    result = fit(None, tmp_path / "run", overrides=sets)
    assert result.results["num_test"] == 4 and result.results["num_labeled"] == 4
    assert result.results["classes"] == ["bad", "good"]


def test_parquet_folder_of_images_with_string_labels(tmp_path):
    from PIL import Image

    def images(n, seed):
        rng = np.random.default_rng(seed)
        return [Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)) for _ in range(n)]

    feats = datasets.Features({"img": datasets.Image(), "kind": datasets.Value("string")})
    folder = tmp_path / "pq"
    folder.mkdir()
    train = datasets.Dataset.from_dict(
        {"img": images(6, 0), "kind": ["cat", "dog", "cat", None, "dog", ""]}, features=feats
    )
    test = datasets.Dataset.from_dict({"img": images(2, 1), "kind": ["dog", "dog"]}, features=feats)
    train.to_parquet(str(folder / "train-00000-of-00001.parquet"))
    test.to_parquet(str(folder / "test-00000-of-00001.parquet"))
    ds = load_dataset(cfg(folder, "data.image_column=img", "data.label_column=kind"))
    assert ds.modality == "image" and ds.classes == ["cat", "dog"]
    assert ds.train.labels.tolist() == [0, 1, 0, -1, 1, -1]
    assert ds.test is not None and ds.test.labels.tolist() == [1, 1]  # dog indexes as in train
    first = ds.train.inputs[0]
    assert first.dtype == np.uint8 and first.shape == (8, 8, 3)
    np.testing.assert_array_equal(first, np.asarray(images(6, 0)[0]))


def test_clear_errors(tmp_path):
    path = text_dataset(tmp_path)
    with pytest.raises(DataError, match="no column 'text' .*columns: review, stars"):
        load_dataset(cfg(path, "data.text_column=text", "data.label_column=stars"))
    with pytest.raises(DataError, match="no split 'training' .*splits: train, test"):
        load_dataset(
            cfg(path, "data.text_column=review", "data.label_column=stars", "data.train_split=training")
        )
    with pytest.raises(DataError, match="no such folder"):
        load_dataset(cfg(tmp_path / "nowhere", "data.text_column=review"))
