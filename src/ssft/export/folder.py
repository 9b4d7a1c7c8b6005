"""A self-describing model folder in the layout Hugging Face Hub repositories use:

model.onnx            the verified graph (:mod:`ssft.export.onnx`)
model.safetensors     the ssft weights (:meth:`ssft.api.Run.export`)
config.yaml           the run's resolved ssft config
config.json           id2label / label2id, modality, backbone, inputs and output
preprocessing.json    what the graph's inputs are and how to make them
tokenizer.json        text models: the tokenizer, with padding and truncation set
results.json, split.json   the run's results and its split
verification.json     onnxruntime against ssft on the run's test items
README.md             the model card (:mod:`ssft.export.card`)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ssft.backbones.base import ImagePreprocess
from ssft.errors import ConfigError
from ssft.export.card import model_card
from ssft.export.engine import OnnxPredictor
from ssft.export.onnx import export_onnx
from ssft.export.verify import TOLERANCE, verify


def preprocessing(run: Any) -> dict[str, Any]:
    """The graph's inputs and how raw items become them."""
    backbone = run.method.model.backbone
    pre = backbone.preprocess
    if isinstance(pre, ImagePreprocess):
        return {
            "modality": "image",
            "inputs": {"pixels": "uint8 (N, size, size, 3), RGB"},
            "size": pre.size,
            "resize": "antialiased bilinear to size x size (PIL Image.resize(..., BILINEAR) is close)",
            "mean": list(pre.mean),
            "std": list(pre.std),
            "normalisation": "done inside the graph: (pixels / 255 - mean) / std",
        }
    return {
        "modality": "text",
        "inputs": {"input_ids": "int64 (N, L)", "attention_mask": "int64 (N, L)"},
        "max_length": pre.max_length,
        "tokenizer": "tokenizer.json (tokenizers.Tokenizer.from_file; padding and truncation set)",
    }


def save_tokenizer(run: Any, path: Path) -> None:
    """The backbone's fast tokenizer as ``tokenizer.json``, padding to the longest item and
    truncating at the run's max_length, as ssft tokenises."""
    tok = run.method.model.backbone.tokenizer
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise ConfigError(f"backbone {run.cfg.backbone.name} has no fast tokenizer to save as tokenizer.json")
    from tokenizers import Tokenizer

    copy = Tokenizer.from_str(backend.to_str())
    copy.enable_truncation(max_length=int(run.method.model.backbone.preprocess.max_length))
    copy.enable_padding(pad_id=int(tok.pad_token_id), pad_token=str(tok.pad_token))
    copy.save(str(path))


def export_folder(run: Any, out: str | Path, *, items: int = 64, tolerance: float = TOLERANCE) -> Path:
    """Write ``run``'s model folder to ``out`` (created; existing files of the same names are
    replaced) after checking the ONNX graph on ``items`` test items; returns ``out``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    onnx_path = export_onnx(run, folder / "model.onnx")
    check = verify(run, onnx_path, items=items, tolerance=tolerance)
    (folder / "verification.json").write_text(json.dumps(check.as_dict(), indent=2) + "\n")
    run.export(folder / "model.safetensors")
    for name in ("config.yaml", "results.json", "split.json"):
        shutil.copyfile(run.dir / name, folder / name)
    pre = preprocessing(run)
    (folder / "preprocessing.json").write_text(json.dumps(pre, indent=2) + "\n")
    if pre["modality"] == "text":
        save_tokenizer(run, folder / "tokenizer.json")
    config = {
        "library_name": "ssft",
        "backbone": run.cfg.backbone.name,
        "method": run.cfg.method.name,
        "modality": pre["modality"],
        "id2label": {str(i): c for i, c in enumerate(run.classes)},
        "label2id": {c: i for i, c in enumerate(run.classes)},
        "output": "probabilities float32 (N, num_classes)",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (folder / "README.md").write_text(model_card(run, check))
    return folder


def run_predictor(run: Any) -> OnnxPredictor:
    """The predictor of a loaded run: its folder ``RUN/onnx`` is exported (and verified) on first
    use, and again when the run's weights are newer than it (a resumed run)."""
    folder = run.dir / "onnx"
    graph, weights = folder / "model.onnx", run.dir / "model.safetensors"
    if not graph.is_file() or graph.stat().st_mtime < weights.stat().st_mtime:
        export_folder(run, folder)
    return OnnxPredictor(folder)
