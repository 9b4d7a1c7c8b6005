"""Damaged run files are named in one line and never used: a truncated or flipped checkpoint, a
damaged model.safetensors, an edited split.json; a kill between a checkpoint's two writes is not
mistaken for damage."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import torch

from ssft.api import load_run
from ssft.config import load_config
from ssft.data.splits import Split
from ssft.integrity import IntegrityError, check_checkpoint, load_tensors, save_tensors, write_checkpoint
from ssft.run.runner import fit
from ssft.train.checkpoint import load_checkpoint

FAST = ["train.steps=3", "train.batch_size=8", "data.labels_per_class=2", "train.progress=false"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    return fit(load_config("demo", [*FAST, f"cache.dir={tmp / 'cache'}"]), tmp / "run").run_dir


def flip(path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_checkpoint_is_refused_by_name(tmp_path, run_dir, damage):
    ckpt = tmp_path / "checkpoint.pt"
    ckpt.write_bytes((run_dir / "checkpoint.pt").read_bytes())
    (tmp_path / "checkpoint.pt.sha256").write_bytes((run_dir / "checkpoint.pt.sha256").read_bytes())
    assert load_checkpoint(ckpt)["step"] == 3
    if damage == "truncate":
        ckpt.write_bytes(ckpt.read_bytes()[:-100])
    else:
        flip(ckpt, len(ckpt.read_bytes()) // 2)  # inside a tensor: torch.load alone would not notice
    with pytest.raises(
        IntegrityError, match=r"checkpoint .*checkpoint.pt does not match its recorded SHA-256"
    ):
        load_checkpoint(ckpt)


def test_a_kill_between_the_digest_and_the_checkpoint_is_not_damage(tmp_path):
    ckpt = tmp_path / "checkpoint.pt"
    write_checkpoint(ckpt, b"first")
    with (
        mock.patch("ssft.integrity.atomic_write_bytes", side_effect=KeyboardInterrupt),
        pytest.raises(KeyboardInterrupt),
    ):
        write_checkpoint(ckpt, b"second")  # digest written, checkpoint not
    assert ckpt.read_bytes() == b"first"
    check_checkpoint(ckpt, b"first")  # the previous digest is still listed
    with pytest.raises(IntegrityError):
        check_checkpoint(ckpt, b"third")


def test_damaged_weights_are_refused_by_name(tmp_path, run_dir):
    run = tmp_path / "copy"
    run.mkdir()
    for f in run_dir.iterdir():
        if f.is_file():
            (run / f.name).write_bytes(f.read_bytes())
    assert load_run(run) is not None
    flip(run / "model.safetensors", len((run / "model.safetensors").read_bytes()) - 3)
    with pytest.raises(IntegrityError, match=r"model.safetensors: its weights do not match the SHA-256"):
        load_run(run)
    (run / "model.safetensors").write_bytes((run_dir / "model.safetensors").read_bytes()[:50])
    with pytest.raises(IntegrityError, match=r"model.safetensors is unreadable"):
        load_run(run)


def test_weights_digest_round_trip(tmp_path):
    path = tmp_path / "w.safetensors"
    tensors = {"a": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(0)}
    save_tensors(path, tensors, "test")
    got = load_tensors(path)
    assert set(got) == {"a", "b"} and torch.equal(got["a"], tensors["a"])


def test_an_edited_split_is_refused_by_name(tmp_path, run_dir):
    path = tmp_path / "split.json"
    data = json.loads((run_dir / "split.json").read_text())
    path.write_text(json.dumps(data))
    Split.load(path)
    data["labeled"][0] = data["unlabeled"][0]  # someone "fixes" a label choice by hand
    path.write_text(json.dumps(data))
    with pytest.raises(IntegrityError, match=r"split.json was changed after the run wrote it"):
        Split.load(path)
