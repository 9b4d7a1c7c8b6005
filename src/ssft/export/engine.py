"""Prediction through onnxruntime: ``ssft predict --engine onnx`` and ``Run.predict(..., engine="onnx")``.

:class:`OnnxPredictor` reads an exported model folder (``ssft export --format folder``) with
onnxruntime and the ``tokenizers`` library only, the way a deployment without ssft would.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ssft.errors import ConfigError, DataError
from ssft.export.session import session


class OnnxPredictor:
    """An exported model folder -> class probabilities for raw items (image paths, uint8 arrays, texts)."""

    def __init__(self, folder: str | Path, threads: int | None = None) -> None:
        self.dir = Path(folder)
        for name in ("model.onnx", "preprocessing.json", "config.json"):
            if not (self.dir / name).is_file():
                raise ConfigError(
                    f"{self.dir} is not an exported model folder: {name} is missing; "
                    "make one with: ssft export RUN --format folder --out DIR"
                )
        self.pre = json.loads((self.dir / "preprocessing.json").read_text())
        labels = json.loads((self.dir / "config.json").read_text())["id2label"]
        self.classes = [labels[str(i)] for i in range(len(labels))]
        self.session = session(self.dir / "model.onnx", threads)
        self.tokenizer = None
        if self.pre["modality"] == "text":
            tokenizers = require_tokenizers()
            self.tokenizer = tokenizers.Tokenizer.from_file(str(self.dir / "tokenizer.json"))

    def inputs(self, items: Sequence[Any]) -> dict[str, np.ndarray]:
        """The graph's inputs for raw items, from the folder's preprocessing and tokenizer."""
        if self.tokenizer is None:
            from ssft.export.inputs import image_pixels

            return {"pixels": image_pixels(items, int(self.pre["size"]))}
        bad = next((x for x in items if not isinstance(x, str)), None)
        if bad is not None:
            raise DataError(f"this model reads text; got a {type(bad).__name__} item ({str(bad)[:40]!r})")
        enc = self.tokenizer.encode_batch(list(items))
        return {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
        }

    def predict_proba(self, items: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """(n, K) float32 class probabilities."""
        out = [
            self.session.run(["probabilities"], self.inputs(items[s : s + batch_size]))[0]
            for s in range(0, len(items), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), dtype=np.float32)


def require_tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError as exc:  # pragma: no cover - a dependency of transformers
        raise ConfigError(
            "reading tokenizer.json needs the tokenizers package: pip install tokenizers"
        ) from exc
    return tokenizers
