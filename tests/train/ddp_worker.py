"""One rank of a two-process ``ssft fit`` for tests/train/test_ddp.py (not a test module itself).

Under ``torchrun``: ``python -m torch.distributed.run --standalone --nproc_per_node=N
ddp_worker.py SPEC``; forked from the test process: :func:`run` with the rendezvous variables set.
SPEC is a JSON object: ``out``, ``overrides`` (``--set`` strings on top of the ``demo`` preset),
``resume``, ``cache`` (``SSFT_CACHE``), ``fail_at_step`` (rank ``fail_rank``, default 1, raises at
that step of method ``method``, default twinturbo), ``signal_at_step`` (that rank sends itself
SIGTERM at that step), ``audit`` (a path prefix: each rank writes the
files it opened for writing inside ``out`` to ``<audit>.<rank>.json``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any


def run(spec: dict[str, Any]) -> None:
    rank = int(os.environ.get("RANK", "0"))
    if spec.get("cache"):
        os.environ["SSFT_CACHE"] = spec["cache"]
    run_dir = os.path.abspath(spec["out"])
    written: list[str] = []

    def audit(event: str, args: tuple) -> None:
        # Every file this process opens for writing (or renames into place) in the run directory.
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and bool(flags & (os.O_WRONLY | os.O_RDWR))
            )
        elif event in ("os.rename", "os.replace"):
            path, writing = args[1], True
        else:
            return
        if writing and isinstance(path, str | os.PathLike):
            full = os.path.abspath(os.fspath(path))
            if full.startswith(run_dir):
                written.append(os.path.relpath(full, run_dir))

    if spec.get("audit"):
        sys.addaudithook(audit)

    import ssft
    from ssft.methods.base import METHODS

    fail_at, signal_at = spec.get("fail_at_step"), spec.get("signal_at_step")
    if (fail_at is not None or signal_at is not None) and rank == spec.get("fail_rank", 1):
        cls = METHODS.get(spec.get("method", "twinturbo"))
        original = cls.train_step

        def failing(self, batch):  # type: ignore[no-untyped-def]
            if batch["step"] == fail_at:
                raise RuntimeError(f"injected failure on rank {rank} at step {fail_at}")
            if batch["step"] == signal_at:
                os.kill(os.getpid(), signal.SIGTERM)  # as a scheduler stopping the job would
            return original(self, batch)

        cls.train_step = failing  # type: ignore[method-assign]

    try:
        if spec.get("resume"):
            ssft.fit(out=spec["out"], resume=True)
        else:
            ssft.fit("demo", out=spec["out"], overrides=spec["overrides"])
    finally:
        if spec.get("audit"):
            with open(f"{spec['audit']}.{rank}.json", "w") as f:
                json.dump(sorted(set(written)), f)


if __name__ == "__main__":
    run(json.loads(sys.argv[1]))
