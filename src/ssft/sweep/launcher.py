"""Where a sweep's runs are launched: in this process, or as scheduler jobs through ``submitit``.

The ``launcher.*`` keys belong to ``ssft sweep`` alone (a run's config never holds them): they
come from a grid preset's ``launcher:`` section and from ``--set launcher.KEY=VALUE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ssft.config import build_section, choice, describe, doc, load_source, parse_override
from ssft.errors import ConfigError, SsftError

PREFIX = "launcher."


@dataclass
class LauncherConfig:
    name: str = choice(
        "local",
        "local",
        "submitit",
        help="local: the runs one after the other in this process; submitit: scheduler jobs",
    )
    cluster: str = choice(
        "slurm", "slurm", "local", help="submitit: SLURM (sbatch), or processes on this machine"
    )
    runs_per_job: int = doc(1, "submitit: runs trained one after the other in each job")
    partition: str | None = doc(None, "SLURM partition (sbatch --partition)")
    time_min: int = doc(60, "time limit of each job in minutes (sbatch --time)")
    gpus_per_job: int = doc(0, "GPUs of each job (sbatch --gpus-per-node)")
    cpus_per_job: int | None = doc(None, "CPU cores of each job (sbatch --cpus-per-task)")
    mem_gb: float | None = doc(None, "memory of each job in GB (sbatch --mem)")
    account: str | None = doc(None, "SLURM account charged (sbatch --account)")
    qos: str | None = doc(None, "SLURM quality of service (sbatch --qos)")
    max_parallel: int | None = doc(None, "SLURM: most jobs of the sweep running at once")
    slurm_extra: str | None = doc(
        None, "more sbatch options as key=value,key=value (constraint=a100,exclude=node7)"
    )
    setup: str | None = doc(
        None,
        "shell lines run before each job, separated by ';' (module load cuda; source .venv/bin/activate)",
    )
    poll_s: float = doc(30.0, "seconds between progress checks while waiting for the jobs")


INSTALL_HINT = "pip install 'ssft[submitit]'"


def import_submitit() -> ModuleType:
    try:
        import submitit
    except ImportError:
        raise SsftError(
            f"ssft sweep --launcher submitit needs the submitit package: {INSTALL_HINT}"
        ) from None
    return submitit


def launcher_config(
    source: str | Path | None, overrides: list[str], launcher: str | None = None
) -> LauncherConfig:
    """The preset's ``launcher:`` section, then ``launcher.*`` overrides, then ``--launcher``
    (``local``, ``submitit`` or ``submitit-local``, the last with ``cluster=local``)."""
    data: dict[str, Any] = {}
    if source is not None:
        section = load_source(source).get("launcher") or {}
        if not isinstance(section, dict):
            raise ConfigError(f"{source}: launcher must map launcher keys to values")
        data.update(section)
    for text in overrides:
        data.update(parse_override(text.removeprefix(PREFIX)))
    if launcher is not None:
        known = ("local", "submitit", "submitit-local")
        if launcher not in known:
            raise ConfigError(f"--launcher must be one of {', '.join(known)}; got {launcher!r}")
        data["name"] = "submitit" if launcher.startswith("submitit") else "local"
        if launcher == "submitit-local":
            data["cluster"] = "local"
    cfg = build_section(LauncherConfig, data, PREFIX)
    checks = [
        (cfg.runs_per_job >= 1, "launcher.runs_per_job must be >= 1"),
        (cfg.time_min >= 1, "launcher.time_min must be >= 1"),
        (cfg.gpus_per_job >= 0, "launcher.gpus_per_job must be >= 0"),
        (cfg.poll_s > 0, "launcher.poll_s must be > 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    slurm_extra(cfg)  # a malformed value fails now, not at submission
    return cfg


def split_overrides(overrides: list[str]) -> tuple[list[str], list[str]]:
    """``--set`` values of a sweep: (the runs' own keys, the ``launcher.*`` keys)."""
    runs = [o for o in overrides if not o.strip().startswith(PREFIX)]
    return runs, [o.strip() for o in overrides if o.strip().startswith(PREFIX)]


def slurm_extra(cfg: LauncherConfig) -> dict[str, str]:
    extra: dict[str, str] = {}
    for item in (cfg.slurm_extra or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"launcher.slurm_extra entry {item.strip()!r} must look like key=value "
                "(an sbatch option without its dashes: constraint=a100)"
            )
        extra[key.strip().replace("-", "_")] = value.strip()
    return extra


def slurm_parameters(cfg: LauncherConfig) -> dict[str, Any]:
    """``submitit.SlurmExecutor`` parameters (its own names) for ``cfg``."""
    params: dict[str, Any] = {"job_name": "ssft-sweep", "time": cfg.time_min}
    optional = {
        "partition": cfg.partition,
        "gpus_per_node": cfg.gpus_per_job or None,
        "cpus_per_task": cfg.cpus_per_job,
        "mem": f"{int(cfg.mem_gb * 1024)}MB" if cfg.mem_gb is not None else None,
        "account": cfg.account,
        "qos": cfg.qos,
        "array_parallelism": cfg.max_parallel,
        "additional_parameters": slurm_extra(cfg) or None,
        "setup": setup_lines(cfg) or None,
    }
    params.update({k: v for k, v in optional.items() if v is not None})
    return params


def setup_lines(cfg: LauncherConfig) -> list[str]:
    return [line.strip() for line in (cfg.setup or "").split(";") if line.strip()]


def make_executor(cfg: LauncherConfig, folder: Path) -> Any:
    """A submitit executor writing its job files and logs to ``folder``."""
    submitit = import_submitit()
    if cfg.cluster == "local":
        executor = submitit.LocalExecutor(folder=folder)
        params: dict[str, Any] = {"timeout_min": cfg.time_min, "gpus_per_node": cfg.gpus_per_job}
        if setup_lines(cfg):
            params["setup"] = setup_lines(cfg)
        executor.update_parameters(**params)
        return executor
    try:
        executor = submitit.SlurmExecutor(folder=folder)
    except RuntimeError as e:
        raise SsftError(
            f"launcher.cluster=slurm: {e} Run the sweep on a SLURM login node, or use "
            "--launcher submitit-local to run the jobs as processes of this machine"
        ) from None
    executor.update_parameters(**slurm_parameters(cfg))
    return executor


def reference() -> list[tuple[str, str, str]]:
    """(key, default, help) of every ``launcher.*`` key, for ``ssft config --reference``."""
    return describe(LauncherConfig, PREFIX)
