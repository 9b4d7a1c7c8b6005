"""The ``train.logger`` key: which experiment trackers a run logs to.

Parsing and checking the value is config-level (an unknown tracker is a config error, found when
the config is read); :mod:`ssft.train.trackers` opens the trackers it names.
"""

from __future__ import annotations

from ssft.errors import ConfigError

TRACKERS = ("tensorboard", "mlflow", "wandb")


def parse_logger(value: str) -> list[str]:
    """``"none"`` -> [], ``"tensorboard,mlflow"`` -> both; unknown names are a ConfigError."""
    names = [n.strip() for n in str(value).split(",") if n.strip()]
    names = [n for n in names if n != "none"]
    bad = [n for n in names if n not in TRACKERS]
    if bad:
        raise ConfigError(
            f"train.logger: unknown logger {bad[0]!r}; choose none, {', '.join(TRACKERS)} "
            "or several joined by commas (train.logger=tensorboard,mlflow)"
        )
    return list(dict.fromkeys(names))
