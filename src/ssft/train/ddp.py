"""The training loop's side of DistributedDataParallel (``torchrun --nproc_per_node=N -m ssft fit``).

* **Batches.** Every rank draws the *global* batch (N x ``train.batch_size`` labelled items, and
  the unlabelled and view draws likewise) from the same seeded streams and keeps its own slice
  (:meth:`DataParallel.local`): the slices are disjoint, the run is reproducible, resumes exactly,
  and the global batch is the very batch one process with ``train.batch_size`` x N would draw.
* **Gradients.** The method runs through :class:`~torch.nn.parallel.DistributedDataParallel`
  (head, projector, alignment head, trainable backbone parameters), which averages gradients over
  the ranks; batch-level terms gather the global batch with gradients scaled to match
  (:func:`ssft.distributed.gather`). Discriminators stay out of DDP: they train on the gathered
  global batch against prior samples from a generator seeded alike on every rank, so each rank
  takes the same discriminator step and their weights stay equal without communication.
* **Randomness.** Each rank has its own torch generator (dropout), seeded from the run's seed and
  the rank, and a checkpoint stores every rank's state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ssft.backbones.trainable import backbone_trains
from ssft.distributed import all_gather_object, any_rank, broadcast_module, rank, world_size
from ssft.errors import ConfigError
from ssft.methods import Method


class _TrainStep(nn.Module):
    """``forward(batch) = method.train_step(batch)``, so DDP sees the method's forward pass."""

    def __init__(self, method: Method) -> None:
        super().__init__()
        self.method = method

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return self.method.train_step(batch)


class DataParallel:
    """Per-run DDP state of the loop; with one process every method is the identity."""

    def __init__(self, method: Method, device: torch.device) -> None:
        self.method, self.device = method, device
        self.world, self.rank = world_size(), rank()
        self.module: nn.Module | None = None
        if self.rank:
            # Rank 0 keeps the single-process stream, so one process is unchanged.
            torch.manual_seed(torch.initial_seed() + 7919 * self.rank)

    def local(self, batch: np.ndarray) -> np.ndarray:
        """This rank's slice of a global batch (its length a multiple of the world size)."""
        if self.world == 1:
            return batch
        size = len(batch) // self.world
        return batch[self.rank * size : (self.rank + 1) * size]

    def wrap(self) -> Callable[[dict[str, Any]], dict[str, torch.Tensor]]:
        """``method.train_step``, through DistributedDataParallel when there are several ranks.
        Call after any checkpoint is loaded: DDP starts from rank 0's weights."""
        if self.world == 1:
            return self.method.train_step
        from torch.nn.parallel import DistributedDataParallel as DDP

        for adversary in self.method.adversaries():
            broadcast_module(adversary)  # equal on every rank from the start (see the docstring)
        step = _TrainStep(self.method)
        adversarial = {id(t) for m in self.method.adversaries() for t in [*m.parameters(), *m.buffers()]}
        ignore = [n for n, p in step.named_parameters() if id(p) in adversarial or not p.requires_grad]
        backbone = self.method.model.backbone
        if not backbone_trains(backbone):
            ignore += [f"method.model.backbone.{n}" for n, _ in backbone.named_buffers()]
        ignore += [n for n, b in step.named_buffers() if id(b) in adversarial]
        DDP._set_params_and_buffers_to_ignore_for_model(step, ignore)
        self.module = DDP(
            step,
            device_ids=[self.device.index] if self.device.type == "cuda" else None,
            # Some parameters sit out some steps (a term switched off, an unused bias).
            find_unused_parameters=True,
        )
        return self.module

    def any_rank(self, flag: bool) -> bool:
        return any_rank(flag)

    def rng_states(self, state: dict[str, Any]) -> dict[str, Any]:
        """A checkpoint's RNG fields: this rank's ``state``, plus every rank's under DDP."""
        if self.world == 1:
            return state
        return {**state, "rank_rng": all_gather_object(state), "world_size": self.world}

    def rank_rng_state(self, checkpoint: dict[str, Any]) -> dict[str, Any]:
        """The RNG state this rank resumes from: its own when the checkpoint has one per rank.
        Refuses a checkpoint written by another number of processes: the global batch, the
        steps per epoch and so the schedule depend on it."""
        saved = int(checkpoint.get("world_size", 1))
        if saved != self.world:
            raise ConfigError(
                f"this checkpoint was written by {saved} process(es) and this run has {self.world}; "
                f"resume with the same number (torchrun --nproc_per_node ... x --nnodes ... = {saved})"
            )
        states = checkpoint.get("rank_rng")
        if self.world > 1 and states is not None and len(states) == self.world:
            return states[self.rank]  # type: ignore[no-any-return]
        return checkpoint
