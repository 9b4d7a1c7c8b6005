"""Installed by ``benchmarks/stress_runs.py`` (on ``PYTHONPATH``) in the processes of a run whose
kill is aimed at the cache: each write of a cache entry's data waits ``STRESS_WAIT_S`` seconds, so
that the phase lasts long enough to be hit. ``STRESS_WAIT_ON=assembly``: the writes that assemble
a sharded entry from its parts; ``extraction``: the writes of extraction (a part's or an entry's
data files). Writes of checkpoints and of the run directory never wait; no result changes."""

import os
import time
from pathlib import Path

_WAIT = float(os.environ.get("STRESS_WAIT_S", "0"))
_ON = os.environ.get("STRESS_WAIT_ON", "")
_DATA = ("pooled.f16", "tokens.f16", "mask.u8")


def _hook(path: Path, nbytes: int) -> None:
    entry = path.parent
    if _ON == "assembly":
        slow = "-part" not in entry.name and (entry.parent / f"{entry.name}-part0of2").is_dir()
    else:
        slow = path.name in _DATA and not (entry.parent / f"{entry.name}-part0of2").is_dir()
    if slow:
        time.sleep(_WAIT)


if _WAIT > 0 and _ON:
    from ssft import fileio

    fileio.write_hook = _hook
