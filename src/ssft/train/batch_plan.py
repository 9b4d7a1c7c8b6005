"""Which items each step trains on: the seeded labelled and unlabelled index streams, the draws of
augmented views, and this rank's slice of every global batch, with a ``state_dict`` of its own.

Under DDP every rank draws the global batch (world x ``train.batch_size``) from the same seeded
streams and keeps its own slice: disjoint per step, and the very batches one process with the
larger batch would draw (:mod:`ssft.train.ddp`).

The index streams run ahead of training when a source decodes ahead (a ``LiveSource`` with
workers); the state saved is the streams' as of the last step actually trained.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from ssft.config import Config
from ssft.data.splits import Split
from ssft.errors import ConfigError
from ssft.methods.base import Method, parse_view_key
from ssft.train.balanced_stream import labeled_stream
from ssft.train.ddp import DataParallel
from ssft.train.streams import FeatureSource, IndexStream, ViewSampler

_Planned = tuple[np.ndarray, np.ndarray | None, dict[str, Any], dict[str, Any] | None]


class BatchPlan:
    """The items of every step of one training phase."""

    def __init__(
        self,
        cfg: Config,
        method: Method,
        split: Split,
        labels: np.ndarray,
        ddp: DataParallel,
        device: torch.device,
    ) -> None:
        tc, seed = cfg.train, cfg.seed
        self.method, self.split, self.labels, self.ddp, self.device = method, split, labels, ddp, device
        self.ulb_batch = tc.batch_size * tc.unlabeled_ratio * ddp.world
        self.lb_stream = labeled_stream(tc, labels[split.labeled], ddp.world, seed * 1000 + 1)
        self.ulb_stream = (
            IndexStream(split.unlabeled.size, self.ulb_batch, seed * 1000 + 2)
            if method.uses_unlabeled and split.unlabeled.size
            else None
        )
        self.view_keys = [(f"x_{key}", *parse_view_key(key)) for key in method.view_keys(method.cfg)]
        self.view_sampler = ViewSampler(seed * 1000 + 3)
        if self.view_keys and self.ulb_stream is None and any(s == "ulb" for _, s, _ in self.view_keys):
            raise ConfigError(f"method {cfg.method.name} reads views of unlabelled items but has none")
        self._planned: deque[_Planned] = deque()
        self._mark_consumed()

    def _mark_consumed(self) -> None:
        self._consumed = (
            self.lb_stream.state_dict(),
            None if self.ulb_stream is None else self.ulb_stream.state_dict(),
        )

    def items(self, start: int, total: int) -> Iterator[tuple[np.ndarray | None, ...]]:
        """The training-part items of steps ``start .. total - 1``, drawn as the source asks."""
        for _ in range(start, total):
            lb = self.ddp.local(self.lb_stream.next())
            ulb = None if self.ulb_stream is None else self.ddp.local(self.ulb_stream.next())
            ulb_state = None if self.ulb_stream is None else self.ulb_stream.state_dict()
            self._planned.append((lb, ulb, self.lb_stream.state_dict(), ulb_state))
            yield self.split.labeled[lb], None if ulb is None else self.split.unlabeled[ulb]

    def batch(self, source: FeatureSource, payload: tuple[Any, ...], step: int, total: int) -> dict[str, Any]:
        """The batch of ``step`` (the next planned one) from the source's ``payload`` for it: the
        labelled and unlabelled features, the labels, and one drawn view per item for every view
        key the method reads (``x_ulb_w``, ``x_ulb_s``, ...)."""
        lb, ulb, lb_state, ulb_state = self._planned.popleft()
        self._consumed = (lb_state, ulb_state)
        method, ddp = self.method, self.ddp
        p_lb, p_ulb = payload
        batch: dict[str, Any] = {
            "x_lb": source.features(p_lb),
            "y_lb": torch.as_tensor(self.labels[self.split.labeled[lb]], device=self.device),
            "x_ulb": source.features(p_ulb) if method.reads_ulb else None,
            "step": step,
            "total_steps": total,
        }
        items = {"lb": self.split.labeled[lb]}
        if ulb is not None:
            items["ulb"] = self.split.unlabeled[ulb]
        for name, stream, kind in self.view_keys:
            drawn = self.view_sampler.draw(len(items[stream]) * ddp.world, kind, source.num_views(kind))
            with torch.set_grad_enabled(name.removeprefix("x_") not in method.target_views):
                batch[name] = source.get_views(items[stream], kind, ddp.local(drawn))
        return batch

    def state_dict(self) -> dict[str, Any]:
        lb, ulb = self._consumed
        state = {"lb_stream": lb, "view_sampler": self.view_sampler.state_dict()}
        if ulb is not None:
            state["ulb_stream"] = ulb
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lb_stream.load_state_dict(state["lb_stream"])
        if self.ulb_stream is not None:
            self.ulb_stream.load_state_dict(state["ulb_stream"])
        self.view_sampler.load_state_dict(state["view_sampler"])
        self._mark_consumed()
