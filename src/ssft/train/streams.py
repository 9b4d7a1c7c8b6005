"""Seeded, resumable index streams and feature sources for the training loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ssft.backbones.base import Backbone, Features


class IndexStream:
    """An endless stream of batches of positions ``0..n-1``: a new seeded permutation per cycle.

    When ``batch > n`` (1 label per class, batch 64) one batch spans several permutations, so each
    item appears equally often. ``state_dict`` captures the generator and the position, so a
    resumed run draws exactly the batches an uninterrupted one would.
    """

    def __init__(self, n: int, batch: int, seed: int) -> None:
        if n <= 0:
            raise ValueError("IndexStream needs n >= 1")
        self.n, self.batch = n, batch
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(n, generator=self.gen)
        self.pos = 0

    def next(self) -> np.ndarray:
        out = []
        need = self.batch
        while need:
            if self.pos == self.n:
                self.perm = torch.randperm(self.n, generator=self.gen)
                self.pos = 0
            take = min(need, self.n - self.pos)
            out.append(self.perm[self.pos : self.pos + take])
            self.pos += take
            need -= take
        return torch.cat(out).numpy()

    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state(), "perm": self.perm.clone(), "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["gen"])
        self.perm = state["perm"].clone()
        self.pos = int(state["pos"])


class ViewSampler:
    """Seeded, resumable draws of which augmented view each item of a batch gets.

    For a source with ``count`` views of a kind, view ids are uniform over that kind's ids (weak:
    ``0..count-1``, 0 being the item itself; strong: ``1..count``). A source that makes views live
    (``count`` None) gets fresh ids, so every step sees new augmentations.
    """

    def __init__(self, seed: int) -> None:
        self.gen = torch.Generator().manual_seed(seed)

    def draw(self, n: int, kind: str, count: int | None) -> np.ndarray:
        if count is None:
            return torch.randint(1, 2**31 - 1, (n,), generator=self.gen).numpy()
        if count < 1:
            raise ValueError(f"no {kind} views to draw from")
        low = 1 if kind == "strong" else 0
        return torch.randint(low, low + count, (n,), generator=self.gen).numpy()

    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["gen"])


class FeatureSource:
    """Features for items of one part of a dataset, by the part's own indices.

    The training loop asks for whole steps: :meth:`prefetch` turns a stream of steps (a tuple of
    index arrays, or None, per step) into payloads, and :meth:`features` turns one payload into
    Features. Here a payload is the indices themselves; :class:`LiveSource` decodes ahead.
    """

    def get(self, idx: np.ndarray) -> Features:
        raise NotImplementedError

    def num_views(self, kind: str) -> int | None:
        """How many views of ``kind`` there are to sample from (None: made afresh at each call)."""
        raise NotImplementedError(f"{type(self).__name__} has no augmented views")

    def get_views(self, idx: np.ndarray, kind: str, views: np.ndarray) -> Features:
        """Features of view ``views[i]`` of kind ``kind`` of item ``idx[i]``."""
        raise NotImplementedError(f"{type(self).__name__} has no augmented views")

    def prefetch(self, steps: Iterator[tuple[np.ndarray | None, ...]]) -> Iterator[tuple[Any, ...]]:
        return steps

    def features(self, payload: Any) -> Features | None:
        return None if payload is None else self.get(payload)


class CachedSource(FeatureSource):
    """Rows of a :class:`~ssft.features.FeatureStore` built over ``SubsetInputs(part, indices)``."""

    def __init__(self, store: Any, indices: np.ndarray, part_size: int, device: torch.device) -> None:
        self.store, self.device = store, device
        #: cached augmented views 1..V of the same items (``cache.views``), for methods that use them
        self.views: list[CachedSource] = []
        #: cached strong views 1..S of the same items (``cache.strong_views``)
        self.strong: list[CachedSource] = []
        self.row = np.full(part_size, -1, dtype=np.int64)
        self.row[np.asarray(indices, dtype=np.int64)] = np.arange(len(indices))

    def get(self, idx: np.ndarray) -> Features:
        rows = self.row[np.asarray(idx, dtype=np.int64)]
        if (rows < 0).any():
            raise IndexError("item not in the feature cache of this run")
        feats = self.store.get(torch.from_numpy(rows))
        return feats.to(self.device, torch.float32)

    def get_view(self, idx: np.ndarray, view: int) -> Features:
        """Features of augmented view ``view`` (0 = the image itself) of items ``idx``."""
        if view == 0:
            return self.get(idx)
        if not 1 <= view <= len(self.views):
            raise IndexError(f"view {view} is not cached; set cache.views >= {view}")
        return self.views[view - 1].get(idx)

    def num_views(self, kind: str) -> int | None:
        return len(self.views) + 1 if kind == "weak" else len(self.strong)

    def get_views(self, idx: np.ndarray, kind: str, views: np.ndarray) -> Features:
        idx, views = np.asarray(idx, dtype=np.int64), np.asarray(views, dtype=np.int64)
        pool = [self, *self.views] if kind == "weak" else [None, *self.strong]
        if views.size and (views.min() < (0 if kind == "weak" else 1) or views.max() >= len(pool)):
            have = (
                f"cache.views={len(self.views)}"
                if kind == "weak"
                else f"cache.strong_views={len(self.strong)}"
            )
            raise IndexError(f"{kind} view {int(views.max())} is not cached ({have})")
        order = np.argsort(views, kind="stable")
        parts, positions = [], []
        for v in np.unique(views):
            at = order[views[order] == v]
            parts.append(pool[int(v)].get(idx[at]))  # type: ignore[union-attr]
            positions.append(at)
        if not parts:
            return self.get(idx)
        feats = Features.cat(parts)
        inverse = torch.from_numpy(np.argsort(np.concatenate(positions), kind="stable")).to(self.device)
        return feats.index(inverse)


class _StepInputs(torch.utils.data.Dataset):
    """Indexed by one training step (a tuple of index arrays): each array's raw items collated."""

    def __init__(self, inputs: Sequence[Any], collate: Callable[[Sequence[Any]], dict[str, Tensor]]) -> None:
        self.inputs, self.collate = inputs, collate

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, step: tuple[np.ndarray | None, ...]) -> tuple[dict[str, Tensor] | None, ...]:
        return tuple(
            None if idx is None else self.collate([self.inputs[int(i)] for i in idx]) for idx in step
        )


