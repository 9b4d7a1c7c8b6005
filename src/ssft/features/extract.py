"""Extraction: fill the missing chunks of a cache entry from a backbone, streaming to disk."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ssft.backbones.base import Backbone, Features
from ssft.errors import CacheError
from ssft.features.compile import best_effort_compile
from ssft.features.layout import (
    DTYPE,
    atomic_write_json,
    expected_sizes,
    reduce_tokens,
    remove_tree,
)
from ssft.features.validate import completion_record
from ssft.fileio import before_write, is_disk_full
from ssft.precision import autocast
from ssft.version import __version__

log = logging.getLogger(__name__)

#: Text is sorted by length within this many chunks (the most an interruption can lose).
SORT_WINDOW = 32
#: Batches encoded but not yet written; bounds the host memory the writer thread may hold.
MAX_PENDING_WRITES = 2


class _Items(torch.utils.data.Dataset):
    """Random access to the raw items; the loader's ``collate_fn`` is ``backbone.collator()``."""

    def __init__(self, inputs: Sequence[Any]) -> None:
        self.inputs = inputs

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> Any:
        return self.inputs[i]


def _bar_label(user: dict[str, Any], key: str) -> str:
    """What an extraction bar extracts (backbone, dataset, part), not the cache key alone."""
    parts = [str(user[k]) for k in ("backbone", "dataset", "part") if user.get(k)]
    label = "features " + (" ".join(parts) if parts else key[:8])
    if user.get("rows") and user.get("world"):
        # Under torchrun each rank extracts a share; the bar (rank 0's) counts that share only.
        a, b = user["rows"]
        label += f" (rank 0's share: rows {a}-{b} of {user['n']}, {user['world']} ranks)"
    return label


