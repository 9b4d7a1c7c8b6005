"""A finished run loaded back from its directory: the config, the split, the results and a
ready-to-use predictor (:func:`load_run`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from ssft.config import Config, from_dict
from ssft.errors import ConfigError, DataError
from ssft.precision import autocast
from ssft.train.predict import encode_raw
from ssft.train.runtime import resolve_device


@dataclass
class Prediction:
    labels: np.ndarray  # (n,) class indices
    probabilities: np.ndarray  # (n, K)
    classes: list[str]

    @property
    def names(self) -> list[str]:
        return [self.classes[i] for i in self.labels]


class Run:
    """A finished run loaded back: its config, split, results and a ready-to-use predictor."""

    def __init__(
        self, run_dir: Path, cfg: Config, method: Any, classes: list[str], device: torch.device
    ) -> None:
        self.dir, self.cfg, self.method, self.classes, self.device = run_dir, cfg, method, classes, device

    @property
    def results(self) -> dict[str, Any]:
        import json

        return json.loads((self.dir / "results.json").read_text())

    def predict(self, inputs: Sequence[Any], batch_size: int = 64, engine: str = "torch") -> Prediction:
        """Class probabilities for raw inputs: image paths, uint8 arrays, or texts; ``engine="onnx"``
        runs the run's verified ONNX export (``RUN/onnx``, made on first use) in onnxruntime."""
        from ssft.data.base import read_image

        if engine == "onnx":
            from ssft.export.folder import run_predictor

            p = run_predictor(self).predict_proba(list(inputs), batch_size)
            return Prediction(p.argmax(1), p, self.classes)
        if engine != "torch":
            raise ConfigError(f"unknown prediction engine {engine!r}; use 'torch' or 'onnx'")

        backbone = self.method.model.backbone
        raw: list[Any] = []
        for x in inputs:
            if backbone.modality == "image" and isinstance(x, str | Path):
                raw.append(read_image(Path(x)))
            elif backbone.modality == "text" and not isinstance(x, str):
                raise DataError(f"this run's backbone reads text; got {type(x).__name__}")
            else:
                raw.append(x)
        if not raw:
            return Prediction(np.zeros(0, dtype=np.int64), np.zeros((0, len(self.classes))), self.classes)
        precision = self.cfg.train.precision
        feats = encode_raw(backbone, raw, self.device, batch_size, precision)
        if self.cfg.backbone.frozen and self.cfg.cache.enabled:
            # The head was trained on cached features: give it the same (float16, reduced) view.
            from ssft.features import as_cached

            feats = as_cached(
                feats,
                store=self.cfg.cache.store,
                grid=self.cfg.cache.grid,
                num_prefix_tokens=backbone.num_prefix_tokens,
            )
        self.method.eval()
        with torch.no_grad(), autocast(self.device, precision):
            probs = []
            for s in range(0, len(feats), batch_size):
                probs.append(
                    self.method.probabilities(
                        feats.index(slice(s, s + batch_size)).to(self.device, torch.float32)
                    ).cpu()
                )
        p = torch.cat(probs).float().numpy()
        return Prediction(p.argmax(1), p, self.classes)

    def merge_lora(self) -> int:
        """Fold the run's LoRA adapters into its backbone weights, in place, for export: the
        backbone becomes a plain one (original parameter names, no peft needed to run it) and
        predicts as before up to float rounding. Returns the number of layers merged (0 when the
        run trained no adapters)."""
        from ssft.backbones.lora import has_lora, merge_lora

        backbone = self.method.model.backbone
        return merge_lora(backbone) if has_lora(backbone) else 0

    def export(self, path: str | Path) -> Path:
        """Write the whole model (backbone, adapters merged, + head) as one safetensors file.

        Its ``model.backbone.*`` tensors carry the backbone's own parameter names, so
        ``build_backbone(cfg.backbone).load_state_dict`` reads them without peft."""
        from safetensors.torch import save_file

        self.merge_lora()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        state = self.method.state_dict()
        tensors = {
            k: v.detach().cpu().contiguous().clone() for k, v in state.items() if isinstance(v, torch.Tensor)
        }
        save_file(tensors, str(out), metadata={"format": "ssft-export"})
        return out

    def evaluate(self) -> dict[str, Any]:
        """Accuracy on the run's own test part, recomputed from the saved weights."""
        from ssft.data import load_dataset
        from ssft.data.splits import Split

        dataset = load_dataset(self.cfg.data)
        split = Split.load(self.dir / "split.json")
        part = dataset.train if split.test_source == "train" else dataset.test
        assert part is not None
        pred = self.predict([part.inputs[int(i)] for i in split.test], batch_size=self.cfg.cache.batch_size)
        acc = float((pred.labels == part.labels[split.test]).mean())
        return {"test_accuracy": acc, "test_error": 1.0 - acc, "num_test": int(split.test.size)}


def _restore_lora(backbone: Any, cfg: Config, run: Path) -> None:
    """Inject the run's LoRA adapters into the freshly built base and load their weights."""
    from ssft.backbones.lora import LORA_FILE, apply_lora, load_lora_state
    from ssft.integrity import load_tensors

    path = run / LORA_FILE
    if not path.is_file():
        raise ConfigError(f"{run} trained LoRA adapters (backbone.lora=true) but {LORA_FILE} is missing")
    b = cfg.backbone
    apply_lora(backbone, rank=b.lora_rank, alpha=b.lora_alpha, dropout=b.lora_dropout, targets=b.lora_targets)
    load_lora_state(backbone, load_tensors(path))


def load_run(run_dir: str | Path, device: str = "auto") -> Run:
    """Rebuild a run's model from ``config.yaml`` and ``model.safetensors``."""
    from ssft.backbones import build_backbone
    from ssft.heads.model import SSFTModel
    from ssft.integrity import load_tensors
    from ssft.methods import build_method
    from ssft.methods.base import centers_input

    run = Path(run_dir)
    for name in ("config.yaml", "model.safetensors", "results.json"):
        if not (run / name).is_file():
            raise ConfigError(f"{run} is not a finished run: {name} is missing")
    data = yaml.safe_load((run / "config.yaml").read_text())
    data.pop("provenance", None)
    cfg = from_dict(data)
    classes = list(yaml.safe_load((run / "results.json").read_text())["classes"])
    dev = resolve_device(device)
    backbone = build_backbone(cfg.backbone)
    if cfg.backbone.lora:
        _restore_lora(backbone, cfg, run)
    backbone.freeze()
    model = SSFTModel(backbone, cfg.model, len(classes), center=centers_input(cfg))
    method = build_method(cfg.method, model, class_counts=np.ones(len(classes)), seed=cfg.seed)
    tensors = load_tensors(run / "model.safetensors")
    method.load_state_arrays(tensors)
    state = {k: v for k, v in tensors.items() if not k.startswith("baseline.")}
    # The frozen backbone is rebuilt from its name; optimiser states (_extra_state) are not weights.
    missing, unexpected = method.load_trained_state(state)
    if missing or unexpected:
        raise ConfigError(
            f"{run}/model.safetensors does not match its config: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    method.to(dev).eval()
    return Run(run, cfg, method, classes, dev)
