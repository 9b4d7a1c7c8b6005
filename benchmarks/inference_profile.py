"""Where MiniLM's CPU prediction time goes, in torch eager and in onnxruntime (issue 25).

    python benchmarks/inference_profile.py [--threads 1] [--length 64] [--reps 5]

The model and items of ``benchmarks/inference.py`` (all-MiniLM-L6-v2 and a fresh head, real AG News
texts filling the length, batch 64). Each engine is profiled over ``--reps`` calls after a warm-up:
torch with ``torch.profiler`` (self CPU time per operator), onnxruntime with its own session
profiler (time per graph node, grouped by operator type). The matrix products are the linear
layers (torch ``addmm``/``mm``/``linear``; ORT ``MatMul``/``Gemm``/``FusedMatMul``) and attention's
two products (inside torch's fused ``scaled_dot_product_attention``; ORT ``MatMul`` too).

The bound: whatever onnxruntime does elsewhere, it cannot predict faster than its own matrix
products allow, so its speed-up over torch eager is at most ``torch total / ORT matrix-product
time``. Writes ``benchmarks/results/inference_profile.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save  # noqa: E402
from inference import agnews_items, fresh_run  # noqa: E402
from ssft.export import export_onnx, onnx_inputs  # noqa: E402
from ssft.export.graph import build_graph  # noqa: E402

TORCH_GEMM = ("aten::addmm", "aten::mm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear")
ORT_GEMM = ("MatMul", "Gemm", "FusedMatMul", "MatMulInteger", "FusedGemm")


def torch_profile(graph: Any, tin: list[torch.Tensor], reps: int) -> dict[str, Any]:
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode():
        graph(*tin)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            t = time.perf_counter()
            for _ in range(reps):
                graph(*tin)
            wall = (time.perf_counter() - t) / reps
    self_us: dict[str, float] = defaultdict(float)
    for e in prof.key_averages():
        self_us[e.key] += e.self_cpu_time_total
    total = sum(self_us.values())
    gemm = sum(v for k, v in self_us.items() if k in TORCH_GEMM)
    attn = sum(v for k, v in self_us.items() if "scaled_dot_product" in k or "flash_attention" in k)
    top = sorted(self_us.items(), key=lambda kv: -kv[1])[:8]
    return {"wall_s": wall, "gemm_share": gemm / total, "attention_share": attn / total,
            "top": [(k, round(v / total, 3)) for k, v in top]}  # fmt: skip


def ort_profile(path: Path, feeds: dict[str, Any], threads: int, reps: int) -> dict[str, Any]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    plain = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    plain.run(None, feeds)
    t = time.perf_counter()
    for _ in range(reps):
        plain.run(None, feeds)
    wall = (time.perf_counter() - t) / reps  # without the profiler's own cost
    opts.enable_profiling = True
    opts.profile_file_prefix = str(path.with_suffix(""))
    s = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    s.run(None, feeds)
    for _ in range(reps):
        s.run(None, feeds)
    events = json.loads(Path(s.end_profiling()).read_text())
    by_type: dict[str, float] = defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            by_type[e.get("args", {}).get("op_name", "?")] += e["dur"]
    total = sum(by_type.values())
    gemm = sum(v for k, v in by_type.items() if k in ORT_GEMM)
    top = sorted(by_type.items(), key=lambda kv: -kv[1])[:8]
    return {"wall_s": wall, "gemm_share": gemm / total, "top": [(k, round(v / total, 3)) for k, v in top]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--length", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        run = fresh_run("agnews-minilm", [f"backbone.max_length={args.length}"], Path(tmp))
        items = agnews_items(args.batch)
        path = export_onnx(run, Path(tmp) / "minilm.onnx")
        graph = build_graph(run)
        feeds = onnx_inputs(run, items)
        tin = [torch.from_numpy(feeds[k]) for k in graph.input_names]
        tp = torch_profile(graph, tin, args.reps)
        op = ort_profile(path, feeds, args.threads, args.reps)
    ort_gemm_s = op["wall_s"] * op["gemm_share"]
    bound = tp["wall_s"] / ort_gemm_s
    payload = {"args": vars(args), "torch": tp, "ort": op, "measured_ratio": tp["wall_s"] / op["wall_s"],
               "bound": bound}  # fmt: skip
    lines = [
        f"Command: `python benchmarks/inference_profile.py {' '.join(sys.argv[1:])}` (all-MiniLM-L6-v2 + head, "
        f"batch {args.batch}, {args.length} tokens, {args.threads} thread(s)).",
        "",
        "| engine | seconds per batch | matrix products (share of operator time) | largest operators |",
        "|---|---|---|---|",
        f"| torch eager | {tp['wall_s']:.3f} | {tp['gemm_share']:.0%} linear layers + {tp['attention_share']:.0%} "
        f"fused attention | {', '.join(f'{k} {v:.0%}' for k, v in tp['top'][:5])} |",
        f"| onnxruntime | {op['wall_s']:.3f} | {op['gemm_share']:.0%} (linear layers and attention) | "
        f"{', '.join(f'{k} {v:.0%}' for k, v in op['top'][:5])} |",
        "",
        f"Measured onnxruntime / torch speed: {payload['measured_ratio']:.2f}x. Upper bound for any "
        f"onnxruntime graph that keeps these fp32 matrix products: torch's time / ORT's matrix-product "
        f"time = {tp['wall_s']:.3f} / {ort_gemm_s:.3f} = {bound:.2f}x.",
    ]
    save(f"inference_profile_t{args.threads}", payload, "\n".join(lines))


if __name__ == "__main__":
    main()
