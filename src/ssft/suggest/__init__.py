"""Which items to label: cold-start and next-batch selection on cached frozen features.

``ssft suggest`` (:mod:`ssft.suggest.run`) picks ``N`` items of the unlabelled pool with a strategy of
:data:`STRATEGIES`; each strategy is one file. See docs/suggest.md.
"""

from ssft.errors import ConfigError
from ssft.suggest import badge, margin, margin_coverage, probcover, random, typiclust  # noqa: F401
from ssft.suggest.registry import STRATEGIES, Context, Picks

#: the strategy used when none is named: with no label yet, and with a trained run
COLD_START_DEFAULT = "typiclust"
NEXT_BATCH_DEFAULT = "margin_coverage"


def select(ctx: Context, budget: int, seed: int, name: str | None = None) -> Picks:
    """``budget`` pool positions from strategy ``name`` (default: cold-start or next-batch default)."""
    if budget < 1:
        raise ConfigError(f"budget must be >= 1, got {budget}")
    free = int((~ctx.labeled).sum())
    if budget > free:
        raise ConfigError(f"budget {budget} is larger than the {free} unlabelled items of the pool")
    if name is None:
        name = COLD_START_DEFAULT if ctx.probs is None else NEXT_BATCH_DEFAULT
    picks = STRATEGIES.get(name).fn(ctx, budget, seed)
    if (
        len(picks.index) != budget
        or ctx.labeled[picks.index].any()
        or len(set(picks.index.tolist())) != budget
    ):
        raise RuntimeError(f"strategy {name} returned an invalid pick list")  # a bug, not bad input
    return picks


__all__ = ["COLD_START_DEFAULT", "NEXT_BATCH_DEFAULT", "STRATEGIES", "Context", "Picks", "select"]
