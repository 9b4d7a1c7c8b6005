"""Digests that let a run directory notice damage: each damaged file is named in one line
(which file, what is wrong, what to do) and never used.

* ``model.safetensors`` (and ``lora.safetensors``): the SHA-256 of the weights in the file's own
  metadata (``sha256``), checked when a run is loaded;
* ``split.json``: the SHA-256 of its index lists (``sha256``), checked when it is read;
* ``checkpoint.pt``: a plain ``torch.save`` file (loaded with ``weights_only=True``) beside a small
  ``checkpoint.pt.sha256`` holding the digests of the last two checkpoints written. The digest file
  is written first, so a kill between the two writes leaves a checkpoint whose digest is listed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ssft.errors import SsftError
from ssft.fileio import atomic_write_bytes, atomic_write_text

#: what a damaged file's message ends with, per file
_RESTART = "delete it (and {name}.sha256) to restart the run from the previous phase or step 0"


class IntegrityError(SsftError):
    """A file of a run is damaged or was edited: it does not match its recorded digest."""


def tensors_sha256(tensors: dict[str, Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for k in sorted(tensors):
        v = tensors[k].detach().cpu().contiguous()
        h.update(f"{k}|{v.dtype}|{tuple(v.shape)}|".encode())
        h.update(v.reshape(-1).view(torch.uint8).numpy().tobytes() if v.numel() else b"")
    return h.hexdigest()


def save_tensors(path: Path, tensors: dict[str, Tensor], fmt: str) -> None:
    """Write a safetensors file whose metadata carries the weights' SHA-256."""
    from safetensors.torch import save

    meta = {"format": fmt, "sha256": tensors_sha256(tensors)}
    atomic_write_bytes(path, save(tensors, metadata=meta))


def load_tensors(path: Path) -> dict[str, Tensor]:
    """Read a safetensors file written by :func:`save_tensors` and check its SHA-256 (files
    written before the digest existed are read as they are)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no iterator
    except Exception as e:  # a truncated or overwritten header or body
        raise IntegrityError(
            f"{path} is unreadable ({type(e).__name__}: the file is damaged); "
            "restore it from a backup or train the run again"
        ) from None
    want = meta.get("sha256")
    if want and tensors_sha256(tensors) != want:
        raise IntegrityError(
            f"{path}: its weights do not match the SHA-256 recorded when they were saved (the file is "
            "damaged); restore it from a backup or train the run again"
        )
    return tensors


def split_sha256(data: dict[str, Any]) -> str:
    """SHA-256 of a split's index lists and test source (the part of split.json that matters)."""
    fields = {k: data.get(k) for k in ("test_source", "labeled", "validation", "unlabeled", "test")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def check_split(path: Path, data: dict[str, Any]) -> None:
    want = data.get("sha256")
    if want is not None and split_sha256(data) != want:
        raise IntegrityError(
            f"{path} was changed after the run wrote it (its indices do not match their SHA-256); "
            "restore the file, or start a new run: a run's split is its record of what was labelled"
        )


def write_checkpoint(path: Path, payload: bytes) -> None:
    """Write checkpoint bytes and their digest (digest file first; see the module docstring)."""
    side = path.with_name(path.name + ".sha256")
    new = hashlib.sha256(payload).hexdigest()
    previous = _digests(side)[:1]
    atomic_write_text(side, json.dumps({"sha256": [new, *previous]}) + "\n")
    atomic_write_bytes(path, payload)


def check_checkpoint(path: Path, payload: bytes) -> None:
    """Refuse checkpoint bytes that match none of the recorded digests (no digest file: an older
    run, accepted as it is)."""
    side = path.with_name(path.name + ".sha256")
    known = _digests(side)
    if side.exists() and hashlib.sha256(payload).hexdigest() not in known:
        raise IntegrityError(
            f"checkpoint {path} does not match its recorded SHA-256 (the file is damaged); "
            + _RESTART.format(name=path.name)
        )


def _digests(side: Path) -> list[str]:
    try:
        got = json.loads(side.read_text()).get("sha256", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [str(x) for x in got] if isinstance(got, list) else []
