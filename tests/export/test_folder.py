"""The model folder: its files, its card, and OnnxPredictor reading it without ssft's model code."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
from safetensors.torch import load_file

from ssft.api import load_run
from ssft.errors import ConfigError
from ssft.export import OnnxPredictor
from ssft.export.card import _results_table, sibling_results
from ssft.export.verify import sample_test_items

FILES = {"model.onnx", "model.safetensors", "config.yaml", "config.json", "preprocessing.json", "README.md"}


def test_image_folder_layout(image_folder, image_run):
    names = {p.name for p in image_folder.iterdir()}
    assert names >= FILES and "tokenizer.json" not in names
    config = json.loads((image_folder / "config.json").read_text())
    assert config["id2label"]["3"] == "3" and config["modality"] == "image"
    pre = json.loads((image_folder / "preprocessing.json").read_text())
    assert pre["size"] == load_run(image_run, device="cpu").method.model.backbone.preprocess.size
    assert "model.classifier.weight" in "".join(load_file(str(image_folder / "model.safetensors")))


def test_the_card_states_data_labels_results_and_limits(text_folder, text_run):
    card = (text_folder / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: onnx\npipeline_tag: text-classification")
    res = json.loads((text_run / "results.json").read_text())
    assert f"Labels used: {res['labels_used']} (2 per class" in card
    assert f"{100 * res['test_accuracy']:.1f} (one seed" in card
    assert "split seed 0" in card and "Intended use and limits" in card
    assert "tolerance 0.001" in card


def test_predictor_from_the_folder_matches_ssft_on_texts(text_folder, text_run):
    run = load_run(text_run, device="cpu")
    items = sample_test_items(run, 50) + ["a text far longer than any of the training items " * 20]
    got = OnnxPredictor(text_folder).predict_proba(items, batch_size=5)
    ref = run.predict(items).probabilities
    assert np.abs(got - ref).max() <= 1e-3
    assert (got.argmax(1) == ref.argmax(1)).all()


def test_predictor_from_the_folder_matches_ssft_on_images(image_folder, image_run):
    run = load_run(image_run, device="cpu")
    size = run.method.model.backbone.preprocess.size
    rng = np.random.default_rng(0)
    items = [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(9)]
    got = OnnxPredictor(image_folder).predict_proba(items, batch_size=4)
    np.testing.assert_allclose(got, run.predict(items).probabilities, atol=1e-3)


def test_a_folder_without_its_graph_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="ssft export RUN --format folder"):
        OnnxPredictor(tmp_path)


def test_spread_over_seeds_beside_the_run(tmp_path):
    for i, (method, acc) in enumerate([("a", 0.5), ("a", 0.7), ("b", 0.9), ("a", 0.1)]):
        d = tmp_path / f"r{i}"
        d.mkdir()
        k = 4 if i < 3 else 8  # the last one used other labels per class: not a seed of the same setting
        res = {"dataset": "x", "backbone": "y", "labels_per_class": k, "method": method, "test_accuracy": acc}
        (d / "results.json").write_text(json.dumps(res))
    run = types.SimpleNamespace(
        dir=tmp_path / "r0", results=json.loads((tmp_path / "r0/results.json").read_text())
    )
    assert sibling_results(run) == {"a": [0.5, 0.7], "b": [0.9]}
    run.cfg = types.SimpleNamespace(method=types.SimpleNamespace(name="a"))
    table = _results_table(run)
    assert "| a (this model) | 2 | 60.0 ± 14.1 |" in table  # sample std of 50 and 70
    assert "| b | 1 | 90.0 (one seed: no spread) |" in table


def test_the_saved_tokenizer_truncates_and_pads_as_ssft(text_folder, text_run, tmp_path):
    from ssft.export.folder import save_tokenizer

    run = load_run(text_run, device="cpu")  # fresh: its tokenizer has not been called yet
    save_tokenizer(run, tmp_path / "tokenizer.json")
    saved = json.loads((tmp_path / "tokenizer.json").read_text())
    assert saved["truncation"]["max_length"] == run.method.model.backbone.preprocess.max_length
    assert saved["padding"]["strategy"] == "BatchLongest"
    assert saved["padding"]["pad_id"] == run.method.model.backbone.tokenizer.pad_token_id
