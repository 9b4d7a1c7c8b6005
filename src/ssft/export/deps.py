"""The optional libraries an ONNX export needs, imported with one clear message when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from ssft.errors import ConfigError

INSTALL = "pip install 'ssft[onnx]'"


def require(name: str) -> ModuleType:
    """Import ``name`` (``onnx``, ``onnxruntime`` or ``onnxscript``) or raise a ConfigError that
    says how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(
            f"ONNX export and prediction need the {name} package, which is not installed; run: {INSTALL}"
        ) from exc
