"""The feature cache: a frozen backbone's outputs, extracted once and memory-mapped from disk.

One entry is a folder ``root/<key>/`` holding raw little-endian float16 arrays

* ``pooled.f16``: (n, D), the pooled latent of every item;
* ``tokens.f16``: (n, T, D), absent for ``store="pooled"``. ``T`` is every token (``"all"``) or,
  for images, the prefix tokens followed by the patch grid average-pooled to ``grid x grid``
  (``"reduced"``); text is padded to the backbone's ``max_length``;
* ``mask.u8``: (n, T), 1 for a real token, text only;
* ``done.u8``: one byte per chunk of ``chunk`` consecutive items, set once that chunk's bytes are
  on disk (written, then ``fsync``), so an interrupted extraction resumes where it stopped;
* ``meta.json``: shapes, dtype, chunk size, the key's fields and the caller's own metadata;
* ``complete.json``: written last; its presence makes the entry a cache hit (no forward pass).

Extraction streams chunk by chunk straight into the files, so host memory does not grow with n.
An entry whose metadata or file sizes do not match what is asked for is deleted and rebuilt, with
a warning; it is never reused silently.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ssft.backbones.base import Features
from ssft.errors import CacheError
from ssft.fileio import atomic_write_text

log = logging.getLogger(__name__)

#: Bumped whenever the on-disk layout or the meaning of a stored value changes.
FORMAT_VERSION = 1
STORES = ("all", "reduced", "pooled")
DTYPE = np.dtype("<f2")
FILES = ("pooled.f16", "tokens.f16", "mask.u8", "done.u8", "meta.json", "complete.json")


def default_cache_dir() -> Path:
    """``$SSFT_CACHE``, else ``$XDG_CACHE_HOME/ssft``, else ``~/.cache/ssft``."""
    if os.environ.get("SSFT_CACHE"):
        return Path(os.environ["SSFT_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "ssft"
    return Path.home() / ".cache" / "ssft"


def cache_key(
    *,
    backbone_fingerprint: str,
    dataset_identity: str,
    part: str,
    store: str,
    grid: int | None,
    view: int,
    max_length: int | None,
    autocast: str | None = None,
) -> str:
    """The entry name: sha256 of a canonical JSON of every field (and the format version), 24 hex.

    ``autocast`` names the dtype extraction ran under (``"bfloat16"``); float32 extraction leaves
    it out, so those keys are the same as before the field existed.
    """
    fields = {
        "format": FORMAT_VERSION,
        "backbone_fingerprint": backbone_fingerprint,
        "dataset_identity": dataset_identity,
        "part": part,
        "store": store,
        "grid": grid,
        "view": view,
        "max_length": max_length,
    }
    if autocast is not None:
        fields["autocast"] = autocast
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


# ------------------------------------------------------------------------------------------------
# Small file helpers


def atomic_write_json(path: Path, obj: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            obj = json.load(f)
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def dir_size(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            pass
    return total


# ------------------------------------------------------------------------------------------------
# Layout: what the files of an entry must look like


def expected_sizes(meta: dict[str, Any]) -> dict[str, int]:
    n, d, t = int(meta["n"]), int(meta["dim"]), int(meta["tokens"] or 0)
    sizes = {"pooled.f16": n * d * DTYPE.itemsize, "done.u8": int(meta["num_chunks"])}
    if meta["store"] != "pooled":
        sizes["tokens.f16"] = n * t * d * DTYPE.itemsize
        if meta["has_mask"]:
            sizes["mask.u8"] = n * t
    return sizes


def reduce_tokens(tokens: Tensor, prefix: int, grid: int) -> Tensor:
    """(B, prefix + S*S, D) -> (B, prefix + grid*grid, D): patch grid average-pooled to grid x grid."""
    b, n, d = tokens.shape
    patches = n - prefix
    side = math.isqrt(max(patches, 0))
    if patches <= 0 or side * side != patches:
        raise CacheError(
            f"store='reduced' needs a square patch grid after the {prefix} prefix token(s), "
            f"but the backbone gave {n} tokens; use cache.store=all or cache.store=pooled"
        )
    grid_tokens = tokens[:, prefix:].transpose(1, 2).reshape(b, d, side, side)
    pooled = F.adaptive_avg_pool2d(grid_tokens.float(), grid).flatten(2).transpose(1, 2)
    return torch.cat([tokens[:, :prefix].float(), pooled], dim=1)


def as_cached(feats: Features, *, store: str, grid: int, num_prefix_tokens: int) -> Features:
    """Live backbone features turned into exactly what a cache entry would hold (float16 values;
    reduced or dropped tokens), so a head trained on cached features predicts on new inputs the
    same way it was trained."""
    f16 = torch.float16
    pooled = feats.pooled.to(f16)
    if store == "pooled" or feats.tokens is None:
        return Features(pooled)
    tokens = feats.tokens
    if store == "reduced":
        tokens = reduce_tokens(tokens, num_prefix_tokens, grid)
    return Features(pooled, tokens.to(f16), feats.mask)


@contextlib.contextmanager
def entry_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on entry ``path`` (a ``<key>.lock`` file beside it) while it is
    filled, so parallel runs of a sweep that need the same features extract them once: the
    others wait, then find the entry complete. No-op where ``fcntl`` is missing (Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def entry_lock_nowait(path: Path) -> Iterator[bool]:
    """Try to take entry ``path``'s lock without waiting: yields True while held, False when
    another process holds it (it is writing the entry). True where ``fcntl`` is missing."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        yield True
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def is_entry(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and any((path / f).exists() for f in FILES)
