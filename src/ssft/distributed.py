"""Running under ``torchrun`` (PyTorch DistributedDataParallel): the process group and the
collectives the training loop and the batch-level loss terms need.

Batch marginals, contrastive negatives, discriminator batches and class statistics must see the
*global* batch, not the shard of one rank. :func:`gather` concatenates a tensor over all ranks;
gradient flows to the local slice only (the other slices get theirs on their own rank).

Gradient scaling. DDP averages gradients over the N ranks. A per-sample mean over the local batch
(cross-entropy) then gives the gradient of the mean over the global batch, as one process with
the N-times larger batch would. A term computed on the gathered global batch is different: every
rank computes the same value, but each back-propagates only through its own slice, so the sum of
the ranks' gradients is the full gradient and DDP's average is 1/N of it. :func:`gather` therefore
multiplies the gradient reaching the local slice by N (the value is unchanged), so that after
DDP's average the gradient is exactly that of the global-batch term.

Without an initialised process group (one process) every function here is the identity.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor

T = TypeVar("T")

#: How long a rank waits in a collective (for example for rank 0 assembling the feature cache, or
#: fitting a classical baseline) before it gives up; ``SSFT_DIST_TIMEOUT`` (seconds) overrides it.
DEFAULT_TIMEOUT_S = 1800


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on rank 0 (and in a single process): the rank that writes files and logs."""
    return rank() == 0


def resume_command(run: object) -> str:
    """The command that resumes run ``run``: under torchrun, torchrun again with as many processes."""
    world = launched_world_size()
    launcher = os.environ.get("SSFT_LAUNCHER")  # set by python -m ssft.launch for its ranks
    if world > 1 and launcher:
        return f"{launcher} fit --resume {run}"
    if world > 1:
        return f"torchrun --nproc-per-node {world} -m ssft fit --resume {run}"
    return f"ssft fit --resume {run}"


def launched_world_size() -> int:
    """The number of processes ``torchrun`` started (``WORLD_SIZE``; 1 when not under it)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


@contextmanager
def process_group() -> Iterator[None]:
    """Initialise the default process group when launched by ``torchrun`` with several processes
    (``env://`` rendezvous: ``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``, ``WORLD_SIZE``), and destroy
    it afterwards. NCCL on CUDA (each process on GPU ``LOCAL_RANK``), gloo otherwise. A no-op in
    a single process or when a group already exists (the caller owns it then)."""
    if launched_world_size() <= 1 or (dist.is_available() and dist.is_initialized()):
        yield
        return
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    timeout = timedelta(seconds=float(os.environ.get("SSFT_DIST_TIMEOUT", DEFAULT_TIMEOUT_S)))
    dist.init_process_group(backend="nccl" if cuda else "gloo", init_method="env://", timeout=timeout)
    try:
        yield
    finally:
        dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """Under DDP, a CUDA device without an index becomes this process's GPU (``LOCAL_RANK``)."""
    if is_distributed() and device.type == "cuda" and device.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; multiplies the incoming gradient by ``factor`` (see the module docstring)."""

    @staticmethod
    def forward(ctx: Any, t: Tensor, factor: float) -> Tensor:
        ctx.factor = factor
        return t.view_as(t)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return grad * ctx.factor, None


def gather(t: Tensor) -> Tensor:
    """Concatenate ``t`` (B, ...) over ranks along dim 0, in rank order; gradient flows to the
    local slice, multiplied by the world size so that DDP's gradient average gives the gradient of
    the global-batch term. Every rank must pass the same B (the loop's per-rank batches are)."""
    if not is_distributed():
        return t
    parts = [torch.empty_like(t) for _ in range(world_size())]
    dist.all_gather(parts, t.detach().contiguous())
    parts[rank()] = _ScaleGrad.apply(t, float(world_size())) if t.requires_grad else t
    return torch.cat(parts)


def mean_over_ranks(values: list[float]) -> list[float]:
    """The element-wise mean of ``values`` over ranks (one all-reduce; logged loss terms)."""
    if not is_distributed() or not values:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return (t / world_size()).tolist()


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on at least one (a stop request)."""
    if not is_distributed():
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def broadcast_object(obj: T) -> T:
    """Rank 0's ``obj`` on every rank (pickled)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]  # type: ignore[no-any-return]


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (a list of one in a single process)."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def run_on_main(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only, the others waiting; every rank returns its result, or raises its
    exception (so an error on rank 0, such as a bad ``--out``, stops every rank with the same
    message instead of leaving them waiting)."""
    if not is_distributed():
        return fn()
    outcome: tuple[bool, Any] = (True, None)
    if is_main():
        try:
            outcome = (True, fn())
        except Exception as e:  # handed to every rank, then raised everywhere
            outcome = (False, e)
    ok, value = broadcast_object(outcome)
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def broadcast_module(module: torch.nn.Module) -> None:
    """Copy rank 0's parameters and buffers into ``module`` on every rank (in place)."""
    if not is_distributed():
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)
