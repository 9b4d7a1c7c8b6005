"""What a finished run leaves: its accuracy on the test part (and the validation-selected model's),
the ``results.json`` record, and ``model.safetensors``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssft.backbones.lora import LORA_FILE, has_lora, lora_state_dict
from ssft.backbones.trainable import mode_name
from ssft.config import Config
from ssft.data.base import Dataset
from ssft.data.labeled_items import labeled_items_record
from ssft.data.split_notes import note_test_size
from ssft.data.splits import Split
from ssft.integrity import save_tensors
from ssft.methods.base import Method
from ssft.train.predict import predict
from ssft.train.streams import FeatureSource


def test_probabilities(
    cfg: Config, method: Method, source: FeatureSource, split: Split, device: Any
) -> np.ndarray:
    """Class probabilities (n, K) of the test items."""
    return predict(method, source, split.test, cfg.cache.batch_size, device, cfg.train.precision)


def selected_accuracy(
    cfg: Config,
    method: Method,
    best_state: dict[str, Any],
    source: FeatureSource,
    split: Split,
    y_test: np.ndarray,
    device: Any,
) -> float:
    """Test accuracy of the validation-selected state (chosen on validation labels, never on
    test); the method's own state is put back afterwards."""
    last = copy.deepcopy(method.trained_state())
    method.restore_trained_state(best_state, "")
    probs = test_probabilities(cfg, method, source, split, device)
    method.restore_trained_state(last, "")
    return float((probs.argmax(1) == y_test).mean())


def results_record(
    cfg: Config,
    dataset: Dataset,
    split: Split,
    method: Method,
    probs: np.ndarray,
    y_test: np.ndarray,
    run_fields: dict[str, Any],
) -> dict[str, Any]:
    """The fields of ``results.json`` that describe the run and its test accuracy, with the run's
    own (``run_fields``: steps, times) in their place; the caller adds the phases' fields, memory
    and provenance."""
    backbone = method.model.backbone
    pred = probs.argmax(1)
    acc = float((pred == y_test).mean())
    interval = note_test_size(cfg.data.name, int((pred == y_test).sum()), int(y_test.size))
    return {
        "test_accuracy": acc,
        "test_error": 1.0 - acc,
        "test_accuracy_interval95": list(interval),  # Wilson score interval
        "dataset": cfg.data.name,
        "method": cfg.method.name,
        "backbone": cfg.backbone.name,
        "backbone_revision": cfg.backbone.revision,
        "frozen": cfg.backbone.frozen,
        "backbone_mode": mode_name(cfg.backbone),
        "backbone_trainable_params": sum(p.numel() for p in backbone.parameters() if p.requires_grad),
        "image_size": getattr(backbone.preprocess, "size", None),
        "labels_per_class": cfg.data.labels_per_class,
        # Validation labels are labels too: every table counts them with k.
        "val_per_class": cfg.data.val_per_class,
        "num_labeled": int(split.labeled.size),
        "num_validation": int(split.validation.size),
        "labels_used": int(split.labeled.size + split.validation.size),
        "num_unlabeled": int(split.unlabeled.size),
        "num_test": int(split.test.size),
        "seed": cfg.seed,
        "split_seed": cfg.data.split_seed,
        **run_fields,
        "per_class_accuracy": [
            float((pred[y_test == c] == c).mean()) if (y_test == c).any() else None
            for c in range(dataset.num_classes)
        ],
        "classes": dataset.classes,
        **labeled_items_record(cfg.data, dataset, split.labeled),
    }


def save_weights(method: Method, path: Path) -> None:
    """``model.safetensors``: the method's trained state (a frozen or LoRA-adapted base is rebuilt
    from ``backbone.name``: saving it would only copy the pretrained weights; LoRA's adapters go to
    their own small file) and its fitted arrays."""
    backbone = method.model.backbone
    lora = has_lora(backbone)
    if lora:
        save_tensors(path.with_name(LORA_FILE), lora_state_dict(backbone), "ssft-lora")
    tensors = {}
    for k, v in method.trained_state().items():
        if not isinstance(v, torch.Tensor):
            continue
        if lora and k.startswith("model.backbone."):
            continue
        tensors[k] = v.detach().cpu().contiguous()
    tensors.update(method.state_arrays())
    # safetensors refuses tensors that share memory; clone them apart.
    seen: set[int] = set()
    for k, v in tensors.items():
        if v.data_ptr() in seen and v.numel():
            tensors[k] = v.clone()
        seen.add(tensors[k].data_ptr())
    save_tensors(path, tensors, "ssft")
