"""The store: a cache entry opened for reading, its validation, listing and removal."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ssft.backbones.base import Backbone, Features
from ssft.errors import CacheError
from ssft.features.layout import (
    DTYPE,
    FILES,
    FORMAT_VERSION,
    STORES,
    default_cache_dir,
    dir_size,
    entry_lock,
    entry_lock_nowait,
    expected_sizes,
    is_entry,
    read_json,
    remove_tree,
)
from ssft.features.validate import judge_entry, verify_checksums

#: Entries whose checksums this process has verified, by (path, complete.json mtime): an entry
#: is read back and checked on its first open only.
_VERIFIED: set[tuple[str, int]] = set()


def _stamp(path: Path) -> tuple[str, int]:
    try:
        return str(path.resolve()), (path / "complete.json").stat().st_mtime_ns
    except OSError:
        return str(path), -1


def _discard(path: Path, reason: str) -> None:
    """Delete an unusable entry, with a warning naming why. Call only while holding its lock."""
    if read_json(path / "meta.json") is not None or any((path / f).exists() for f in FILES):
        warnings.warn(
            f"feature cache entry {path} is invalid ({reason}); deleting it and extracting again",
            stacklevel=4,
        )
    remove_tree(path)


class FeatureStore:
    """A cache entry opened for reading: ``get(rows) -> Features`` in float16.

    Build one with :meth:`FeatureStore.build`. Rows are read from read-only memory maps, or
    indexed on the device after :meth:`to` (or on the host after :meth:`load_into_memory`).
    """

    def __init__(self, path: Path, meta: dict[str, Any], forward_passes: int = 0) -> None:
        self.path = Path(path)
        self.meta = meta
        self.forward_passes = forward_passes
        self.n = int(meta["n"])
        self.dim = int(meta["dim"])
        self.num_tokens = int(meta["tokens"] or 0)
        self.store = str(meta["store"])
        self._maps: dict[str, np.ndarray] | None = None
        self._resident: dict[str, Tensor] | None = None
        self.device = torch.device("cpu")

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        *,
        backbone: Backbone,
        inputs: Sequence[Any],
        key: str,
        root: str | Path,
        store: str = "all",
        grid: int = 4,
        batch_size: int = 64,
        device: torch.device | str = "cpu",
        num_workers: int = 0,
        progress: bool = True,
        meta: dict[str, Any] | None = None,
        compile: bool = False,
        precision: str = "auto",
    ) -> FeatureStore:
        """Open entry ``root/key``, extracting (or finishing) it first when it is not complete.

        ``inputs`` are the raw items (random access, ``len()``); ``backbone`` must already sit on
        ``device``; it runs under :func:`ssft.precision.autocast` for ``precision`` (the run's
        ``train.precision``). ``forward_passes`` of the returned store counts the ``backbone.encode`` calls
        made here (0 on a cache hit).
        """
        if store not in STORES:
            raise CacheError(f"unknown cache store {store!r}; choose one of {', '.join(STORES)}")
        if store == "reduced" and (not isinstance(grid, int) or grid < 1):
            raise CacheError(f"cache.grid must be a positive integer for store='reduced', got {grid!r}")
        if batch_size < 1:
            raise CacheError(f"cache.batch_size must be at least 1, got {batch_size}")
        if backbone.modality == "text" and store == "reduced":
            raise CacheError(
                "cache.store=reduced pools a square patch grid and is for image backbones; "
                f"backbone {backbone.name} is a text model: use cache.store=all or cache.store=pooled"
            )
        if not key or not all(c.isalnum() or c in "-_" for c in key):
            raise CacheError(f"cache key {key!r} must be letters, digits, '-' or '_' (see cache_key())")
        device = torch.device(device)
        path = Path(root) / key
        n = len(inputs)
        expect = {
            "format": FORMAT_VERSION,
            "key": key,
            "store": store,
            "grid": grid,
            "n": n,
            "dim": int(backbone.dim),
            "dtype": "float16",
            "modality": backbone.modality,
            "num_prefix_tokens": int(backbone.num_prefix_tokens),
            "has_mask": backbone.modality == "text" and store != "pooled",
        }
        known_tokens = cls._known_tokens(backbone, store, grid)
        if known_tokens is not None:
            expect["tokens"] = known_tokens

        hit = cls._open_complete(path, expect, locked=False)
        if hit is not None:
            return hit
        with entry_lock(path):
            # Only here, holding the lock, may an unusable entry be deleted: outside it, an entry
            # that looks incomplete may simply be one another process is still writing.
            hit = cls._open_complete(path, expect, locked=True)
            if hit is not None:
                return hit
            existing, reason = judge_entry(path, expect)
            if reason is not None:
                _discard(path, reason)
            return cls._extract(
                path, expect, existing, backbone, inputs, grid, batch_size, device, num_workers,
                progress, meta, compile, precision,
            )  # fmt: skip

    @classmethod
    def _open_complete(cls, path: Path, expect: dict[str, Any], *, locked: bool) -> FeatureStore | None:
        """The entry as a cache hit when it is complete, matches ``expect`` and its chunks pass
        their CRC32 check; None otherwise. Deletes nothing unless ``locked`` (the caller holds
        the entry lock) and the chunks are damaged."""
        meta, _reason = judge_entry(path, expect)
        if meta is None or not (path / "complete.json").exists():
            return None
        stamp = _stamp(path)
        if stamp not in _VERIFIED:
            damage = verify_checksums(path, meta)
            if damage is not None:
                if locked:
                    _discard(path, damage)
                return None
            _VERIFIED.add(stamp)
        return cls(path, meta, forward_passes=0)

    @classmethod
    def _extract(
        cls,
        path: Path,
        expect: dict[str, Any],
        existing: dict[str, Any] | None,
        backbone: Backbone,
        inputs: Sequence[Any],
        grid: int,
        batch_size: int,
        device: torch.device,
        num_workers: int,
        progress: bool,
        meta: dict[str, Any] | None,
        compile: bool,
        precision: str,
    ) -> FeatureStore:
        from ssft.features.extract import _Builder

        builder = _Builder(
            path=path,
            expect=expect,
            existing=existing,
            backbone=backbone,
            inputs=inputs,
            grid=grid,
            batch_size=batch_size,
            device=device,
            num_workers=num_workers,
            progress=progress,
            user_meta=dict(meta or {}),
            compile=compile,
            precision=precision,
        )
        final_meta = builder.run()
        return cls(path, final_meta, forward_passes=builder.forward_passes)

    @staticmethod
    def _known_tokens(backbone: Backbone, store: str, grid: int) -> int | None:
        """T when it is known before any forward pass (None for image 'all')."""
        if store == "pooled":
            return 0
        if backbone.modality == "text":
            max_length = getattr(backbone.preprocess, "max_length", None)
            if not max_length:
                raise CacheError(
                    f"text backbone {backbone.name} has no preprocess.max_length; the cache pads token "
                    "sequences to it. Set backbone.max_length, or use cache.store=pooled"
                )
            return int(max_length)
        if store == "reduced":
            return int(backbone.num_prefix_tokens) + grid * grid
        return None

    # -- reading --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return (
            f"FeatureStore({self.path}, n={self.n}, store={self.store!r}, tokens={self.num_tokens}, "
            f"dim={self.dim}, device={self.device})"
        )

    @property
    def nbytes(self) -> int:
        """Bytes of the stored features (pooled + tokens + mask)."""
        return sum(v for k, v in expected_sizes(self.meta).items() if k != "done.u8")

    def _open(self) -> dict[str, np.ndarray]:
        if self._maps is None:
            n, t, d = self.n, self.num_tokens, self.dim
            shapes: dict[str, tuple[str, np.dtype[Any], tuple[int, ...]]] = {
                "pooled": ("pooled.f16", DTYPE, (n, d))
            }
            if self.store != "pooled":
                shapes["tokens"] = ("tokens.f16", DTYPE, (n, t, d))
                if self.meta["has_mask"]:
                    shapes["mask"] = ("mask.u8", np.dtype(np.uint8), (n, t))
            maps: dict[str, np.ndarray] = {}
            for name, (fname, dtype, shape) in shapes.items():
                if n == 0 or 0 in shape:  # np.memmap refuses empty files
                    maps[name] = np.zeros(shape, dtype=dtype)
                else:
                    maps[name] = np.memmap(self.path / fname, dtype=dtype, mode="r", shape=shape)
            self._maps = maps
        return self._maps

    def get(self, rows: Tensor) -> Features:
        """Features of rows ``rows`` (LongTensor (B,)): float16 pooled (B, D), tokens (B, T, D) or None,
        bool mask (B, T) or None, on the store's device."""
        rows = torch.as_tensor(rows, dtype=torch.long).reshape(-1)
        if rows.numel() and (int(rows.min()) < 0 or int(rows.max()) >= self.n):
            raise IndexError(f"rows out of range for a feature cache of {self.n} items ({self.path})")
        if self._resident is not None:
            r = rows.to(self._resident["pooled"].device)
            tok = self._resident.get("tokens")
            mask = self._resident.get("mask")
            return Features(
                self._resident["pooled"][r],
                None if tok is None else tok[r],
                None if mask is None else mask[r],
            )
        maps = self._open()
        idx = rows.numpy()
        # Reading in sorted order keeps the disk access sequential; the result is put back in order.
        order = np.argsort(idx, kind="stable")
        inv = np.empty_like(order)
        inv[order] = np.arange(order.size)
        sidx = idx[order]

        def gather(a: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(a[sidx][inv])

        pooled = torch.from_numpy(gather(maps["pooled"]))
        tokens = torch.from_numpy(gather(maps["tokens"])) if "tokens" in maps else None
        mask = torch.from_numpy(gather(maps["mask"])).bool() if "mask" in maps else None
        return Features(pooled, tokens, mask)

    def _load(self, device: torch.device) -> dict[str, Tensor]:
        maps = self._open()
        out: dict[str, Tensor] = {}
        for name, a in maps.items():
            t = torch.empty(a.shape, dtype=torch.float16 if name != "mask" else torch.bool, device=device)
            # Copy in slabs so host memory stays bounded while filling a device tensor.
            step = max(1, (64 << 20) // max(1, a[:1].nbytes)) if a.shape[0] else 1
            for s in range(0, a.shape[0], step):
                part = torch.from_numpy(np.array(a[s : s + step]))  # a writable copy
                t[s : s + step] = part.bool() if name == "mask" else part
            out[name] = t
        return out

    def load_into_memory(self) -> FeatureStore:
        """Read every array into host tensors (random access without the page cache)."""
        return self.to("cpu")

    def to(self, device: torch.device | str) -> FeatureStore:
        """A copy of this store holding every array as a tensor on ``device``."""
        device = torch.device(device)
        other = FeatureStore(self.path, self.meta, self.forward_passes)
        other._resident = self._load(device)
        other.device = device
        return other

    def fits_on(self, device: torch.device | str) -> bool:
        """True when the arrays take under half of the device's free memory (False off CUDA)."""
        device = torch.device(device)
        if device.type != "cuda" or not torch.cuda.is_available():
            return False
        free, _total = torch.cuda.mem_get_info(device)
        return self.nbytes < 0.5 * free


# Listing and removal


def list_caches(root: str | Path | None = None) -> list[dict[str, Any]]:
    """Every entry under ``root``: ``{"key", "path", "size" (bytes), "complete", "meta"}``.

    ``meta`` is the entry's meta.json with the caller's metadata (backbone, dataset, ...) merged in
    at the top level; ``{}`` when meta.json is unreadable.
    """
    root = Path(root) if root is not None else default_cache_dir()
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.iterdir()):
        if not is_entry(p):
            continue
        raw = read_json(p / "meta.json") or {}
        meta = {k: v for k, v in raw.items() if k != "user"}
        if isinstance(raw.get("user"), dict):
            meta.update(raw["user"])
        meta.setdefault("backbone", raw.get("backbone_name", "?"))
        complete = bool(raw) and bool((read_json(p / "complete.json") or {}).get("complete"))
        out.append({"key": p.name, "path": str(p), "size": dir_size(p), "complete": complete, "meta": meta})
    return out


def remove_cache(key_or_prefix: str, root: str | Path | None = None) -> list[Path]:
    """Delete every entry whose key starts with ``key_or_prefix``; returns the removed folders."""
    root = Path(root) if root is not None else default_cache_dir()
    k = str(key_or_prefix)
    if (
        not k
        or k in (".", "..")
        or "/" in k
        or "\\" in k
        or os.sep in k
        or ".." in k
        or Path(k).is_absolute()
    ):
        raise CacheError(
            f"{key_or_prefix!r} is not a cache key; pass a key or key prefix as shown by `ssft cache ls`"
        )
    base = root.resolve()
    matched = [
        p for p in (sorted(root.iterdir()) if root.is_dir() else []) if p.name.startswith(k) and is_entry(p)
    ]
    if not matched:
        raise CacheError(
            f"no feature cache entry under {root} matches {k!r}; see `ssft cache ls` for the keys"
        )
    removed = []
    for p in matched:
        if p.resolve().parent != base:
            raise CacheError(f"refusing to remove {p}: it is not directly inside the cache folder {root}")
        with entry_lock_nowait(p) as held:
            if not held:
                raise CacheError(
                    f"cache entry {p.name} is being written by another process (its lock is held); "
                    "wait for that run to finish, then remove it"
                )
            remove_tree(p)
        removed.append(p)
    return removed
