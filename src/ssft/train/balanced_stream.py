"""A seeded, resumable stream of class-balanced labelled batches."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ssft.train.streams import IndexStream


class BalancedStream:
    """Batches of ``batch`` labelled positions made of ``batch // per_class`` classes with
    ``per_class`` items each (the last class of a batch takes the remainder).

    Classes are visited in a seeded permutation, renewed when exhausted, so every class comes
    equally often; within a class, items are visited in their own seeded permutation, so each
    labelled item is drawn equally often. A class with fewer items than ``per_class`` repeats
    them. A contrastive term over the batch then sees same-class pairs in every batch, which a
    uniform draw of 16 items out of 77 classes almost never gives. Same interface as
    :class:`~ssft.train.streams.IndexStream`; ``state_dict`` holds the generator and every
    position, so a resumed run draws the same batches.
    """

    def __init__(self, labels: np.ndarray, batch: int, per_class: int, seed: int) -> None:
        labels = np.asarray(labels)
        if labels.size == 0:
            raise ValueError("BalancedStream needs at least one labelled item")
        if per_class < 1:
            raise ValueError("BalancedStream needs per_class >= 1")
        self.batch, self.per_class = int(batch), int(per_class)
        self.gen = torch.Generator().manual_seed(seed)
        self.members = [np.flatnonzero(labels == c) for c in np.unique(labels)]
        self.class_perm = self._perm(len(self.members))
        self.class_pos = 0
        self.item_perm = [self._perm(len(m)) for m in self.members]
        self.item_pos = [0] * len(self.members)

    def _perm(self, n: int) -> torch.Tensor:
        return torch.randperm(n, generator=self.gen)

    def _next_class(self) -> int:
        if self.class_pos == len(self.members):
            self.class_perm, self.class_pos = self._perm(len(self.members)), 0
        c = int(self.class_perm[self.class_pos])
        self.class_pos += 1
        return c

    def _items(self, c: int, n: int) -> list[int]:
        out = []
        for _ in range(n):
            if self.item_pos[c] == len(self.members[c]):
                self.item_perm[c], self.item_pos[c] = self._perm(len(self.members[c])), 0
            out.append(int(self.members[c][int(self.item_perm[c][self.item_pos[c]])]))
            self.item_pos[c] += 1
        return out

    def next(self) -> np.ndarray:
        out: list[int] = []
        while len(out) < self.batch:
            out += self._items(self._next_class(), min(self.per_class, self.batch - len(out)))
        return np.asarray(out, dtype=np.int64)

    def state_dict(self) -> dict[str, Any]:
        return {
            "gen": self.gen.get_state(),
            "class_perm": self.class_perm.clone(),
            "class_pos": self.class_pos,
            "item_perm": [p.clone() for p in self.item_perm],
            "item_pos": list(self.item_pos),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["gen"])
        self.class_perm = state["class_perm"].clone()
        self.class_pos = int(state["class_pos"])
        self.item_perm = [p.clone() for p in state["item_perm"]]
        self.item_pos = [int(p) for p in state["item_pos"]]


def labeled_stream(tc: Any, labels: np.ndarray, world: int, seed: int) -> Any:
    """The labelled stream a run's ``train`` config asks for: class-balanced batches when
    ``train.labeled_per_class > 0``, else a uniform draw (:class:`IndexStream`)."""
    batch = tc.batch_size * world
    if tc.labeled_per_class > 0:
        return BalancedStream(labels, batch, tc.labeled_per_class, seed)
    return IndexStream(len(labels), batch, seed)
