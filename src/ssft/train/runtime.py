"""Per-run process state: the device, autocast, random number generators, deterministic algorithms,
peak memory."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from ssft.distributed import local_device
from ssft.errors import ConfigError
from ssft.precision import autocast as precision_autocast


def resolve_device(name: str) -> torch.device:
    """``train.device``: ``auto`` (this rank's GPU when one is visible, else the CPU) or a torch
    device name, checked."""
    if name == "auto":
        if torch.cuda.is_available():
            return local_device(torch.device("cuda"))
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(
            f"train.device={name!r} is not a device; use auto, cpu, cuda, cuda:N or mps"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device asks for CUDA but no GPU is visible; use train.device=cpu or auto")
    return local_device(dev)


def autocast_for(device: torch.device, precision: str) -> Any:
    """The run's autocast context (see :mod:`ssft.precision`, shared with extraction and predict)."""
    return precision_autocast(device, precision)


def rng_state() -> dict[str, Any]:
    """The CPU generator's state and, when CUDA is available, every GPU's (plain tensors, so the
    checkpoint stays loadable with ``weights_only=True``)."""
    state: dict[str, Any] = {"rng": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda_rng"] = list(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured; GPU states only where the same GPUs are visible."""
    torch.set_rng_state(state["rng"])
    cuda = state.get("cuda_rng")
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


@contextmanager
def deterministic(enabled: bool) -> Iterator[None]:
    """Deterministic algorithms where torch has them (a warning, not an error, where it has none),
    cuDNN without autotuning; the previous settings come back afterwards."""
    if not enabled:
        yield
        return
    # cuBLAS is only reproducible with a fixed workspace; it must be set before its first use.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    old = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old[0], warn_only=old[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old[2], old[3]


_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


class PeakMemory:
    """Peak host and GPU memory of one run, not of the whole process.

    At construction the GPU peak counters are reset and, on Linux, the process's peak resident
    set (VmHWM) is reset too (``5`` written to ``/proc/self/clear_refs``). Where that reset is not
    possible the host figure is the process's peak so far, and ``host_scope`` says so.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda" and torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats(self.device)
        self.host_scope = "run" if _reset_host_peak() else "process"

    def read(self) -> dict[str, Any]:
        out: dict[str, Any] = {"peak_host_mb": host_peak_mb(), "peak_host_scope": self.host_scope}
        if self.device.type == "cuda" and torch.cuda.is_available():
            out["peak_gpu_mb"] = torch.cuda.max_memory_allocated(self.device) / 2**20
        return out


def _reset_host_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return host_peak_mb(vmhwm_only=True) is not None


def host_peak_mb(vmhwm_only: bool = False) -> Any:
    """Peak resident memory in MiB: VmHWM where /proc has it, else ``ru_maxrss``."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    if vmhwm_only:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
