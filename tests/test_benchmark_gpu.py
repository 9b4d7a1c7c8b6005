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


def test_step_times_leave_the_first_runs_one_time_costs_out(tmp_path, monkeypatch):
    """A process's one-time costs land in the first training loop it runs; the per-step figure
    must not subtract them from the longer run (that once made a pipeline look 7x cheaper)."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    calls: list[int] = []

    class Result:
        def __init__(self, seconds: float) -> None:
            self.results = {"train_seconds": seconds}

    def fake_fit(cfg, out):
        calls.append(cfg.train.steps)
        once = 10.0 if len(calls) == 1 else 0.0  # lazy imports, first kernel calls
        return Result(once + 0.5 + 0.2 * cfg.train.steps)  # start-up 0.5 s, 0.2 s a step

    monkeypatch.setattr("ssft.run.runner.fit", fake_fit)
    wall, cpu = bench.step_times([], (1, 6), tmp_path)
    assert abs(wall - 0.2) < 1e-9
    assert calls[-2:] == [1, 6]
