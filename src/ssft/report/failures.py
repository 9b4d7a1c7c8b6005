"""Runs that failed: a sweep leaves ``error.txt`` (and no ``results.json``) in their folders.

Reports and summaries list them, so a failed run is seen rather than missing from a table.
"""

from __future__ import annotations

from pathlib import Path


def failed_runs(root: str | Path) -> list[tuple[str, str]]:
    """``(run folder relative to root, first line of its error)`` for every failed run below ``root``."""
    root = Path(root)
    out = []
    for err in sorted(root.rglob("error.txt")):
        if (err.parent / "results.json").exists():
            continue  # a later attempt finished
        lines = err.read_text(errors="replace").strip().splitlines()
        name = str(err.parent.relative_to(root)) if err.parent != root else err.parent.name
        out.append((name, lines[0] if lines else "(empty error.txt)"))
    return out


def failures_markdown(failed: list[tuple[str, str]]) -> list[str]:
    """A Markdown section listing failed runs; no lines when none failed."""
    if not failed:
        return []
    lines = [
        f"## Failed runs ({len(failed)})",
        "",
        "Not in the tables above; each folder's error.txt holds the error.",
        "",
    ]
    lines += [f"- `{name}`: {message}" for name, message in failed]
    return [*lines, ""]
