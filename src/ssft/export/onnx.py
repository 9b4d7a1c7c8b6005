"""Write a run's export graph (:mod:`ssft.export.graph`) as one ONNX file with a dynamic batch."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import torch

from ssft.export.deps import require
from ssft.export.graph import build_graph
from ssft.export.inputs import onnx_inputs

#: ONNX operator set the export targets (onnxruntime 1.17 and later run it)
OPSET = 18


def _example_items(run: Any) -> list[Any]:
    backbone = run.method.model.backbone
    if backbone.modality == "image":
        s = backbone.preprocess.size
        rng = torch.Generator().manual_seed(0)
        return [torch.randint(0, 256, (s, s, 3), generator=rng, dtype=torch.uint8).numpy() for _ in range(2)]
    return ["an example text to trace the graph", "and a second, longer one to give the batch padding"]


def export_onnx(run: Any, path: str | Path) -> Path:
    """Write ``run``'s model (backbone with LoRA merged + head, returning probabilities) to ``path``.

    Inputs: ``pixels`` uint8 (N, S, S, 3), or ``input_ids`` and ``attention_mask`` int64 (N, L);
    output: ``probabilities`` float32 (N, K). N (and L for text) may take any value."""
    require("onnx")
    require("onnxscript")
    graph = build_graph(run)
    example = {k: torch.from_numpy(v) for k, v in onnx_inputs(run, _example_items(run)).items()}
    batch = torch.export.Dim("batch", min=1)
    dims: dict[str, Any] = {"pixels": {0: batch}}
    if "input_ids" in example:
        length = torch.export.Dim("length", min=2, max=run.method.model.backbone.preprocess.max_length)
        dims = {k: {0: batch, 1: length} for k in example}
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    log = logging.getLogger("torch.onnx")
    level = log.level
    log.setLevel(logging.ERROR)  # the exporter logs every optional op library it does not find
    try:
        program = _export(graph, example, dims)
    finally:
        log.setLevel(level)
    program.save(str(out), external_data=False)
    return out


def _export(graph: Any, example: dict[str, torch.Tensor], dims: dict[str, Any]) -> Any:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            graph,
            tuple(example[k] for k in graph.input_names),
            input_names=list(graph.input_names),
            output_names=["probabilities"],
            dynamic_shapes=tuple(dims[k] for k in graph.input_names),
            opset_version=OPSET,
            dynamo=True,
            verbose=False,
        )
    assert program is not None
    return program
