"""Building a :class:`~ssft.config.schema.Config` from a nested mapping, checking every key and type.

An unknown key lists the valid ones; a value of the wrong type names the key and the expected type;
YAML's spellings (``1e-3`` read as text, ``no`` read as false) are taken as the user meant them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import types
import typing
from typing import Any, Union

import yaml

from ssft.config.method_registry import method_config_class
from ssft.config.schema import META_KEYS, Config, MethodConfig
from ssft.config.validate import validate
from ssft.errors import ConfigError


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, key: str, f: dataclasses.Field | None) -> Any:
    """Check ``value`` against the annotation ``tp``; convert int -> float where lossless."""
    choices = f.metadata.get("choices") if f is not None else None
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, f)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{key}: bad value {value!r}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if tp is int:
        if key == "data.labels_per_class" and value == "all":
            return -1  # every label the data has (ssft.data.split_notes.ALL_LABELS)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):
            # YAML 1.1 reads "1e-3" as a string; where a number is expected, a number was meant.
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if choices and not isinstance(value, str):
            # YAML reads `no`, `off`, `yes`, `1` as booleans or numbers; a choice written as text
            # must still be accepted as written (cache.device_resident=no).
            value = next(
                (
                    c
                    for c in choices
                    if _as_yaml_scalar(c) == value and type(_as_yaml_scalar(c)) is type(value)
                ),
                value,
            )
        if choices and (not isinstance(value, str) or value not in choices):
            raise ConfigError(f"{key} must be one of {', '.join(choices)}; got {value!r}")
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported config type {tp!r}")  # pragma: no cover


def _as_yaml_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def build_section(cls: type, data: dict[str, Any], prefix: str) -> Any:
    """A config dataclass ``cls`` from the mapping ``data`` (keys checked, values coerced); ``prefix``
    names the section in messages."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = prefix.rstrip(".") or "config"
        raise ConfigError(f"unknown key {prefix}{unknown[0]} in {where}; valid keys: {', '.join(fields)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        tp = hints[name]
        if _is_dataclass_type(tp):
            kwargs[name] = build_section(tp, value or {}, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, tp, f"{prefix}{name}", fields[name])
    return cls(**kwargs)


def from_dict(data: dict[str, Any]) -> Config:
    """Build a :class:`Config` from a nested mapping, checking every key and type."""
    data = {k: v for k, v in (data or {}).items() if k not in META_KEYS}
    method = data.pop("method", None) or {}
    if not isinstance(method, dict):
        raise ConfigError(f"method must be a mapping of method keys, got {method!r}")
    method = dict(method)
    name = method.get("name", MethodConfig.name)
    if not isinstance(name, str):
        raise ConfigError(f"method.name must be a string, got {name!r}")
    cfg = build_section(Config, data, "")
    cfg.method = build_section(method_config_class(name), method, "method.")
    validate(cfg)
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def describe(cls: type = Config, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, help) for every key, for the README's reference and ``ssft config``."""
    rows: list[tuple[str, str, str]] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if _is_dataclass_type(tp):
            rows += describe(tp, f"{prefix}{f.name}.")
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        helptext = f.metadata.get("help", "")
        if f.metadata.get("choices"):
            helptext += f" ({' | '.join(f.metadata['choices'])})"
        rows.append((f"{prefix}{f.name}", repr(default), helptext))
    return rows
