"""Corruption, disk-full and checksum-cost cases for ``benchmarks/stress.py``. Each fault is put
into a copy of a finished run (``kill-ref``) or of its cache, and must be detected and named in
one line; nothing may train or predict on the damaged file."""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stress_runs import BASE, env, finish, fit_args, outcome, start

#: A child process whose writes fail with ENOSPC after N writes to files called NAME
#: (``STRESS_ENOSPC=NAME:N``), through ssft.fileio.write_hook.
ENOSPC_CHILD = """
import errno, os, sys
from ssft import fileio
name, after = os.environ["STRESS_ENOSPC"].split(":")
seen = [0]
def hook(path, nbytes):
    if path.name == name:
        seen[0] += 1
        if seen[0] > int(after):
            raise OSError(errno.ENOSPC, "No space left on device")
fileio.write_hook = hook
from ssft.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _cfg(*extra: str) -> Any:
    from ssft.config import load_config

    sets = [BASE[i + 1] for i, a in enumerate(BASE) if a == "--set"]
    return load_config("demo", [*sets, "method.name=fixmatch", *extra])


def _extract(cache: Path, *extra: str) -> tuple[list[str], int]:
    """``ssft extract`` in-process on ``cache``: the warnings it gave and its forward passes."""
    from ssft.features import store
    from ssft.run.extract import extract_for_config

    store._VERIFIED.clear()  # as in a new process: every entry is checked on its first open
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = extract_for_config(_cfg(f"cache.dir={cache}", *extra))
    return [str(w.message) for w in caught if "feature cache entry" in str(w.message)], got["forward_passes"]


def _train_entry(cache: Path) -> Path:
    """The largest entry (the training items' tokens) of a cache."""
    return max((e for e in cache.iterdir() if e.is_dir()), key=lambda e: (e / "tokens.f16").stat().st_size)


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _refused(fn: Callable[[], Any]) -> str | None:
    try:
        fn()
    except Exception as e:  # the detection under test: any refusal, its message checked below
        return str(e)
    return None


def corruption(work: Path) -> list[dict[str, Any]]:
    from ssft.api import load_run
    from ssft.data.splits import Split
    from ssft.train.checkpoint import load_checkpoint

    ref_run, ref_cache = work / "kill-ref", work / "kill-ref-cache"
    cases = []

    def cache_case(name: str, damage: Callable[[Path], None]) -> None:
        cache = work / "corrupt" / name
        shutil.copytree(ref_cache, cache)
        entry = _train_entry(cache)
        damage(entry)
        msgs, passes = _extract(cache)
        hit = [m for m in msgs if entry.name in m]
        cases.append({"case": name, "detected": bool(hit) and passes > 0, "message": hit[0] if hit else None})

    cache_case(
        "truncated cache chunk",
        lambda e: (e / "tokens.f16").write_bytes((e / "tokens.f16").read_bytes()[:-999]),
    )
    cache_case(
        "flipped byte in a cache chunk",
        lambda e: _flip(e / "tokens.f16", (e / "tokens.f16").stat().st_size // 3),
    )
    other = work / "corrupt" / "other-backbone-cache"
    _extract(other, "backbone.name=random:dinov2-reg-tiny")
    cache_case(
        "meta.json from another backbone",
        lambda e: shutil.copy(_train_entry(other) / "meta.json", e / "meta.json"),
    )

    def run_case(name: str, damage: Callable[[Path], None], use: Callable[[Path], Any]) -> None:
        run = work / "corrupt" / name.replace(" ", "-")
        shutil.copytree(ref_run, run)
        damage(run)
        msg = _refused(lambda: use(run))
        cases.append({"case": name, "detected": msg is not None and "\n" not in msg, "message": msg})

    ckpt = "checkpoint.pt"
    run_case("truncated checkpoint", lambda r: (r / ckpt).write_bytes((r / ckpt).read_bytes()[:-4096]),
             lambda r: load_checkpoint(r / ckpt))  # fmt: skip
    run_case("damaged model.safetensors", lambda r: _flip(r / "model.safetensors", (r / "model.safetensors").stat().st_size - 64),
             lambda r: load_run(r))  # fmt: skip

    def edit_split(r: Path) -> None:
        data = json.loads((r / "split.json").read_text())
        data["labeled"][0], data["unlabeled"][0] = data["unlabeled"][0], data["labeled"][0]
        (r / "split.json").write_text(json.dumps(data))

    run_case("edited split.json", edit_split, lambda r: Split.load(r / "split.json"))
    return cases


def disk_full(work: Path, ref: dict[str, Any]) -> list[dict[str, Any]]:
    """ENOSPC at the 6th checkpoint write and during extraction, in a real ``ssft fit``; then the
    run resumes with space back and must equal the uninterrupted one."""
    import subprocess
    import sys

    from ssft.train.checkpoint import load_checkpoint

    rows = []
    for name, target in (("during a checkpoint", "checkpoint.pt:5"), ("during extraction", "tokens.f16:6")):
        run, cache = work / "enospc" / name.split()[-1], work / "enospc" / f"cache-{name.split()[-1]}"
        e = {**env(cache), "STRESS_ENOSPC": target}
        p = subprocess.run([sys.executable, "-c", ENOSPC_CHILD, "fit", *fit_args("fixmatch"), "--out", str(run)],
                           env=e, capture_output=True, text=True, timeout=900)  # fmt: skip
        errors = [x for x in p.stderr.splitlines() if x.startswith("error:")]
        kept = None
        if (run / "checkpoint.pt").exists():
            kept = load_checkpoint(run / "checkpoint.pt")["step"]
        code, text = finish(start(["fit", "--resume", str(run)], cache))
        rows.append({
            "case": name, "exit": p.returncode, "errors": errors, "one_line": len(errors) == 1,
            "checkpoint_kept_at_step": kept, "resume_exit": code, "equal_after_resume": outcome(run) == ref,
            "tmp_files_left": [x.name for x in run.glob(".*.tmp")]
        })  # fmt: skip
    return rows


def checksum_cost(work: Path) -> dict[str, Any]:
    """CPU seconds of checking every chunk of every entry of the reference cache, against the CPU
    seconds the run spent extracting it (both in this machine's conditions)."""
    from ssft.features.validate import verify_checksums

    cache = work / "kill-ref-cache"
    total_bytes, t0 = 0, time.process_time()
    for entry in sorted(e for e in cache.iterdir() if e.is_dir()):
        meta = json.loads((entry / "meta.json").read_text())
        assert verify_checksums(entry, meta) is None
        total_bytes += sum(f.stat().st_size for f in entry.glob("*.f16"))
    check_cpu = time.process_time() - t0
    import zlib

    blob = bytes(64 << 20)
    t1 = time.process_time()
    zlib.crc32(blob)
    crc_rate = len(blob) / 1e6 / max(time.process_time() - t1, 1e-9)
    res = json.loads((work / "kill-ref" / "results.json").read_text())
    return {
        "bytes": total_bytes,
        "check_cpu_s": round(check_cpu, 4),
        "mb_per_cpu_s": round(total_bytes / 1e6 / max(check_cpu, 1e-9), 1),
        "extract_wall_s": res.get("extract_seconds"),
        "crc32_mb_per_cpu_s": round(crc_rate, 1),
    }
