"""Registry of the methods' config classes: ``method.name`` -> the dataclass of the ``method`` section.

Each method registers its class when its module is imported; this module imports no method. A
lookup first runs :func:`ssft.plugins.load_plugins`, whose loaders (added by the package root)
import the methods, so the answer does not depend on which modules happen to be imported already.
"""

from __future__ import annotations

from ssft.config.schema import MethodConfig
from ssft.errors import ConfigError
from ssft.plugins import load_plugins

_METHOD_CONFIGS: dict[str, type[MethodConfig]] = {}


def register_method_config(name: str, cls: type[MethodConfig] = MethodConfig) -> None:
    """Declare the config dataclass of method ``name``."""
    _METHOD_CONFIGS[name] = cls


def method_config_class(name: str) -> type[MethodConfig]:
    """The config dataclass registered for method ``name``; an unknown name lists the known ones."""
    load_plugins()
    try:
        return _METHOD_CONFIGS[name]
    except KeyError:
        known = ", ".join(sorted(_METHOD_CONFIGS))
        raise ConfigError(f"unknown method.name {name!r}; known: {known}") from None


def method_configs() -> dict[str, type[MethodConfig]]:
    """Every registered method name and its config dataclass."""
    load_plugins()
    return dict(_METHOD_CONFIGS)
