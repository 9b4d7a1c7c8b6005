"""benchmarks/gpu.py stays alive: its quick mode runs on the CPU and writes both result files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu.py"


def test_gpu_benchmark_quick_mode_runs_on_cpu(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    bench.main(["--quick", "--out", str(tmp_path)])
    bench.main(["--quick", "--noop", "--out", str(tmp_path)])  # adds its section, keeps the other
    payload = json.loads((tmp_path / "gpu-quick.json").read_text())
    (row,) = payload["models"]["models"]
    assert row["raw"]["images_per_s"] > 0 and row["extraction"]["images_per_s"] > 0
    assert row["extraction_share"] > 0 and row["training"]["live_step_s"] > 0
    assert payload["noop"]["after"]["extract_ms_per_image"] > 0
    md = (tmp_path / "gpu-quick.md").read_text()
    assert "share of raw" in md and "no-op backbone" in md
