"""What a new user meets first: `python -m ssft`, help texts, pipes, clear refusals, names."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ssft.cli import build_parser, main

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
FAST = ["--set", "train.steps=2", "--set", "data.labels_per_class=2", "--set", "train.progress=false"]


def test_python_dash_m_ssft_is_the_ssft_command():
    out = subprocess.run(
        [sys.executable, "-m", "ssft", "--version"], capture_output=True, text=True, env=ENV, check=True
    )
    import ssft

    assert out.stdout.strip() == f"ssft {ssft.__version__}"


def test_a_closed_pipe_ends_quietly():
    # `ssft presets | head -3`: no BrokenPipeError traceback
    p = subprocess.run(
        f"{sys.executable} -m ssft presets | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert len(p.stdout.splitlines()) == 1
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr, p.stderr


def _actions(parser: argparse.ArgumentParser, where: str = "ssft"):
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                yield from _actions(sub, f"{where} {name}")
        else:
            yield where, a


def test_every_option_has_help_text():
    missing = [f"{where} {a.option_strings or a.dest}" for where, a in _actions(build_parser()) if not a.help]
    assert not missing


def test_fit_help_shows_out_or_resume_as_required(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    usage = capsys.readouterr().out.split("\n\n")[0]
    assert "(--out DIR | --resume DIR)" in usage and "[--out" not in usage
    with pytest.raises(SystemExit) as e:
        main(["fit", "--config", "demo"])
    assert e.value.code == 2
    assert "one of the arguments --out/-o --resume is required" in capsys.readouterr().err


def test_resume_refuses_settings_it_would_ignore(tmp_path, capsys):
    run = tmp_path / "run"
    (run).mkdir()
    code = main(["fit", "--resume", str(run), "--set", "train.lr=0.1", "--config", "demo"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--set train.lr=0.1, --config cannot change it" in err and "config.yaml" in err


def test_method_keys_are_listed_with_their_meaning(capsys):
    assert main(["config", "--reference", "--method", "twinturbo"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("method.lambda_kl "))
    assert "adversarial KL" in line and "0.1" in line
    assert "train.threads" in out
    assert main(["config", "--reference"]) == 0
    out = capsys.readouterr().out
    assert "method.lambda_kl" not in out and "--reference --method NAME" in out
    assert main(["config", "--reference", "--method", "nope"]) == 2
    assert "unknown method.name 'nope'; known:" in capsys.readouterr().err


def test_choice_keys_accept_their_choices_as_written():
    from ssft.config import load_config

    assert load_config("demo", ["cache.device_resident=no"]).cache.device_resident == "no"
    assert load_config("demo", ["cache.device_resident=yes"]).cache.device_resident == "yes"
    with pytest.raises(ValueError, match="must be one of auto, yes, no"):
        load_config("demo", ["cache.device_resident=7"])


def _digit_images(folder: Path, n: int = 3) -> None:
    from PIL import Image

    folder.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(np.full((8, 8), 40 * i, dtype=np.uint8)).save(folder / f"{i}.png")


def test_skip_bad_prints_one_clean_warning_line(tmp_path, capfd):
    root = tmp_path / "imgs"
    for c in ("a", "b"):
        _digit_images(root / c, 4)
    (root / "a" / "broken.png").write_bytes(b"not a png")
    args = ["fit", "--set", "data.name=imagefolder", "--set", f"data.root={root}", "--skip-bad"]
    args += ["--set", "data.holdout=0.5", "--set", "method.name=knn", "--set", "train.progress=false"]
    args += ["--set", "data.labels_per_class=1", "--set", "backbone.name=random:dinov2-tiny"]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    err = capfd.readouterr().err
    lines = [x for x in err.splitlines() if "skip_bad" in x]
    assert lines and lines[0].startswith("warning: data.skip_bad: dropped 1 unreadable file(s)")
    assert "UserWarning" not in err and "warnings.warn" not in err


def test_predict_checks_the_inputs_modality(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["fit", "--config", "demo", *FAST, "--out", str(run)]) == 0
    texts = tmp_path / "texts.csv"
    texts.write_text("text\nthe cat sat\na dog ran\n")
    assert main(["predict", "--run", str(run), "--input", str(texts), "--out", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert "reads images" in err and "not image file paths" in err and "'the cat sat'" in err

    from ssft.predict_inputs import check_modality

    with pytest.raises(ValueError, match="reads text, but imgs/ gives image files"):
        check_modality(["imgs/0.png", "imgs/1.jpg"], "text", source="imgs/", backbone="random:bert-tiny")
    check_modality(["a review", "b.png"], "text", source="x.csv", backbone="random:bert-tiny")
    check_modality(["imgs/0.png"], "image", source="imgs/", backbone="random:dinov2-tiny")


def test_split_json_names_the_files(tmp_path):
    from ssft.data.base import Dataset, FileImages, Part
    from ssft.data.splits import Split

    files = [tmp_path / f"{i}.png" for i in range(6)]
    ds = Dataset("x", "image", ["a", "b"], Part(FileImages(files), [0, 1, 0, 1, 0, 1]))
    split = Split(
        labeled=np.array([4, 1]), unlabeled=np.array([0, 3]), test=np.array([2, 5]), test_source="train"
    )
    split.save(tmp_path / "split.json", ds)
    data = json.loads((tmp_path / "split.json").read_text())
    assert data["labeled"] == [4, 1]
    assert data["items"]["labeled"] == [str(files[4]), str(files[1])]
    assert data["items"]["test"] == [str(files[2]), str(files[5])]
    assert Split.load(tmp_path / "split.json").labeled.tolist() == [4, 1]


def test_table_sorts_k_as_numbers():
    from ssft.report.tables import summarize

    rows = [{"method": "s", "labels_per_class": k, "test_accuracy": 0.5} for k in (10, 1, 4, 25)]
    assert [r["labels_per_class"] for r in summarize(rows, ("method", "labels_per_class"))] == [1, 4, 10, 25]


def test_train_threads_sets_torch_threads(tmp_path):
    import torch

    from ssft.api import fit

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        fit("demo", tmp_path / "run", overrides=["train.steps=1", "train.threads=1", "train.progress=false"])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_progress_off_a_terminal_is_one_line_per_update(capsys):
    from ssft.progress import LineProgress, progress_bar

    bar = progress_bar(100, desc="twinturbo", unit="step")
    assert isinstance(bar, LineProgress)  # pytest's stderr is not a terminal
    for _ in range(100):
        bar.update(1)
        bar.set_postfix(loss="1.2345")
    bar.close()
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert 10 <= len(lines) <= 11 and lines[-1].startswith("twinturbo: 100% 100/100 step")
    assert "loss=1.2345" in lines[-1]


def test_extraction_bar_names_what_it_extracts():
    from ssft.features.extract import _bar_label

    label = _bar_label({"backbone": "random:dinov2-tiny", "dataset": "digits", "part": "train"}, "ab12cd34ef")
    assert label == "features random:dinov2-tiny digits train"


def test_presets_find_the_shared_data_from_any_folder(tmp_path, monkeypatch, shared_data):
    from ssft.config import load_config
    from ssft.data import load_dataset

    monkeypatch.chdir(tmp_path)
    assert len(load_dataset(load_config("agnews-minilm").data).train) > 0
    with pytest.raises(ValueError, match=r"looked in .*nowhere.* \(relative to the current folder\) or "):
        load_dataset(load_config("agnews-minilm", ["data.root=../nowhere"]).data)


def test_the_reference_lists_the_trainable_mode_keys(capsys):
    assert main(["config", "--reference"]) == 0
    lines = {x.split()[0]: x for x in capsys.readouterr().out.splitlines() if x.strip()}
    for key in (
        "backbone.frozen",
        "backbone.train_blocks",
        "backbone.lora",
        "backbone.lora_rank",
        "backbone.lora_alpha",
        "backbone.lora_dropout",
        "backbone.lora_targets",
        "backbone.gradient_checkpointing",
        "backbone.bn_stats",
        "backbone.dropout",
        "train.backbone_lr",
        "train.layer_decay",
    ):
        assert key in lines, key
    assert "8" in lines["backbone.lora_rank"] and "ssft[peft]" in lines["backbone.lora"]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert all(
        k in readme
        for k in ("`lora_rank`", "`gradient_checkpointing`", "`layer_decay`", "`bn_stats`", "`dropout`")
    )
