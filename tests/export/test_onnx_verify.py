"""The ONNX file reproduces ssft on every test item (within 1e-3, same class), for any batch
size, and the verification refuses an export that does not."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ssft.api import load_run
from ssft.export import ExportError, export_onnx, onnx_inputs, verify
from ssft.export.session import session
from ssft.export.verify import compare, sample_test_items


@pytest.mark.parametrize("which", ["image", "text"])
def test_the_export_matches_ssft_on_every_test_item(which, request):
    folder = request.getfixturevalue(f"{which}_folder")
    run = load_run(request.getfixturevalue(f"{which}_run"), device="cpu")
    check = json.loads((folder / "verification.json").read_text())
    assert check["items"] == run.results["num_test"]
    assert check["same_class"] == check["items"]
    assert check["max_abs_diff"] <= 1e-3
    # recomputed here, independently of the stored report
    ref, got = compare(run, session(folder / "model.onnx"), sample_test_items(run, 10_000))
    assert np.abs(ref - got).max() <= 1e-3
    assert (ref.argmax(1) == got.argmax(1)).all()


@pytest.mark.parametrize("which", ["image", "text"])
def test_any_batch_size_runs(which, request):
    folder = request.getfixturevalue(f"{which}_folder")
    run = load_run(request.getfixturevalue(f"{which}_run"), device="cpu")
    items = sample_test_items(run, 7)
    sess = session(folder / "model.onnx")
    whole = sess.run(None, onnx_inputs(run, items))[0]
    one = np.concatenate([sess.run(None, onnx_inputs(run, [x]))[0] for x in items])
    assert whole.shape == (7, len(run.classes))
    np.testing.assert_allclose(whole, one, atol=1e-5)


def test_verification_refuses_an_export_that_differs(image_run, image_folder):
    run = load_run(image_run, device="cpu")
    with torch.no_grad():
        for p in run.method.model.classifier.parameters():
            p.add_(0.5 * torch.randn_like(p))
    with pytest.raises(ExportError, match="does not reproduce ssft"):
        verify(run, image_folder / "model.onnx", items=32)


def test_a_text_export_verifies_with_its_own_file(text_run, tmp_path):
    run = load_run(text_run, device="cpu")
    path = export_onnx(run, tmp_path / "m.onnx")
    check = verify(run, path, items=8)
    assert check.items == 8 and check.same_class == 8 and check.max_abs_diff <= 1e-3


def test_a_lora_run_exports_with_its_adapters_merged(tmp_path):
    pytest.importorskip("peft")
    from ssft.backbones.lora import has_lora
    from ssft.config import load_config
    from ssft.run.runner import fit

    overrides = [
        "backbone.frozen=false",
        "backbone.lora=true",
        "train.steps=2",
        f"cache.dir={tmp_path / 'c'}",
    ]
    run = load_run(fit(load_config("demo", overrides), tmp_path / "run").run_dir, device="cpu")
    assert has_lora(run.method.model.backbone)
    check = verify(run, export_onnx(run, tmp_path / "m.onnx"), items=16)
    assert not has_lora(run.method.model.backbone)  # merged: the graph holds plain weights
    assert check.same_class == 16 and check.max_abs_diff <= 1e-3


def test_a_changed_class_fails_even_within_the_tolerance(monkeypatch):
    import importlib
    import types

    engine = importlib.import_module("ssft.export.session")
    v = importlib.import_module("ssft.export.verify")  # the module (ssft.export.verify is the function)

    ref = np.array([[0.5004, 0.4996], [0.9, 0.1]])
    got = np.array([[0.4996, 0.5004], [0.9, 0.1]])  # 8e-4 apart, but the first item's class flips
    monkeypatch.setattr(v, "sample_test_items", lambda run, limit: [0, 1])
    monkeypatch.setattr(v, "compare", lambda run, session, items: (ref, got))
    monkeypatch.setattr(engine, "session", lambda path: None)
    with pytest.raises(ExportError, match="same class on 1/2"):
        verify(types.SimpleNamespace(dir="run"), "m.onnx", items=2)
