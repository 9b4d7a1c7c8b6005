"""ssft: semi-supervised fine-tuning of foundation models when labels are scarce.

import ssft
result = ssft.fit("demo", out="runs/demo")
run = ssft.load_run("runs/demo")
"""

from __future__ import annotations

from typing import Any

from ssft.version import __version__

__all__ = ["SemiSupervisedClassifier", "__version__", "fit", "labeled_accuracy", "load_config", "load_run"]


def __getattr__(name: str) -> Any:
    # Lazy: ``import ssft`` stays fast and does not import torch until it is needed.
    if name in ("fit", "load_run"):
        from ssft import api

        return getattr(api, name)
    if name in ("SemiSupervisedClassifier", "labeled_accuracy"):
        from ssft import estimator
        from ssft.plugins import load_plugins

        load_plugins()  # the estimator's parameters are the registered methods' config keys

        return getattr(estimator, name)
    if name == "load_config":
        from ssft.config import load_config
        from ssft.plugins import load_plugins

        load_plugins()  # so that method.name resolves to the method's config class
        return load_config
    raise AttributeError(f"module 'ssft' has no attribute {name!r}")
