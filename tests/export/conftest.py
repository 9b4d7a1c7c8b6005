"""Finished runs to export, trained once per session: an image run (random DINOv2-tiny, a
transformer projector over the cached tokens) and a text run (random BERT-tiny, CSV data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssft.config import load_config
from ssft.run.runner import fit

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

WORDS = ["alpha beta", "gamma delta", "epsilon zeta"]


def text_csv(path: Path) -> Path:
    rows = "".join(
        f"{WORDS[i % 3]} item {i} and {'more ' * (i % 5)}words,{'abc'[i % 3]}\n" for i in range(60)
    )
    path.write_text("text,label\n" + rows)
    return path


@pytest.fixture(scope="session")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("image-run")
    cfg = load_config("demo", ["train.steps=3", "method.name=twinturbo", f"cache.dir={tmp / 'cache'}"])
    return fit(cfg, tmp / "run").run_dir


@pytest.fixture(scope="session")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("text-run")
    overrides = [
        "train.steps=3",
        "data.name=csv",
        f"data.path={text_csv(tmp / 'd.csv')}",
        "data.text_column=text",
        "backbone.name=random:bert-tiny",
        "data.labels_per_class=2",
        "model.center=true",
        "model.projector=identity",
        f"cache.dir={tmp / 'cache'}",
    ]
    return fit(load_config("demo", overrides), tmp / "run").run_dir


@pytest.fixture(scope="session")
def image_folder(image_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ssft.api import load_run
    from ssft.export import export_folder

    return export_folder(
        load_run(image_run, device="cpu"), tmp_path_factory.mktemp("img") / "model", items=1000
    )


@pytest.fixture(scope="session")
def text_folder(text_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ssft.api import load_run
    from ssft.export import export_folder

    return export_folder(
        load_run(text_run, device="cpu"), tmp_path_factory.mktemp("txt") / "model", items=1000
    )
