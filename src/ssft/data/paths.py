"""Where a relative data path points.

``data.root=../shared/data/mnist`` is read relative to the current folder. The bundled presets
name folders relative to the ssft source checkout, so when the path does not exist from the current
folder but does from the checkout, the checkout's is used: a preset then works from any folder.
When neither exists, :func:`where_looked` says both places in the error.
"""

from __future__ import annotations

from pathlib import Path


def checkout_root() -> Path:
    """The folder holding ``src/ssft`` (the repository root of a source checkout)."""
    return Path(__file__).resolve().parents[3]


def resolve_data_path(value: str | Path) -> Path:
    path = Path(value).expanduser()
    if path.is_absolute() or path.exists():
        return path
    alt = checkout_root() / path
    return alt if alt.exists() else path


def where_looked(path: Path) -> str:
    """``/abs/path`` plus the checkout alternative, for error messages about a missing path."""
    if path.is_absolute():
        return str(path)
    return f"{path.resolve()} (relative to the current folder) or {(checkout_root() / path).resolve()}"
