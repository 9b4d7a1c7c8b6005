"""Deployment: an ONNX graph (backbone with LoRA merged + head, returning probabilities), checked
against ssft at export, a Hugging Face style model folder with its card, and an onnxruntime
predictor. Needs ``pip install 'ssft[onnx]'``; see docs/export.md."""

from ssft.export.engine import OnnxPredictor
from ssft.export.folder import export_folder, run_predictor
from ssft.export.inputs import onnx_inputs
from ssft.export.onnx import export_onnx
from ssft.export.verify import ExportError, verify

__all__ = [
    "ExportError",
    "OnnxPredictor",
    "export_folder",
    "export_onnx",
    "onnx_inputs",
    "run_predictor",
    "verify",
]
