"""Registry of the methods' config classes: ``method.name`` -> the dataclass of the ``method`` section.

A leaf of the config layer: each method registers its class when its module is imported, so this
module imports no method. Code that parses a config from outside the training code loads the
methods first (:func:`ssft.plugins.load_plugins`).
"""

from __future__ import annotations

from ssft.config.schema import MethodConfig
from ssft.errors import ConfigError

_METHOD_CONFIGS: dict[str, type[MethodConfig]] = {}


def register_method_config(name: str, cls: type[MethodConfig] = MethodConfig) -> None:
    """Declare the config dataclass of method ``name``."""
    _METHOD_CONFIGS[name] = cls


def method_config_class(name: str) -> type[MethodConfig]:
    """The config dataclass registered for method ``name``; an unknown name lists the known ones."""
    if not _METHOD_CONFIGS:
        # A caller parsed a config before any method registered itself: say how to fix that rather
        # than call every method name unknown.
        raise ConfigError(
            f"unknown method.name {name!r}: no method is registered yet "
            "(call ssft.plugins.load_plugins() before parsing a config)"
        )
    try:
        return _METHOD_CONFIGS[name]
    except KeyError:
        known = ", ".join(sorted(_METHOD_CONFIGS))
        raise ConfigError(f"unknown method.name {name!r}; known: {known}") from None
