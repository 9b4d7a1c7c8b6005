"""The onnxruntime session every exported graph runs in (CPU, every graph optimisation on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ssft.export.deps import require


def session(path: str | Path, threads: int | None = None) -> Any:
    """An onnxruntime CPU session with every graph optimisation on; ``threads`` intra-op threads
    (None: onnxruntime's default)."""
    ort = require("onnxruntime")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