def _as_is(x: Any) -> Any:
    return x


class LiveSource(FeatureSource):
    """Runs the backbone on raw inputs at every call (trainable backbone, or cache disabled).

    During training, ``num_workers`` DataLoader workers decode (and tokenise) the next steps'
    items into pinned memory while the device computes; :meth:`features` copies them without
    blocking and finishes them on the device (:meth:`Backbone.to_device`).
    """

    def __init__(
        self,
        backbone: Backbone,
        inputs: Sequence[Any],
        device: torch.device,
        grad: bool,
        num_workers: int = 0,
        *,
        view_seed: int = 0,
        view_flip: bool = True,
    ) -> None:
        self.backbone, self.inputs, self.device, self.grad = backbone, inputs, device, grad
        self.num_workers = num_workers
        self.view_seed, self.view_flip = view_seed, view_flip

    def num_views(self, kind: str) -> int | None:
        return None  # augmented afresh at every call

    def get_views(self, idx: np.ndarray, kind: str, views: np.ndarray) -> Features:
        from ssft.data.augment import make_view

        raw = [
            make_view(
                self.inputs[int(i)],
                kind=kind,
                seed=self.view_seed,
                item=int(i),
                view=int(v),
                flip=self.view_flip,
            )
            for i, v in zip(idx, views, strict=True)
        ]
        return self.encode(self.backbone.collator()(raw))

    def get(self, idx: np.ndarray) -> Features:
        return self.encode(self.backbone.collator()([self.inputs[int(i)] for i in idx]))

    def encode(self, collated: dict[str, Tensor]) -> Features:
        with torch.set_grad_enabled(self.grad and torch.is_grad_enabled()):
            feats = self.backbone.encode(self.backbone.to_device(collated, self.device))
        return feats.to(self.device, torch.float32)

    def prefetch(self, steps: Iterator[tuple[np.ndarray | None, ...]]) -> Iterator[tuple[Any, ...]]:
        loader = torch.utils.data.DataLoader(
            _StepInputs(self.inputs, self.backbone.collator()),
            sampler=steps,  # type: ignore[arg-type]
            batch_size=None,
            collate_fn=_as_is,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=2 if self.num_workers else None,
            # Its own generator: creating the loader must not move the global RNG (exact resume).
            generator=torch.Generator().manual_seed(0),
        )
        return iter(loader)

    def features(self, payload: Any) -> Features | None:
        return None if payload is None else self.encode(payload)
