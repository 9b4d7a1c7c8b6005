"""Plug-in loading for the low-level registries, without the registries importing their plug-ins.

A method registers its config class with :mod:`ssft.config` when its module is imported, but the
config layer sits below the methods and must not import them. So the package root adds a loader
here (:func:`add_loader`; ``ssft/__init__.py`` adds the one that imports :mod:`ssft.methods`), and
the registry calls :func:`load_plugins` before it answers a lookup: ``method.name`` resolves, and an
unknown name lists every known one, whichever module parses a config first.
"""

from __future__ import annotations

from collections.abc import Callable

_LOADERS: list[Callable[[], None]] = []


def add_loader(load: Callable[[], None]) -> None:
    """Declare a function that imports a plug-in package so that its members register."""
    if load not in _LOADERS:
        _LOADERS.append(load)


def load_plugins() -> None:
    """Run every loader; each imports its package, so calls after the first cost nothing."""
    for load in list(_LOADERS):
        load()
