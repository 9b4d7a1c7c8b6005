"""Shared helpers of the benchmark scripts: machine description, result files."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> dict[str, Any]:
    import torch

    info = {
        "date": _dt.date.today().isoformat(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "cpu": _cpu_name(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
    }
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def save(name: str, payload: dict[str, Any], markdown: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine(), **payload}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    m = payload["machine"]
    header = (
        f"Machine: {m['cpu']} ({m['cpu_count']} cores{', GPU ' + m['gpu'] if m['gpu'] else ', no GPU'}), "
        f"torch {m['torch']}, {m['date']}.\n\n"
    )
    (RESULTS / f"{name}.md").write_text(header + markdown + "\n")
    print(header + markdown)


def require_shared(sub: str) -> Path:
    path = SHARED / sub
    if not path.exists():
        raise SystemExit(f"{path} is missing: these benchmarks read the offline data in ../shared/data")
    return path
