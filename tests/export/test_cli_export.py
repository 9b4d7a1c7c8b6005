"""``ssft export`` and ``ssft predict --engine onnx`` end to end; the missing-dependency message."""

from __future__ import annotations

import csv
import sys

import numpy as np
import pytest

from ssft.cli import main
from ssft.errors import ConfigError
from ssft.export.deps import require


def test_export_onnx_then_predict_with_either_engine(text_run, tmp_path, capsys):
    assert (
        main(["export", str(text_run), "--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--items", "8"])
        == 0
    )
    assert "matches ssft on 8 test items" in capsys.readouterr().out
    assert (tmp_path / "m.onnx").stat().st_size > 0
    inputs = tmp_path / "in.csv"
    inputs.write_text("text\nalpha beta item\ngamma delta words words\nsomething else\n")
    probs = {}
    for engine in ("torch", "onnx"):
        out = tmp_path / f"{engine}.csv"
        argv = [
            "predict",
            "--run",
            str(text_run),
            "--input",
            str(inputs),
            "--column",
            "text",
            "--out",
            str(out),
        ]
        assert main([*argv, "--engine", engine]) == 0
        rows = list(csv.reader(out.open()))
        probs[engine] = np.array([[float(v) for v in r[2:]] for r in rows[1:]])
        assert [r[1] for r in rows[1:]] == [rows[0][2:][i][2:] for i in probs[engine].argmax(1)]
    np.testing.assert_allclose(probs["onnx"], probs["torch"], atol=1e-3)
    assert (text_run / "onnx" / "model.onnx").is_file()  # made and verified on first use


def test_exporting_a_scikit_learn_run_is_one_clear_error(tmp_path, capsys):
    from ssft.config import load_config
    from ssft.run.runner import fit

    cfg = load_config("demo", ["method.name=knn", "train.steps=1", f"cache.dir={tmp_path / 'cache'}"])
    run = fit(cfg, tmp_path / "run").run_dir
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: method knn is a scikit-learn model") and "Traceback" not in err


def test_a_missing_onnxruntime_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'ssft\[onnx\]'"):
        require("onnxruntime")


def test_run_predict_onnx_re_exports_after_the_weights_change(text_run):
    import os

    from ssft.api import load_run

    run = load_run(text_run, device="cpu")
    first = run.predict(["alpha beta"], engine="onnx")
    graph = text_run / "onnx" / "model.onnx"
    made = graph.stat().st_mtime
    weights = text_run / "model.safetensors"
    os.utime(weights, (made + 10, made + 10))  # as a resumed run rewrites its weights
    again = run.predict(["alpha beta"], engine="onnx")
    assert graph.stat().st_mtime > made
    np.testing.assert_allclose(again.probabilities, first.probabilities, atol=1e-6)


def test_an_unknown_engine_is_refused():
    from ssft.api import Run

    with pytest.raises(ConfigError, match="unknown prediction engine 'tensorrt'"):
        Run.predict(None, [], engine="tensorrt")  # type: ignore[arg-type]
