"""Judging a cache entry without touching it, and the CRC32 of its chunks.

Everything here only reads: an entry another process is still writing must never be changed
from outside its lock. :meth:`FeatureStore.build` decides what to do with the verdict, and
deletes an unusable entry only while it holds that entry's lock.
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ssft.features.layout import expected_sizes, read_json

#: Data files whose chunks carry a CRC32 in complete.json (done.u8 is bookkeeping, not data).
DATA_FILES = ("pooled.f16", "tokens.f16", "mask.u8")


def judge_entry(path: Path, expect: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """``(meta, None)`` when the entry at ``path`` is usable (complete or resumable),
    ``(None, reason)`` when it exists but is not, ``(None, None)`` when there is nothing there.
    Reads only; the chunk checksums are checked by :func:`verify_checksums`."""
    if not path.exists():
        return None, None
    meta = read_json(path / "meta.json")
    if meta is None:
        return None, "meta.json is missing or unreadable"
    for k, v in expect.items():
        if meta.get(k) != v:
            return None, f"meta.json has {k}={meta.get(k)!r}, expected {v!r}"
    try:
        chunk = int(meta["chunk"])
        if chunk < 1 or int(meta["num_chunks"]) != -(-int(meta["n"]) // chunk):
            return None, f"meta.json has an inconsistent chunk size {chunk}"
        for name, size in expected_sizes(meta).items():
            f = path / name
            actual = f.stat().st_size if f.exists() else None
            if actual != size:
                return None, f"{name} is {actual} bytes, expected {size}"
    except (KeyError, TypeError, ValueError) as e:
        return None, f"meta.json lacks a valid field ({e})"
    if (path / "complete.json").exists():
        done = np.fromfile(path / "done.u8", dtype=np.uint8)
        if not done.all():
            return None, "complete.json is present but some chunks are not marked done"
    return meta, None


def _row_bytes(meta: dict[str, Any]) -> dict[str, int]:
    sizes = expected_sizes(meta)
    n = max(1, int(meta["n"]))
    return {name: sizes[name] // n for name in DATA_FILES if name in sizes}


def chunk_checksums(path: Path, meta: dict[str, Any]) -> dict[str, list[int]]:
    """CRC32 of every chunk (``meta["chunk"]`` rows) of every data file of the entry."""
    chunk, out = int(meta["chunk"]), {}
    for name, row in _row_bytes(meta).items():
        crcs = []
        with open(path / name, "rb") as f:
            for _ in range(int(meta["num_chunks"])):
                crcs.append(zlib.crc32(f.read(chunk * row)))
        out[name] = crcs
    return out


def verify_checksums(path: Path, meta: dict[str, Any]) -> str | None:
    """None when every chunk matches the CRC32 recorded in complete.json (or none is recorded, an
    entry written before checksums existed); otherwise one line naming the first bad chunk."""
    done = read_json(path / "complete.json") or {}
    recorded = done.get("crc32")
    if not isinstance(recorded, dict):
        return None
    actual = chunk_checksums(path, meta)
    for name, crcs in recorded.items():
        got = actual.get(name)
        if got is None or len(got) != len(crcs):
            return f"{name} does not have the {len(crcs)} chunks its checksums describe"
        for c, (want, have) in enumerate(zip(crcs, got, strict=True)):
            if want != have:
                rows = f"{c * int(meta['chunk'])}-{min(int(meta['n']), (c + 1) * int(meta['chunk'])) - 1}"
                return f"{name} chunk {c} (rows {rows}) fails its CRC32 check (the file was damaged)"
    return None


def completion_record(path: Path, meta: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """What complete.json holds: the finish time, n and the CRC32 of every chunk (read back from
    disk, after the data was flushed), so a later open detects a damaged chunk."""
    return {
        "complete": True,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "n": int(meta["n"]),
        **extra,
        "crc32": chunk_checksums(path, meta),
    }
