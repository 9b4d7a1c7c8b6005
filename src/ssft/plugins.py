"""Loading the plug-ins that register themselves with the low-level registries.

A method registers its config class with :mod:`ssft.config` when its module is imported; the config
layer itself never imports the methods (they are built on it). Whoever parses a whole config from
outside the training code -- the command line, ``ssft.load_config``, the estimator, tests -- calls
:func:`load_plugins` first so that ``method.name`` can be resolved and an unknown name lists the
known ones.
"""

from __future__ import annotations


def load_plugins() -> None:
    """Import every built-in plug-in package so its members are registered (idempotent)."""
    import ssft.methods  # noqa: F401  (each method registers its config class)
