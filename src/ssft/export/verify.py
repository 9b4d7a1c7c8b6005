"""Check an exported ONNX file against ssft: onnxruntime's probabilities on a sample of the run's
own test items must match ssft's within a stated tolerance and give the same class. A mismatch is
an :class:`ExportError`, never a warning: a wrong export must not ship."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssft.errors import SsftError

#: the largest absolute difference in any class probability an export may show
TOLERANCE = 1e-3


class ExportError(SsftError):
    """An exported model does not reproduce ssft's predictions."""


@dataclass
class Verification:
    items: int
    max_abs_diff: float
    same_class: int
    tolerance: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample_test_items(run: Any, limit: int, seed: int = 0) -> list[Any]:
    """Up to ``limit`` of the run's test items (raw: paths, arrays or texts), a seeded sample."""
    from ssft.data import load_dataset
    from ssft.data.splits import Split

    dataset = load_dataset(run.cfg.data)
    split = Split.load(run.dir / "split.json")
    part = dataset.train if split.test_source == "train" else dataset.test
    assert part is not None
    idx = np.asarray(split.test)
    if limit < idx.size:
        idx = np.sort(np.random.default_rng(seed).choice(idx, size=limit, replace=False))
    return [part.inputs[int(i)] for i in idx]


def compare(run: Any, session: Any, items: list[Any], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(ssft, onnxruntime) probabilities (n, K) for raw ``items``; images go to both as the same
    uint8 pixels at the model's size (:func:`ssft.export.inputs.onnx_inputs`)."""
    from ssft.export.inputs import onnx_inputs

    got, ref = [], []
    for s in range(0, len(items), batch_size):
        chunk = items[s : s + batch_size]
        feeds = onnx_inputs(run, chunk)
        got.append(session.run(["probabilities"], feeds)[0])
        same = list(feeds["pixels"]) if "pixels" in feeds else chunk
        ref.append(run.predict(same, batch_size=batch_size).probabilities)
    return np.concatenate(ref), np.concatenate(got)


def verify(run: Any, onnx_path: str | Path, *, items: int = 64, tolerance: float = TOLERANCE) -> Verification:
    """Run ``onnx_path`` and ssft on up to ``items`` test items of ``run``; raise
    :class:`ExportError` when a probability differs by more than ``tolerance`` or a class differs."""
    from ssft.export.session import session

    sample = sample_test_items(run, items)
    ref, got = compare(run, session(onnx_path), sample)
    diff = float(np.abs(ref - got).max()) if ref.size else 0.0
    same = int((ref.argmax(1) == got.argmax(1)).sum())
    result = Verification(len(sample), diff, same, tolerance)
    if not diff <= tolerance or same != len(sample):
        raise ExportError(
            f"the ONNX export {onnx_path} does not reproduce ssft on {len(sample)} test items of {run.dir}: "
            f"max |p_onnx - p_ssft| = {diff:.3g} (tolerance {tolerance:g}), same class on {same}/{len(sample)}; "
            "do not use this file; report the backbone and method with this message"
        )
    return result
