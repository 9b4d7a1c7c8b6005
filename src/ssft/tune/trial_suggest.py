"""The bridge from a search space to one Optuna trial: each key a space asks for is drawn by the
trial, unless the user pinned it with ``--set``, and the drawn values become ``--set`` overrides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ssft.config import Config, parse_override
from ssft.errors import ConfigError


def flat_keys(overrides: Sequence[str]) -> set[str]:
    """The dotted keys that ``key=value`` overrides set (``train.lr=0.1`` -> ``train.lr``)."""
    keys = set()
    for text in overrides:
        node, parts = parse_override(text), []
        while isinstance(node, dict):
            ((k, node),) = node.items()
            parts.append(k)
        keys.add(".".join(parts))
    return keys


def _get(cfg: Config, key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, float) else str(value)


class TrialSuggest:
    """The :class:`~ssft.tune.spaces.Suggest` of one Optuna trial.

    A key the user pinned with ``--set`` is not searched: its value is the pinned one.
    """

    def __init__(self, trial: Any, cfg: Config, pinned: set[str]) -> None:
        self.trial, self.cfg, self.pinned = trial, cfg, pinned
        self.overrides: list[str] = []

    def _ask(self, key: str, draw: Any) -> Any:
        try:
            value = _get(self.cfg, key)
        except AttributeError:
            raise ConfigError(
                f"search space asks for {key}, which is not a key of method {self.cfg.method.name}"
            ) from None
        if key in self.pinned:
            return value
        value = draw()
        self.overrides.append(f"{key}={_format(value)}")
        return value

    def real(self, key: str, low: float, high: float, *, log: bool = False) -> float:
        return self._ask(key, lambda: self.trial.suggest_float(key, low, high, log=log))

    def integer(self, key: str, low: int, high: int, *, log: bool = False) -> int:
        return self._ask(key, lambda: self.trial.suggest_int(key, low, high, log=log))

    def choice(self, key: str, options: Sequence[Any]) -> Any:
        return self._ask(key, lambda: self.trial.suggest_categorical(key, list(options)))
