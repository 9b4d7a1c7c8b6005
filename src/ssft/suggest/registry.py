"""The registry of selection strategies (a leaf module: strategy files import it, nothing else).

A strategy is a function ``(ctx: Context, budget: int, seed: int) -> Picks`` registered under a name;
``needs_predictions`` says whether it reads a trained run's class probabilities (next batch only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ssft.registry import Registry


@dataclass
class Context:
    """What a strategy may look at: pool features and, for a next batch, predictions.

    ``features`` (n, D) float32, L2-normalised rows, one per pool item; ``labeled`` (n,) bool marks
    items already labelled (never picked again); ``probs`` (n, K) class probabilities of a trained
    run on the pool, or None at cold start.
    """

    features: np.ndarray
    labeled: np.ndarray
    probs: np.ndarray | None = None
    cache: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.features.shape[0]
        if self.features.ndim != 2:
            raise ValueError(f"features must be (n, D), got shape {self.features.shape}")
        if self.labeled.shape != (n,):
            raise ValueError(f"labeled must be ({n},) bool, got shape {self.labeled.shape}")
        if self.probs is not None and self.probs.shape[0] != n:
            raise ValueError(f"probs must be ({n}, K), got shape {self.probs.shape}")


@dataclass
class Picks:
    """Positions in the pool (in pick order) and one score per pick (higher = picked for more reason)."""

    index: np.ndarray
    score: np.ndarray


@dataclass(frozen=True)
class Strategy:
    fn: Callable[[Context, int, int], Picks]
    needs_predictions: bool
    help: str


STRATEGIES: Registry[Strategy] = Registry("suggest strategy")


def strategy(name: str, *, needs_predictions: bool = False) -> Callable[[Callable], Callable]:
    """Register ``fn`` under ``name``; its docstring's first line is its help."""

    def deco(fn: Callable[[Context, int, int], Picks]) -> Callable[[Context, int, int], Picks]:
        text = (fn.__doc__ or "").strip().split("\n")[0]
        STRATEGIES.register(name, help=text)(Strategy(fn, needs_predictions, text))
        return fn

    return deco
