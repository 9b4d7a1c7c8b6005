"""The CLI end to end, in-process: fit, evaluate, predict, listings, clear errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ssft.cli import main


def test_fit_evaluate_predict(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "fit",
            "--config",
            "demo",
            "--set",
            "train.steps=5",
            "--set",
            "data.labels_per_class=2",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "test accuracy" in capsys.readouterr().out
    assert main(["evaluate", "--run", str(out)]) == 0
    ev = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "results.json").read_text())
    assert ev["test_accuracy"] == pytest.approx(saved["test_accuracy"])

    from PIL import Image
    from sklearn.datasets import load_digits

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    d = load_digits()
    for i in range(5):
        Image.fromarray((d.images[i] * 255 / 16).astype(np.uint8)).save(imgs / f"{i}.png")
    assert main(["predict", "--run", str(out), "--input", str(imgs), "--out", str(tmp_path / "p.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert len(rows) == 5 and "class" in rows[0]
    probs = np.array([[float(v) for k, v in r.items() if k.startswith("p_")] for r in rows])
    assert probs.shape == (5, 10) and np.allclose(probs.sum(1), 1.0, atol=1e-4)


@pytest.mark.parametrize(
    "command", [["backbones"], ["datasets"], ["methods"], ["presets"], ["config", "--reference"]]
)
def test_listings(command, capsys):
    assert main(command) == 0
    assert len(capsys.readouterr().out.splitlines()) >= 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "backbone.name=random:nope"], "random"),
        (["--set", "data.name=mnist", "--set", "data.root=/nonexistent/mnist"], "/nonexistent/mnist"),
        (["--set", "data.labels_per_class=500"], "labels_per_class"),
        (["--set", "train.epoch=3"], "unknown key train.epoch"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, capsys, args, message):
    code = main(["fit", "--config", "demo", *args, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err


def test_demo_quick(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--quick"]) == 0
    out = capsys.readouterr().out
    assert "supervised" in out and "twinturbo" in out and "| dataset" in out
    assert (tmp_path / "demo" / "summary.md").is_file()


def test_show_data_writes_the_grid_the_model_sees(tmp_path, shared_data):
    from PIL import Image

    out = tmp_path / "grid.png"
    args = ["show-data", "--config", "mnist-offline", "--set", f"data.root={shared_data / 'mnist'}"]
    assert main([*args, "--set", "data.name=mnist_stripes_yellow", "--out", str(out), "--n", "8"]) == 0
    a = np.asarray(Image.open(out).convert("RGB")).astype(int)
    # yellow stripes (R high, B low) are really in the picture the backbone is fed
    yellow = (a[..., 0] > 200) & (a[..., 1] > 120) & (a[..., 2] < 130)
    assert yellow.mean() > 0.05
