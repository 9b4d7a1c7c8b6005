"""Bad input, end to end through ``ssft fit``: each case gets one clear message naming the file or
value and the fix (exit code 2, no traceback), or is handled as documented (warn, skip, convert)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ssft.cli import main
from ssft.config import load_config
from ssft.errors import DataError, TrainingError
from ssft.run.runner import fit

FAST = ["--set", "train.steps=3", "--set", "train.progress=false", "--set", "data.labels_per_class=2"]
COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]


def folder(root: Path, per_class: int = 8, modes: tuple[str, ...] = ("RGB",)) -> Path:
    rng = np.random.default_rng(0)
    for c, color in enumerate(COLORS):
        d = root / f"class_{c}"
        d.mkdir(parents=True)
        for i in range(per_class):
            a = np.clip(np.array(color) + rng.normal(0, 20, (16, 16, 3)), 0, 255).astype(np.uint8)
            mode = modes[i % len(modes)]
            if mode == "L":
                Image.fromarray(a[:, :, c]).save(d / f"{i}.png")
            elif mode == "RGBA":
                Image.fromarray(np.dstack([a, np.full((16, 16), 255, np.uint8)]), "RGBA").save(d / f"{i}.png")
            elif mode == "I;16":
                Image.fromarray(a[:, :, c].astype(np.uint16) * 257).save(d / f"{i}.png")
            else:
                Image.fromarray(a).save(d / f"{i}.jpg")
    return root


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err
    return code, err


def fit_args(tmp_path: Path, *extra: str) -> list[str]:
    return ["fit", "--config", "demo", *FAST, *extra, "--out", str(tmp_path / "run")]


def assert_one_clear_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert lines and lines[-1].startswith("error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)


def test_missing_root(tmp_path, capsys):
    code, err = run_cli(
        fit_args(tmp_path, "--set", "data.name=mnist", "--set", f"data.root={tmp_path}/nope"), capsys
    )
    assert_one_clear_error(code, err, "nope", "data.root")


def test_corrupt_image_named_then_skipped_with_skip_bad(tmp_path, capsys):
    root = folder(tmp_path / "imgs")
    bad = root / "class_1" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    args = fit_args(tmp_path, "--set", "data.name=imagefolder", "--set", f"data.root={root}")
    code, err = run_cli(args, capsys)
    assert_one_clear_error(code, err, "broken.png", "skip_bad")
    code, err = run_cli([*args[:-2], "--skip-bad", "--out", str(tmp_path / "run2")], capsys)
    assert code == 0, err
    listed = (tmp_path / "run2" / "bad_files.txt").read_text()
    assert "broken.png" in listed


def test_truncated_image(tmp_path, capsys):
    root = folder(tmp_path / "imgs")
    good = root / "class_0" / "0.jpg"
    good.write_bytes(good.read_bytes()[:60])
    code, err = run_cli(
        fit_args(tmp_path, "--set", "data.name=imagefolder", "--set", f"data.root={root}"), capsys
    )
    assert_one_clear_error(code, err, "0.jpg")


def test_grey_rgba_and_16bit_images_are_converted(tmp_path, capsys):
    root = folder(tmp_path / "imgs", modes=("L", "RGBA", "I;16", "RGB"))
    code, err = run_cli(
        fit_args(tmp_path, "--set", "data.name=imagefolder", "--set", f"data.root={root}"), capsys
    )
    assert code == 0, err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path, capsys):
    root = folder(tmp_path / "imgs")
    locked = root / "class_2" / "3.jpg"
    locked.chmod(0)
    code, err = run_cli(
        fit_args(tmp_path, "--set", "data.name=imagefolder", "--set", f"data.root={root}"), capsys
    )
    assert_one_clear_error(code, err, "3.jpg")


def test_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, err = run_cli(
        fit_args(tmp_path, "--set", "data.name=imagefolder", "--set", f"data.root={tmp_path}/empty"), capsys
    )
    assert_one_clear_error(code, err, "empty")


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows))
    return path


def text_args(tmp_path: Path, csv_path: Path) -> list[str]:
    return fit_args(
        tmp_path,
        "--set", "data.name=csv", "--set", f"data.path={csv_path}", "--set", "data.text_column=text",
        "--set", "backbone.name=random:bert-tiny",
    )  # fmt: skip


def test_label_out_of_range(tmp_path, capsys):
    rows = [(f"item {i}", str(i % 3)) for i in range(30)] + [("odd one", "7")]
    code, err = run_cli(text_args(tmp_path, write_csv(tmp_path / "d.csv", rows)), capsys)
    assert_one_clear_error(code, err, "7")


def test_label_of_the_wrong_type(tmp_path, capsys):
    rows = [(f"item {i}", str(i % 3)) for i in range(30)] + [("odd one", "2.5x")]
    code, err = run_cli(text_args(tmp_path, write_csv(tmp_path / "d.csv", rows)), capsys)
    assert_one_clear_error(code, err, "2.5x")


def test_k_larger_than_a_class(tmp_path, capsys):
    rows = (
        [(f"item {i}", "a") for i in range(20)]
        + [(f"x {i}", "b") for i in range(20)]
        + [(f"c {i}", "c") for i in range(4)]
    )
    args = text_args(tmp_path, write_csv(tmp_path / "d.csv", rows)) + ["--set", "data.labels_per_class=4"]
    code, err = run_cli(args, capsys)
    assert_one_clear_error(code, err, "c", "labels_per_class")


def test_class_absent_from_the_labelled_set(tmp_path, capsys):
    # class "c" exists only among unlabelled rows (empty label): its name is unknown, so the
    # integer labels 0..2 with class 2 never labelled is the case to catch
    rows = [(f"item {i}", str(i % 2)) for i in range(30)] + [(f"u {i}", "") for i in range(10)]
    path = write_csv(tmp_path / "d.csv", rows)
    code, err = run_cli(text_args(tmp_path, path) + ["--set", "data.labels_per_class=20"], capsys)
    assert_one_clear_error(code, err, "labels_per_class")


def test_duplicates_between_labelled_and_test_warn(tmp_path):
    rows = [(f"item {i % 12}", str(i % 3)) for i in range(60)]  # every text appears 5 times
    path = write_csv(tmp_path / "d.csv", rows)
    cfg = load_config(
        "demo",
        ["train.steps=2", "train.progress=false", "data.name=csv", f"data.path={path}", "data.text_column=text",
         "backbone.name=random:bert-tiny", "data.labels_per_class=2"],
    )  # fmt: skip
    with pytest.warns(UserWarning, match="also appear in the test part"):
        fit(cfg, tmp_path / "run")
    assert json.loads((tmp_path / "run" / "duplicates.json").read_text())["labeled_test_pairs"]


def test_empty_unlabelled_set(tmp_path, capsys):
    rows = [(f"item {i}", str(i % 2)) for i in range(10)]
    args = text_args(tmp_path, write_csv(tmp_path / "d.csv", rows)) + ["--set", "method.name=twinturbo"]
    args += ["--set", "data.labels_per_class=4", "--set", "data.holdout=0.2"]
    code, err = run_cli(args, capsys)
    assert_one_clear_error(code, err, "unlabelled set is empty")


def test_nan_loss_stops_with_step_and_term_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    from ssft.methods.base import Supervised

    original = Supervised.train_step

    def poisoned(self, batch):
        terms = original(self, batch)
        if batch["step"] == 5:
            terms["ce"] = terms["ce"] * float("nan")
            terms["loss"] = terms["ce"]
        return terms

    monkeypatch.setattr(Supervised, "train_step", poisoned)
    sets = ["method.name=supervised", "train.steps=10", "train.checkpoint_every=2", "train.progress=false"]
    cfg = load_config("demo", sets)
    with pytest.raises(TrainingError, match=r"step 5: loss term 'ce' is nan.*last good checkpoint"):
        fit(cfg, tmp_path / "run")
    from ssft.train.checkpoint import load_checkpoint

    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 4


def test_nan_in_features_is_refused_by_the_cache(tmp_path, monkeypatch):
    from ssft.backbones.base import Backbone
    from ssft.errors import CacheError

    real = Backbone.encode if False else None  # noqa: F841  (documenting intent)
    from ssft.backbones import build_backbone

    bb = build_backbone(load_config("demo").backbone)
    cls = type(bb)
    original = cls.encode

    def nan_encode(self, inputs):
        f = original(self, inputs)
        f.pooled[0] = float("nan")
        return f

    monkeypatch.setattr(cls, "encode", nan_encode)
    cfg = load_config("demo", ["train.steps=2", "train.progress=false", f"cache.dir={tmp_path / 'c'}"])
    with pytest.raises(CacheError, match="NaN or inf"):
        fit(cfg, tmp_path / "run")


def test_unknown_backbone(tmp_path, capsys):
    code, err = run_cli(fit_args(tmp_path, "--set", "backbone.name=random:nope"), capsys)
    assert_one_clear_error(code, err, "random:dinov2-tiny")


def test_remote_code_refused_without_flag(tmp_path, capsys):
    code, err = run_cli(fit_args(tmp_path, "--set", "backbone.name=hf:nvidia/RADIO-B"), capsys)
    assert_one_clear_error(code, err, "trust_remote_code")


def test_checkpoint_loading_is_weights_only(tmp_path):
    """A pickle that would run code on load is refused by the checkpoint loader."""
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    path = tmp_path / "checkpoint.pt"
    path.write_bytes(pickle.dumps({"step": 1, "x": Evil()}))
    from ssft.train.checkpoint import load_checkpoint

    with pytest.raises(TrainingError):
        load_checkpoint(path)
    assert not (tmp_path / "pwned").exists()
    torch.save({"step": 3}, path)
    assert load_checkpoint(path)["step"] == 3


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)
