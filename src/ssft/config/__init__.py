"""Typed configuration: dataclasses hold every default, presets and ``--set`` only override.

A config is a tree of dataclasses (:mod:`~ssft.config.schema`). YAML presets
(``src/ssft/configs/*.yaml``) and command-line overrides (``--set train.epochs=3``) are applied on
top of the defaults (:mod:`~ssft.config.sources`); an unknown key or a value of the wrong type is a
:class:`~ssft.errors.ConfigError` that lists the valid keys or choices (:mod:`~ssft.config.build`).

The ``method`` section's dataclass depends on ``method.name``: each method registers its own
config class (see :func:`register_method_config`), so ``method.style_dim`` is a key of
``content_style`` and an error for ``twinturbo``. The methods register when they are imported, which
a lookup triggers through :mod:`ssft.plugins`; this package never imports them.
"""

from ssft.config.build import build_section, describe, from_dict, to_dict
from ssft.config.logger_spec import TRACKERS, parse_logger
from ssft.config.method_registry import method_config_class, method_configs, register_method_config
from ssft.config.schema import (
    META_KEYS,
    BackboneConfig,
    CacheConfig,
    Config,
    DataConfig,
    MethodConfig,
    ModelConfig,
    TrainConfig,
    choice,
    doc,
)
from ssft.config.sources import (
    dump_yaml,
    load_config,
    load_source,
    merge,
    parse_override,
    preset_grid,
    preset_names,
)
from ssft.config.validate import validate
from ssft.errors import ConfigError  # the error every check here raises

__all__ = [
    "META_KEYS",
    "TRACKERS",
    "BackboneConfig",
    "CacheConfig",
    "Config",
    "ConfigError",
    "DataConfig",
    "MethodConfig",
    "ModelConfig",
    "TrainConfig",
    "choice",
    "describe",
    "doc",
    "dump_yaml",
    "from_dict",
    "load_config",
    "load_source",
    "merge",
    "build_section",
    "method_config_class",
    "method_configs",
    "parse_logger",
    "parse_override",
    "preset_grid",
    "preset_names",
    "register_method_config",
    "to_dict",
    "validate",
]
