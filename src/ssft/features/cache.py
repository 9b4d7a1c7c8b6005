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

import hashlib
import json
import logging
import math
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ssft.backbones.base import Backbone, Features
from ssft.errors import CacheError
from ssft.fileio import atomic_write_text

__all__ = [
    "FORMAT_VERSION",
    "FeatureStore",
    "as_cached",
    "cache_key",
    "default_cache_dir",
    "list_caches",
    "remove_cache",
]

log = logging.getLogger(__name__)

#: Bumped whenever the on-disk layout or the meaning of a stored value changes.
FORMAT_VERSION = 1
STORES = ("all", "reduced", "pooled")
DTYPE = np.dtype("<f2")
_FILES = ("pooled.f16", "tokens.f16", "mask.u8", "done.u8", "meta.json", "complete.json")


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
) -> str:
    """The entry name: sha256 of a canonical JSON of every field (and the format version), 24 hex."""
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
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


# ------------------------------------------------------------------------------------------------
# Small file helpers


def _atomic_write_json(path: Path, obj: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            obj = json.load(f)
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def _dir_size(path: Path) -> int:
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


def _expected_sizes(meta: dict[str, Any]) -> dict[str, int]:
    n, d, t = int(meta["n"]), int(meta["dim"]), int(meta["tokens"] or 0)
    sizes = {"pooled.f16": n * d * DTYPE.itemsize, "done.u8": int(meta["num_chunks"])}
    if meta["store"] != "pooled":
        sizes["tokens.f16"] = n * t * d * DTYPE.itemsize
        if meta["has_mask"]:
            sizes["mask.u8"] = n * t
    return sizes


def _reduce_tokens(tokens: Tensor, prefix: int, grid: int) -> Tensor:
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
        tokens = _reduce_tokens(tokens, num_prefix_tokens, grid)
    return Features(pooled, tokens.to(f16), feats.mask)


class _Items(torch.utils.data.Dataset):
    """Random access to the raw items; the loader's ``collate_fn`` is ``backbone.prepare``."""

    def __init__(self, inputs: Sequence[Any]) -> None:
        self.inputs = inputs

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> Any:
        return self.inputs[i]


class _Prepare:
    """Picklable collate function: the list of raw items -> (their indices, prepared inputs)."""

    def __init__(self, prepare: Callable[[Sequence[Any]], dict[str, Tensor]]) -> None:
        self.prepare = prepare

    def __call__(self, raw: list[Any]) -> dict[str, Tensor]:
        return self.prepare(raw)


def _split_inputs(inputs: dict[str, Tensor], size: int) -> list[dict[str, Tensor]]:
    b = next(iter(inputs.values())).shape[0]
    return [{k: v[s : s + size] for k, v in inputs.items()} for s in range(0, b, size)]


def _bar_label(user: dict[str, Any], key: str) -> str:
    """What an extraction bar extracts (backbone, dataset, part), not the cache key alone."""
    parts = [str(user[k]) for k in ("backbone", "dataset", "part") if user.get(k)]
    return "features " + (" ".join(parts) if parts else key[:8])


def _best_effort_compile(backbone: Backbone) -> Callable[[dict[str, Tensor]], Features]:
    """``torch.compile(backbone.encode)``, falling back to eager for good if compiling fails.

    Compilation happens at the first call, so a failure shows up there, not in ``torch.compile``.
    """
    eager = backbone.encode
    try:
        compiled = torch.compile(eager)
    except Exception as e:  # compilation is an optimisation only
        log.warning("torch.compile of %s failed (%s); extracting uncompiled", backbone.name, e)
        return eager
    state = {"fn": compiled}

    def encode(inputs: dict[str, Tensor]) -> Features:
        if state["fn"] is eager:
            return eager(inputs)
        try:
            return state["fn"](inputs)
        except torch.cuda.OutOfMemoryError:
            raise
        except Exception as e:
            log.warning("torch.compile of %s failed (%s); extracting uncompiled", backbone.name, e)
            state["fn"] = eager
            return eager(inputs)

    return encode


# ------------------------------------------------------------------------------------------------
# The store


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
    ) -> FeatureStore:
        """Open entry ``root/key``, extracting (or finishing) it first when it is not complete.

        ``inputs`` are the raw items (random access, ``len()``); ``backbone`` must already sit on
        ``device``. ``forward_passes`` of the returned store counts the ``backbone.encode`` calls
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

        existing = cls._check_entry(path, expect)
        if existing is not None and (path / "complete.json").exists():
            return cls(path, existing, forward_passes=0)
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

    @staticmethod
    def _check_entry(path: Path, expect: dict[str, Any]) -> dict[str, Any] | None:
        """The entry's meta when it is usable (complete or resumable); otherwise delete it."""
        if not path.exists():
            return None
        meta = _read_json(path / "meta.json")
        reason = None
        if meta is None:
            reason = "meta.json is missing or unreadable"
        else:
            for k, v in expect.items():
                if meta.get(k) != v:
                    reason = f"meta.json has {k}={meta.get(k)!r}, expected {v!r}"
                    break
        if reason is None:
            assert meta is not None
            try:
                chunk = int(meta["chunk"])
                if chunk < 1 or int(meta["num_chunks"]) != -(-int(meta["n"]) // chunk):
                    reason = f"meta.json has an inconsistent chunk size {chunk}"
                else:
                    for name, size in _expected_sizes(meta).items():
                        f = path / name
                        actual = f.stat().st_size if f.exists() else None
                        if actual != size:
                            reason = f"{name} is {actual} bytes, expected {size}"
                            break
            except (KeyError, TypeError, ValueError) as e:
                reason = f"meta.json lacks a valid field ({e})"
        if reason is None and (path / "complete.json").exists():
            assert meta is not None
            done = np.fromfile(path / "done.u8", dtype=np.uint8)
            if not done.all():
                reason = "complete.json is present but some chunks are not marked done"
        if reason is None:
            return meta
        if meta is not None or any((path / f).exists() for f in _FILES):
            warnings.warn(
                f"feature cache entry {path} is invalid ({reason}); deleting it and extracting again",
                stacklevel=3,
            )
        _remove_tree(path)
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
        return sum(v for k, v in _expected_sizes(self.meta).items() if k != "done.u8")

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


# ------------------------------------------------------------------------------------------------
# Extraction


class _Builder:
    """Fills the missing chunks of one entry; see :meth:`FeatureStore.build`."""

    def __init__(
        self,
        *,
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
        user_meta: dict[str, Any],
        compile: bool,
    ) -> None:
        self.path, self.expect, self.meta = path, expect, existing
        self.backbone, self.inputs, self.grid = backbone, inputs, grid
        self.batch_size, self.device = batch_size, device
        self.num_workers, self.progress = num_workers, progress
        self.user_meta, self.compile = user_meta, compile
        self.forward_passes = 0
        self.max_batch = batch_size  # lowered after a CUDA out-of-memory error
        self.store = str(expect["store"])
        self.n = int(expect["n"])
        self.prefix = int(expect["num_prefix_tokens"])

    # -- layout -----------------------------------------------------------------------------------

    def _create(self, tokens: int) -> dict[str, Any]:
        """Make the folder, the (sparse) data files and meta.json; meta.json goes last."""
        _remove_tree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        chunk = self.batch_size
        import ssft

        meta = dict(self.expect)
        meta.update(
            tokens=tokens,
            chunk=chunk,
            num_chunks=-(-self.n // chunk),
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            ssft_version=getattr(ssft, "__version__", "unknown"),
            backbone_name=self.backbone.name,
            user=self.user_meta,
        )
        for name, size in _expected_sizes(meta).items():
            with open(self.path / name, "wb") as f:
                f.truncate(size)
                f.flush()
                os.fsync(f.fileno())
        _atomic_write_json(self.path / "meta.json", meta)
        return meta

    # -- the extraction loop ----------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        meta = self.meta
        if meta is None and self.expect.get("tokens") is not None:
            meta = self._create(int(self.expect["tokens"]))
        if meta is None and self.n == 0:
            meta = self._create(0)
        chunk = int(meta["chunk"]) if meta else self.batch_size
        num_chunks = -(-self.n // chunk)
        if meta is not None:
            done = np.fromfile(self.path / "done.u8", dtype=np.uint8)
            todo = [c for c in range(num_chunks) if not done[c]]
        else:
            todo = list(range(num_chunks))
        if todo:
            meta = self._extract(meta, chunk, todo)
        assert meta is not None
        _atomic_write_json(
            self.path / "complete.json",
            {"complete": True, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "n": self.n},
        )
        return meta

    def _batches(self, chunk: int, todo: list[int]) -> Iterator[list[int]]:
        step = min(self.batch_size, chunk)
        for c in todo:
            lo, hi = c * chunk, min(self.n, (c + 1) * chunk)
            for s in range(lo, hi, step):
                yield list(range(s, min(hi, s + step)))

    def _extract(self, meta: dict[str, Any] | None, chunk: int, todo: list[int]) -> dict[str, Any]:
        from ssft.progress import progress_bar

        encode = _best_effort_compile(self.backbone) if self.compile else self.backbone.encode
        batches = list(self._batches(chunk, todo))
        loader = torch.utils.data.DataLoader(
            _Items(self.inputs),
            batch_sampler=batches,
            collate_fn=_Prepare(self.backbone.prepare),
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
        )
        remaining = {c: min(self.n, (c + 1) * chunk) - c * chunk for c in todo}
        files: dict[str, Any] = {}
        bar = progress_bar(
            self.n,
            initial=self.n - sum(remaining.values()),
            desc=_bar_label(self.user_meta, self.path.name),
            unit="item",
            disable=not self.progress,
        )
        try:
            for rows, prepared in zip(batches, loader, strict=True):
                feats = self._encode(encode, prepared)
                pooled, tokens, mask = self._to_arrays(feats, rows)
                if meta is None:  # image 'all': T is known from the first batch
                    meta = self._create(0 if tokens is None else int(tokens.shape[1]))
                if tokens is not None and tokens.shape[1] != int(meta["tokens"]):
                    raise CacheError(
                        f"backbone {self.backbone.name} gave {tokens.shape[1]} tokens per item, but the "
                        f"cache entry {self.path} holds {meta['tokens']}; remove it with "
                        f"`ssft cache rm {self.path.name}` and run again"
                    )
                if not files:
                    files = {
                        name: open(self.path / name, "r+b")  # noqa: SIM115 - closed in finally
                        for name in _expected_sizes(meta)
                    }
                self._write(files, rows, pooled, tokens, mask)
                c = rows[0] // chunk
                remaining[c] -= len(rows)
                if remaining[c] == 0:
                    # Data first, on disk; only then the done byte, so a crash never marks junk done.
                    for name, f in files.items():
                        if name != "done.u8":
                            f.flush()
                            os.fsync(f.fileno())
                    f = files["done.u8"]
                    f.seek(c)
                    f.write(b"\x01")
                    f.flush()
                    os.fsync(f.fileno())
                bar.update(len(rows))
        finally:
            bar.close()
            for f in files.values():
                f.close()
        assert meta is not None
        return meta

    def _encode(
        self, encode: Callable[[dict[str, Tensor]], Features], prepared: dict[str, Tensor]
    ) -> Features:
        """Run the backbone, splitting the batch in halves on a CUDA out-of-memory error."""
        b = next(iter(prepared.values())).shape[0]
        if b > self.max_batch:
            return Features.cat([self._encode(encode, p) for p in _split_inputs(prepared, self.max_batch)])
        inputs = {k: v.to(self.device, non_blocking=True) for k, v in prepared.items()}
        try:
            self.forward_passes += 1
            with torch.inference_mode(), self._autocast():
                feats = encode(inputs)
            return Features(
                feats.pooled.float().cpu(),
                None if feats.tokens is None else feats.tokens.float().cpu(),
                None if feats.mask is None else feats.mask.bool().cpu(),
            )
        except torch.cuda.OutOfMemoryError:
            del inputs
            if b == 1:
                raise
            self.max_batch = max(1, b // 2)
            log.warning(
                "out of GPU memory extracting a batch of %d items for %s; retrying in batches of %d",
                b,
                self.path,
                self.max_batch,
            )
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            return Features.cat([self._encode(encode, p) for p in _split_inputs(prepared, self.max_batch)])

    def _autocast(self) -> Any:
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    def _to_arrays(
        self, feats: Features, rows: list[int]
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Check the backbone output and turn it into the stored float16 / uint8 arrays."""
        b, d = len(rows), int(self.expect["dim"])
        if tuple(feats.pooled.shape) != (b, d):
            raise CacheError(
                f"backbone {self.backbone.name} returned pooled features of shape {tuple(feats.pooled.shape)}, "
                f"expected ({b}, {d}); the backbone breaks its contract (dim={d})"
            )
        bad = ~torch.isfinite(feats.pooled).all(dim=1)
        tokens = mask = None
        if self.store != "pooled":
            if feats.tokens is None:
                raise CacheError(
                    f"backbone {self.backbone.name} returned no tokens; use cache.store=pooled for it"
                )
            tokens = feats.tokens
            if tokens.shape[0] != b or tokens.shape[2] != d:
                raise CacheError(
                    f"backbone {self.backbone.name} returned tokens of shape {tuple(tokens.shape)}, "
                    f"expected ({b}, N, {d})"
                )
            real = feats.mask if feats.mask is not None else torch.ones(tokens.shape[:2], dtype=torch.bool)
            # Padding may hold anything; only real tokens must be finite.
            bad |= ~(torch.isfinite(tokens).all(dim=2) | ~real).all(dim=1)
            if self.expect["modality"] == "text":
                t = int(self.expect["tokens"])
                if tokens.shape[1] > t:
                    raise CacheError(
                        f"backbone {self.backbone.name} returned {tokens.shape[1]} tokens, more than its "
                        f"max_length {t}; fix the backbone's truncation"
                    )
                pad = t - tokens.shape[1]
                tokens = F.pad(tokens.masked_fill(~real[..., None], 0.0), (0, 0, 0, pad))
                mask = F.pad(real, (0, pad), value=False)
            elif self.store == "reduced":
                tokens = _reduce_tokens(tokens, self.prefix, self.grid)
        if bad.any():
            items = [rows[i] for i in torch.nonzero(bad).flatten().tolist()]
            shown = ", ".join(map(str, items[:20])) + (", ..." if len(items) > 20 else "")
            raise CacheError(
                f"backbone {self.backbone.name} returned NaN or inf features for item(s) {shown} "
                f"(positions in the extracted inputs); nothing of that batch was written to {self.path}. "
                "Check those inputs, or extract in float32 on the CPU to see if it is a precision problem"
            )
        pooled = feats.pooled.numpy().astype(DTYPE)
        tok = None if tokens is None else tokens.numpy().astype(DTYPE)
        over = ~np.isfinite(pooled).all(axis=1)
        if tok is not None:
            over |= ~np.isfinite(tok).all(axis=(1, 2))
        if over.any():
            items = [rows[i] for i in np.nonzero(over)[0].tolist()]
            raise CacheError(
                f"features of item(s) {items[:20]} overflow float16 (|x| > 65504); nothing of that batch "
                f"was written to {self.path}. The cache stores float16: use cache.enabled=false for this backbone"
            )
        m = None if mask is None else mask.numpy().astype(np.uint8)
        return pooled, tok, m

    def _write(
        self,
        files: dict[str, Any],
        rows: list[int],
        pooled: np.ndarray,
        tokens: np.ndarray | None,
        mask: np.ndarray | None,
    ) -> None:
        # Rows of a batch are consecutive, so each array goes in with one seek and one write.
        start = rows[0]
        for name, arr in (("pooled.f16", pooled), ("tokens.f16", tokens), ("mask.u8", mask)):
            if arr is None or name not in files:
                continue
            row_bytes = arr[0].nbytes if arr.shape[0] else 0
            f = files[name]
            f.seek(start * row_bytes)
            f.write(np.ascontiguousarray(arr).tobytes())


# ------------------------------------------------------------------------------------------------
# Listing and removal


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _is_entry(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and any((path / f).exists() for f in _FILES)


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
        if not _is_entry(p):
            continue
        raw = _read_json(p / "meta.json") or {}
        meta = {k: v for k, v in raw.items() if k != "user"}
        if isinstance(raw.get("user"), dict):
            meta.update(raw["user"])
        meta.setdefault("backbone", raw.get("backbone_name", "?"))
        complete = bool(raw) and bool((_read_json(p / "complete.json") or {}).get("complete"))
        out.append({"key": p.name, "path": str(p), "size": _dir_size(p), "complete": complete, "meta": meta})
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
        p for p in (sorted(root.iterdir()) if root.is_dir() else []) if p.name.startswith(k) and _is_entry(p)
    ]
    if not matched:
        raise CacheError(
            f"no feature cache entry under {root} matches {k!r}; see `ssft cache ls` for the keys"
        )
    removed = []
    for p in matched:
        if p.resolve().parent != base:
            raise CacheError(f"refusing to remove {p}: it is not directly inside the cache folder {root}")
        _remove_tree(p)
        removed.append(p)
    return removed
