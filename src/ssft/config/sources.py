"""Where a config comes from: presets, YAML files (with ``base:``) and ``--set key=value`` overrides.

:func:`load_config` applies them on top of the dataclass defaults, in that order.
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ssft.config.build import from_dict, to_dict
from ssft.config.method_registry import method_config_class
from ssft.config.schema import Config, MethodConfig
from ssft.errors import ConfigError


def preset_names() -> list[str]:
    files = resources.files("ssft.configs").iterdir()
    return sorted(p.name[:-5] for p in files if p.name.endswith(".yaml"))


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where} is not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must hold a mapping of config keys")
    return data


def load_source(source: str | Path) -> dict[str, Any]:
    """Read a preset name or a YAML file into a nested dict (``base:`` presets are merged)."""
    path = Path(source)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        data = _read_yaml(path.read_text(), str(path))
    else:
        res = resources.files("ssft.configs").joinpath(f"{source}.yaml")
        if not res.is_file():
            raise ConfigError(
                f"unknown preset {source!r} (and no such file); presets: {', '.join(preset_names())}"
            )
        data = _read_yaml(res.read_text(), f"preset {source}")
    base = data.pop("base", None)
    if base is not None:
        data = merge(load_source(base), data)
    return data


def preset_grid(source: str | Path | None) -> dict[str, list[str]]:
    """The ``grid:`` of a preset (key -> values), the default grid of ``ssft sweep``."""
    if source is None:
        return {}
    grid = load_source(source).get("grid") or {}
    if not isinstance(grid, dict):
        raise ConfigError(f"{source}: grid must map keys to lists of values")
    return {
        str(k): [
            str(v).lower() if isinstance(v, bool) else str(v) for v in (vs if isinstance(vs, list) else [vs])
        ]
        for k, vs in grid.items()
    }


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_override(text: str) -> dict[str, Any]:
    """``"train.epochs=3"`` -> ``{"train": {"epochs": 3}}``; values are parsed as YAML scalars."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.sub=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, dict | list):
        raise ConfigError(f"override {text!r}: value must be a scalar")
    out: dict[str, Any] = {}
    node = out
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def load_config(source: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then the preset or YAML file ``source``, then each ``key=value`` override."""
    data: dict[str, Any] = load_source(source) if source else {}
    parsed = [parse_override(text) for text in overrides or []]
    new_method = next((p["method"]["name"] for p in reversed(parsed) if "name" in p.get("method", {})), None)
    base_method = (data.get("method") or {}).get("name", MethodConfig.name)
    if new_method is not None and new_method != base_method and isinstance(data.get("method"), dict):
        # An override switched the method (a sweep over method.name): the file's keys that belong
        # to the old method do not apply to the new one. Keys given on the command line still must.
        known = {f.name for f in dataclasses.fields(method_config_class(str(new_method)))}
        data = {**data, "method": {k: v for k, v in data["method"].items() if k in known}}
    for over in parsed:
        data = merge(data, over)
    return from_dict(data)


def dump_yaml(cfg: Config, extra: dict[str, Any] | None = None) -> str:
    data = to_dict(cfg)
    if extra:
        data = {**extra, **data}
    return yaml.safe_dump(data, sort_keys=False)