def _split_inputs(inputs: dict[str, Tensor], size: int) -> list[dict[str, Tensor]]:
    b = next(iter(inputs.values())).shape[0]
    return [{k: v[s : s + size] for k, v in inputs.items()} for s in range(0, b, size)]


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
        precision: str = "auto",
    ) -> None:
        self.path, self.expect, self.meta = path, expect, existing
        self.backbone, self.inputs, self.grid = backbone, inputs, grid
        self.batch_size, self.device = batch_size, device
        self.num_workers, self.progress = num_workers, progress
        self.user_meta, self.compile = user_meta, compile
        self.precision = precision
        self.forward_passes = 0
        self.max_batch = batch_size  # lowered after a CUDA out-of-memory error
        self.store = str(expect["store"])
        self.n = int(expect["n"])
        self.prefix = int(expect["num_prefix_tokens"])

    # -- layout -----------------------------------------------------------------------------------

    def _create(self, tokens: int) -> dict[str, Any]:
        """Make the folder, the (sparse) data files and meta.json; meta.json goes last."""
        remove_tree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        chunk = self.batch_size
        meta = dict(self.expect)
        meta.update(
            tokens=tokens,
            chunk=chunk,
            num_chunks=-(-self.n // chunk),
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            ssft_version=__version__,
            backbone_name=self.backbone.name,
            user=self.user_meta,
        )
        for name, size in expected_sizes(meta).items():
            with open(self.path / name, "wb") as f:
                f.truncate(size)
                f.flush()
                os.fsync(f.fileno())
        atomic_write_json(self.path / "meta.json", meta)
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
        atomic_write_json(self.path / "complete.json", completion_record(self.path, meta))
        return meta

    def _batches(self, chunk: int, todo: list[int]) -> list[list[int]]:
        """Rows of each batch. Images: consecutive rows. Text: sorted by length (longest first)
        within windows of ``SORT_WINDOW`` chunks, so a batch's padding is small; rows go back to
        their places when written, and an interrupted run loses at most one window."""
        step = min(self.batch_size, chunk)
        spans = [(c * chunk, min(self.n, (c + 1) * chunk)) for c in todo]
        if self.expect["modality"] != "text":
            return [list(range(s, min(hi, s + step))) for lo, hi in spans for s in range(lo, hi, step)]
        out = []
        for w in range(0, len(spans), SORT_WINDOW):
            rows = [r for lo, hi in spans[w : w + SORT_WINDOW] for r in range(lo, hi)]
            rows.sort(key=lambda r: -len(str(self.inputs[r])))  # stable: ties keep their order
            out += [rows[s : s + step] for s in range(0, len(rows), step)]
        return out

    def _extract(self, meta: dict[str, Any] | None, chunk: int, todo: list[int]) -> dict[str, Any]:
        """Workers decode (and tokenise) into pinned memory; the device finishes the inputs and
        runs the backbone; one writer thread copies the results back and writes them, so the
        device does not wait for the disk."""
        from ssft.progress import progress_bar

        encode = best_effort_compile(self.backbone) if self.compile else self.backbone.encode
        batches = self._batches(chunk, todo)
        workers = self.num_workers
        loader = torch.utils.data.DataLoader(
            _Items(self.inputs),
            batch_sampler=batches,
            collate_fn=self.backbone.collator(),
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=4 if workers else None,
        )
        self._meta, self._files, self._chunk, self._failed = meta, {}, chunk, False
        self._remaining = {c: min(self.n, (c + 1) * chunk) - c * chunk for c in todo}
        bar = progress_bar(
            self.n,
            initial=self.n - sum(self._remaining.values()),
            desc=_bar_label(self.user_meta, self.path.name),
            unit="item",
            disable=not self.progress,
        )
        pending: deque[Future[int]] = deque()
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ssft-cache-writer")
        try:
            for rows, prepared in zip(batches, loader, strict=True):
                feats = self._encode(encode, prepared)
                packed, ready = self._pack(feats, rows)
                pending.append(writer.submit(self._store, rows, packed, ready))
                while pending and (len(pending) > MAX_PENDING_WRITES or pending[0].done()):
                    bar.update(pending.popleft().result())
            while pending:
                bar.update(pending.popleft().result())
        finally:
            # Batches already encoded are still written (valid chunks make a resume shorter).
            writer.shutdown(wait=True)
            bar.close()
            for f in self._files.values():
                f.close()
        assert self._meta is not None
        return self._meta

    def _encode(
        self, encode: Callable[[dict[str, Tensor]], Features], prepared: dict[str, Tensor]
    ) -> Features:
        """Run the backbone (features stay on the device), halving the batch on a CUDA
        out-of-memory error."""
        b = next(iter(prepared.values())).shape[0]
        if b > self.max_batch:
            return Features.cat([self._encode(encode, p) for p in _split_inputs(prepared, self.max_batch)])
        try:
            self.forward_passes += 1
            with torch.inference_mode(), autocast(self.device, self.precision):
                inputs = self.backbone.to_device(prepared, self.device)
                return encode(inputs)
        except torch.cuda.OutOfMemoryError:
            inputs = {}  # drop the device copy before retrying
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

    @torch.inference_mode()
    def _pack(self, feats: Features, rows: list[int]) -> tuple[dict[str, Tensor], Any]:
        """On the device: check shapes, pad text / reduce the patch grid, flag non-finite rows,
        cast to float16; then start the copy to (pinned) host memory. Returns the host tensors
        and a CUDA event to wait for before reading them (None on the CPU)."""
        b, d = len(rows), int(self.expect["dim"])
        if tuple(feats.pooled.shape) != (b, d):
            raise CacheError(
                f"backbone {self.backbone.name} returned pooled features of shape {tuple(feats.pooled.shape)}, "
                f"expected ({b}, {d}); the backbone breaks its contract (dim={d})"
            )
        pooled = feats.pooled.float()
        bad = ~torch.isfinite(pooled).all(dim=1)
        out: dict[str, Tensor] = {}
        if self.store != "pooled":
            if feats.tokens is None:
                raise CacheError(
                    f"backbone {self.backbone.name} returned no tokens; use cache.store=pooled for it"
                )
            tokens = feats.tokens.float()
            if tokens.shape[0] != b or tokens.shape[2] != d:
                raise CacheError(
                    f"backbone {self.backbone.name} returned tokens of shape {tuple(tokens.shape)}, "
                    f"expected ({b}, N, {d})"
                )
            real = (
                feats.mask.bool()
                if feats.mask is not None
                else torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
            )
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
                out["mask"] = F.pad(real, (0, pad), value=False).to(torch.uint8)
            elif self.store == "reduced":
                tokens = reduce_tokens(tokens, self.prefix, self.grid)
            out["tokens"] = tokens.to(torch.float16)
        out["pooled"] = pooled.to(torch.float16)
        over = ~torch.isfinite(out["pooled"]).all(dim=1)
        if "tokens" in out:
            over |= ~torch.isfinite(out["tokens"]).flatten(1).all(dim=1)
        out["bad"], out["over"] = bad, over & ~bad
        if self.device.type != "cuda":
            return {k: v.cpu() for k, v in out.items()}, None
        host = {}
        for k, v in out.items():
            host[k] = torch.empty(v.shape, dtype=v.dtype, pin_memory=True)
            host[k].copy_(v, non_blocking=True)
        ready = torch.cuda.Event()
        ready.record()
        return host, ready

    def _store(self, rows: list[int], packed: dict[str, Tensor], ready: Any) -> int:
        """Writer thread: wait for the copy, refuse bad rows, write, mark finished chunks done."""
        if self._failed:
            return 0
        try:
            if ready is not None:
                ready.synchronize()
            bad, over = packed["bad"].numpy(), packed["over"].numpy()
            if bad.any():
                items = [rows[i] for i in np.nonzero(bad)[0].tolist()]
                shown = ", ".join(map(str, items[:20])) + (", ..." if len(items) > 20 else "")
                raise CacheError(
                    f"backbone {self.backbone.name} returned NaN or inf features for item(s) {shown} "
                    f"(positions in the extracted inputs); nothing of that batch was written to {self.path}. "
                    "Check those inputs, or extract in float32 on the CPU to see if it is a precision problem"
                )
            if over.any():
                items = [rows[i] for i in np.nonzero(over)[0].tolist()]
                raise CacheError(
                    f"features of item(s) {items[:20]} overflow float16 (|x| > 65504); nothing of that batch "
                    f"was written to {self.path}. The cache stores float16: use cache.enabled=false for this backbone"
                )
            tokens = packed.get("tokens")
            if self._meta is None:  # image 'all': T is known from the first batch
                self._meta = self._create(0 if tokens is None else int(tokens.shape[1]))
            meta = self._meta
            if tokens is not None and tokens.shape[1] != int(meta["tokens"]):
                raise CacheError(
                    f"backbone {self.backbone.name} gave {tokens.shape[1]} tokens per item, but the "
                    f"cache entry {self.path} holds {meta['tokens']}; remove it with "
                    f"`ssft cache rm {self.path.name}` and run again"
                )
            if not self._files:
                self._files = {
                    name: open(self.path / name, "r+b")  # noqa: SIM115 - closed by _extract
                    for name in expected_sizes(meta)
                }
            arrays = {
                "pooled.f16": packed["pooled"].numpy().astype(DTYPE, copy=False),
                "tokens.f16": None if tokens is None else tokens.numpy().astype(DTYPE, copy=False),
                "mask.u8": packed["mask"].numpy() if "mask" in packed else None,
            }
            self._write(rows, arrays)
            touched: dict[int, int] = {}
            for r in rows:
                touched[r // self._chunk] = touched.get(r // self._chunk, 0) + 1
            for c, k in sorted(touched.items()):
                self._remaining[c] -= k
                if self._remaining[c] == 0:
                    self._mark_done(c)
            return len(rows)
        except BaseException as e:
            self._failed = True  # later batches are not written: the error stands
            if is_disk_full(e):
                raise CacheError(
                    f"no space left on the device writing cache entry {self.path}; the chunks already "
                    "written are kept and the next run resumes the extraction: free some space (or set "
                    "cache.dir / SSFT_CACHE elsewhere) and run again"
                ) from None
            raise

    def _mark_done(self, c: int) -> None:
        # Data first, on disk; only then the done byte, so a crash never marks junk done.
        for name, f in self._files.items():
            if name != "done.u8":
                f.flush()
                os.fsync(f.fileno())
        f = self._files["done.u8"]
        f.seek(c)
        f.write(b"\x01")
        f.flush()
        os.fsync(f.fileno())

    def _write(self, rows: list[int], arrays: dict[str, np.ndarray | None]) -> None:
        # Consecutive rows (images) go in with one seek and one write per file; sorted text
        # batches are written row by row, each at its own place.
        r = np.asarray(rows, dtype=np.int64)
        consecutive = bool(r.size) and bool((r == r[0] + np.arange(r.size)).all())
        for name, arr in arrays.items():
            if arr is None or name not in self._files or not r.size:
                continue
            row_bytes = arr[0].nbytes
            f = self._files[name]
            before_write(self.path / name, int(arr.nbytes))
            if consecutive:
                f.seek(int(r[0]) * row_bytes)
                f.write(np.ascontiguousarray(arr).tobytes())
                continue
            for i, row in enumerate(r.tolist()):
                f.seek(row * row_bytes)
                f.write(np.ascontiguousarray(arr[i]).tobytes())
