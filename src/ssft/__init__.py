"""ssft: semi-supervised fine-tuning of foundation models when labels are scarce.

import ssft
result = ssft.fit("demo", out="runs/demo")
run = ssft.load_run("runs/demo")
"""

from __future__ import annotations

from typing import Any

from ssft import plugins as _plugins
from ssft.version import __version__

__all__ = ["SemiSupervisedClassifier", "__version__", "fit", "labeled_accuracy", "load_config", "load_run"]


def _load_methods() -> None:
    import ssft.methods  # noqa: F401  (each method registers its config class with ssft.config)


# The config layer resolves method.name through this loader; it never imports the methods itself.
_plugins.add_loader(_load_methods)


def __getattr__(name: str) -> Any:
    # Lazy: ``import ssft`` stays fast and does not import torch until it is needed.
    if name in ("fit", "load_run"):
        from ssft import api

        return getattr(api, name)
    if name in ("SemiSupervisedClassifier", "labeled_accuracy"):
        from ssft import estimator

        return getattr(estimator, name)
    if name == "load_config":
        from ssft.config import load_config

        return load_config
    raise AttributeError(f"module 'ssft' has no attribute {name!r}")
