"""The Python API the CLI is a thin layer over: ``fit`` takes a config in any form and runs it
(:mod:`ssft.run`); ``load_run`` loads a finished run back (:mod:`ssft.run.loaded`).

import ssft
result = ssft.fit("mnist-offline", out="runs/mnist", overrides=["data.labels_per_class=4"])
print(result.test_accuracy)
run = ssft.load_run("runs/mnist")
labels, probs = run.predict(["digit.png", ...])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssft.config import Config, from_dict, load_config, merge, parse_override, to_dict
from ssft.run.loaded import Prediction, Run, load_run
from ssft.run.runner import RunResult
from ssft.run.runner import fit as _fit

__all__ = ["Prediction", "Run", "RunResult", "fit", "load_run"]


def fit(
    config: Config | str | Path | dict[str, Any] | None = None,
    out: str | Path = "runs/ssft",
    *,
    overrides: Sequence[str] | None = None,
    resume: bool = False,
) -> RunResult:
    """Train and evaluate one run; ``config`` is a Config, a preset name, a YAML path or a dict."""
    if resume:
        return _fit(None, out, resume=True)
    if isinstance(config, Config | dict):
        data = to_dict(config) if isinstance(config, Config) else config
        for text in overrides or []:
            data = merge(data, parse_override(text))
        cfg = from_dict(data)
    else:
        cfg = load_config(config, list(overrides or []))
    return _fit(cfg, out, resume=False)
