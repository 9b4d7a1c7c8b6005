"""The run directory: created with its ``config.yaml`` for a fresh run, read back to resume one;
and the metrics log of the ranks that write nothing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from ssft.config import Config, dump_yaml, from_dict
from ssft.errors import ConfigError
from ssft.train.run_dir import MetricsLog, atomic_write_text, provenance


class NullLog(MetricsLog):
    """The metrics log of ranks other than 0 under DDP: writes nothing."""

    def __init__(self) -> None:
        super().__init__(Path(os.devnull))

    def truncate_after(self, step: int) -> None:
        pass

    def write(self, record: dict[str, Any]) -> None:
        pass

    def finish(self, results: dict[str, Any]) -> None:
        pass


def prepare_run_dir(cfg: Config | None, out: str | Path, resume: bool) -> tuple[Config, Path]:
    """The run's config and directory: a fresh one (refused where a run already is), or, with
    ``resume``, the config an earlier start wrote there."""
    run = Path(out)
    if resume:
        path = run / "config.yaml"
        if not path.is_file():
            raise ConfigError(f"cannot resume: {path} does not exist (is {run} a run directory?)")
        data = yaml.safe_load(path.read_text())
        data.pop("provenance", None)
        return from_dict(data), run
    assert cfg is not None
    if (run / "results.json").exists() or (run / "checkpoint.pt").exists():
        raise ConfigError(f"{run} already holds a run; pass --resume to continue it, or choose another --out")
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run / "config.yaml", dump_yaml(cfg, extra={"provenance": provenance()}))
    return cfg, run
