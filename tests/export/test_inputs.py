"""onnx_inputs: raw items -> the graph's inputs, as ssft prepares them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ssft.api import load_run
from ssft.errors import DataError
from ssft.export.inputs import image_pixels, onnx_inputs


def test_grey_and_rgba_images_become_rgb_at_the_model_size(tmp_path):
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 7
    out = image_pixels([grey, rgba], 8)
    assert out.dtype == np.uint8 and out.shape == (2, 8, 8, 3)
    assert (out[0, ..., 0] == grey).all() and (out[0, ..., 2] == grey).all()
    assert (out[1, ..., 0] == 200).all() and (out[1, ..., 1] == 0).all()


def test_paths_are_read_and_resized(tmp_path):
    Image.fromarray(np.full((40, 30, 3), 90, dtype=np.uint8)).save(tmp_path / "a.png")
    out = image_pixels([str(tmp_path / "a.png")], 16)
    assert out.shape == (1, 16, 16, 3) and (out == 90).all()


def test_text_inputs_are_the_backbones_own_tokens(text_run):
    run = load_run(text_run, device="cpu")
    texts = ["alpha beta", "a much longer text with many more words in it"]
    feeds = onnx_inputs(run, texts)
    ref = run.method.model.backbone.collator()(texts)
    assert feeds["input_ids"].dtype == np.int64
    np.testing.assert_array_equal(feeds["input_ids"], ref["input_ids"].numpy())
    np.testing.assert_array_equal(feeds["attention_mask"], ref["attention_mask"].numpy())


def test_a_text_model_refuses_arrays(text_run):
    run = load_run(text_run, device="cpu")
    with pytest.raises(DataError, match="reads text"):
        onnx_inputs(run, [np.zeros((4, 4), dtype=np.uint8)])
