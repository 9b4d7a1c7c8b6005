"""The run directory: everything needed to understand, reproduce and reuse a run.

<out>/config.yaml        resolved config + ssft version + git commit
<out>/split.json         labelled / validation / unlabelled / test indices
<out>/metrics.jsonl      one JSON line per logged step, every loss term separately
<out>/checkpoint.pt      latest training state (atomic; loaded with weights_only=True)
<out>/model.safetensors  final weights (head; backbone too when it was trained)
<out>/results.json       test accuracy and the rest of a result row (the row `ssft table` prints)
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from ssft.fileio import atomic_write_bytes, atomic_write_text
from ssft.version import __version__

__all__ = ["MetricsLog", "atomic_write_bytes", "atomic_write_text", "provenance", "write_json"]


def git_commit() -> str | None:
    """The commit of the ssft source tree, when it is a git checkout (None otherwise)."""
    src = Path(__file__).resolve().parents[3]
    try:
        out = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        timeout=5,
    ).stdout.strip()
    return commit + ("-dirty" if dirty else "")


def provenance() -> dict[str, Any]:
    import torch
    import transformers

    return {
        "ssft_version": __version__,
        "git_commit": git_commit(),
        "torch_version": str(torch.__version__),
        "transformers_version": str(transformers.__version__),
    }


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


class MetricsLog:
    """Append-only JSON lines; on resume, lines past the checkpoint's step are dropped."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def truncate_after(self, step: int) -> None:
        if not self.path.exists():
            return
        keep = []
        for line in self.path.read_text().splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    keep.append(line)
            except json.JSONDecodeError:
                break  # a torn last line from a kill
        atomic_write_text(self.path, "".join(x + "\n" for x in keep))

    def write(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(record, default=_json_default) + "\n")

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(x) for x in self.path.read_text().splitlines() if x.strip()]
