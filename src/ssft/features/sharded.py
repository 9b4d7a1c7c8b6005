"""Feature extraction shared by the ranks of a ``torchrun`` job, with one writer of each entry.

Each rank extracts a contiguous block of the rows into its own temporary entry
(``<key>-part<r>of<N>``, an ordinary cache entry, so an interrupted job resumes it); rank 0 then
assembles the entry ``<key>`` from the blocks, in order, exactly as one process would have written
it (same meta, same files), and removes the blocks; the other ranks wait, then open it. An entry
that is already complete is opened by every rank without any extraction.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ssft.data.subset import SubsetInputs
from ssft.distributed import (
    all_gather_object,
    broadcast_object,
    is_distributed,
    rank,
    run_on_main,
    world_size,
)
from ssft.errors import CacheError
from ssft.features.layout import atomic_write_json, entry_lock, expected_sizes, read_json, remove_tree
from ssft.features.store import FeatureStore
from ssft.features.validate import completion_record
from ssft.fileio import before_write, is_disk_full
from ssft.version import __version__

#: Bytes copied per write while assembling (each write passes :func:`ssft.fileio.before_write`).
_BLOCK = 1 << 20


def build_store(**kwargs: Any) -> FeatureStore:
    """:meth:`FeatureStore.build` with the same arguments; under DDP the extraction is sharded
    across the ranks (see the module docstring) and every rank returns the assembled entry.
    ``forward_passes`` of the result counts every rank's passes."""
    if not is_distributed():
        return FeatureStore.build(**kwargs)
    key, root, inputs = str(kwargs["key"]), Path(kwargs["root"]), kwargs["inputs"]
    n, world, me = len(inputs), world_size(), rank()
    if me != 0:
        kwargs = {**kwargs, "progress": False}
    if broadcast_object((root / key / "complete.json").exists()) or n < world:
        # A hit (rank 0 validates it first), or too few rows to share: rank 0 alone.
        passes = run_on_main(lambda: FeatureStore.build(**kwargs).forward_passes)
        run_on_main(lambda: remove_parts(root, key, world))  # left by a job killed after assembling
        store = FeatureStore.build(**kwargs)
        store.forward_passes = passes
        return store

    bounds = [n * i // world for i in range(world + 1)]
    rows = np.arange(bounds[me], bounds[me + 1])
    user = dict(kwargs.get("meta") or {})
    part_kwargs = {
        **kwargs,
        "inputs": SubsetInputs(inputs, rows),
        "key": part_key(key, me, world),
        "meta": {
            **user,
            "part_of": key,
            "rows": [int(bounds[me]), int(bounds[me + 1])],
            "n": int(n),
            "world": int(world),
        },
    }
    outcome: tuple[int, str | None] = (0, None)
    try:
        outcome = (FeatureStore.build(**part_kwargs).forward_passes, None)
    except Exception as e:  # every rank learns of it below, so none is left waiting
        outcome = (0, f"{type(e).__name__}: {e}")
        error = e
    outcomes = all_gather_object(outcome)
    failed = [(r, msg) for r, (_, msg) in enumerate(outcomes) if msg is not None]
    if failed:
        if outcome[1] is not None:
            raise error
        r, msg = failed[0]
        raise CacheError(f"rank {r} failed extracting its share of cache entry {key}: {msg}")
    batch_size = int(kwargs.get("batch_size", 64))
    run_on_main(lambda: assemble(root, key, world, n=n, chunk=batch_size, user=user))
    store = FeatureStore.build(**kwargs)
    store.forward_passes = sum(p for p, _ in outcomes)
    return store


def part_key(key: str, r: int, world: int) -> str:
    return f"{key}-part{r}of{world}"


def assemble(root: Path, key: str, world: int, *, n: int, chunk: int, user: dict[str, Any]) -> None:
    """Write entry ``root/key`` from its ``world`` complete parts (rows in rank order), then remove
    the parts. Data first, then the done bytes, ``meta.json`` and last ``complete.json``, so an
    interruption leaves nothing that reads as complete."""
    parts = [root / part_key(key, r, world) for r in range(world)]
    metas = [read_json(p / "meta.json") for p in parts]
    if any(m is None or not (p / "complete.json").exists() for p, m in zip(parts, metas, strict=True)):
        raise CacheError(f"a part of cache entry {key} is missing or incomplete under {root}")
    first = metas[0]
    assert first is not None
    if len({(m or {}).get("tokens") for m in metas}) != 1:
        raise CacheError(f"the parts of cache entry {key} disagree on the number of tokens per item")
    if sum(int((m or {})["n"]) for m in metas) != n:
        raise CacheError(f"the parts of cache entry {key} do not add up to its {n} items")

    meta = dict(first)
    meta.update(
        key=key,
        n=n,
        chunk=chunk,
        num_chunks=-(-n // chunk),
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        ssft_version=__version__,
        user=user,
    )
    path = root / key
    with entry_lock(path):  # a single-process run may want the same entry meanwhile
        if not (path / "complete.json").exists():
            _write(path, parts, meta, n)
    remove_parts(root, key, world)


def remove_parts(root: Path, key: str, world: int) -> None:
    """Remove the parts of entry ``key`` (each under its own lock), once the entry is complete."""
    for p in (root / part_key(key, r, world) for r in range(world)):
        if p.exists():
            with entry_lock(p):
                remove_tree(p)


def _write(path: Path, parts: list[Path], meta: dict[str, Any], n: int) -> None:
    try:
        _copy_parts(path, parts, meta)
    except OSError as e:
        if is_disk_full(e):
            raise CacheError(
                f"no space left on the device assembling cache entry {path}; its parts are kept and "
                "the next run assembles it again: free some space (or set cache.dir / SSFT_CACHE "
                "elsewhere) and run again"
            ) from None
        raise
    atomic_write_json(path / "meta.json", meta)
    atomic_write_json(path / "complete.json", completion_record(path, meta, assembled_from=len(parts)))


def _copy_parts(path: Path, parts: list[Path], meta: dict[str, Any]) -> None:
    """The data files (the parts' files end to end) and the done bytes, each flushed to disk."""
    key = path.name
    remove_tree(path)
    path.mkdir(parents=True)
    sizes = expected_sizes(meta)
    for name in sizes:
        if name == "done.u8":
            continue
        with open(path / name, "wb") as out:
            for p in parts:
                with open(p / name, "rb") as f:
                    while block := f.read(_BLOCK):
                        before_write(path / name, len(block))
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if (path / name).stat().st_size != sizes[name]:
            raise CacheError(f"assembling cache entry {key}: {name} has the wrong size")
    done = b"\x01" * int(meta["num_chunks"])
    with open(path / "done.u8", "wb") as f:
        before_write(path / "done.u8", len(done))
        f.write(done)
        f.flush()
        os.fsync(f.fileno())
