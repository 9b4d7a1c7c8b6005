"""The contract of a method with no gradient training: fitted once, in closed form, on the pooled
features (the classical baselines: linear probe, k-NN, label spreading).

A run calls ``fit(x_lb, y_lb, x_ulb)`` once instead of a training loop and predicts with
``predict_proba(x)``; what it learned is kept as plain arrays (``self.arrays``), saved beside the
weights in ``model.safetensors`` under ``baseline.<name>``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from ssft.backbones.base import Features
from ssft.methods.base import Method


class ClosedFormMethod(Method):
    """Base of the closed-form baselines: ``fit(x_lb, y_lb, x_ulb)`` then ``predict_proba(x)``."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.arrays: dict[str, np.ndarray] = {}
        # (base rows, neighbours option, index) of the last neighbour index built: see baselines
        self._neighbour_index: tuple[Any, ...] | None = None

    def fit(self, x_lb: np.ndarray, y_lb: np.ndarray, x_ulb: np.ndarray) -> None:
        raise NotImplementedError

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fitted_proba(self) -> np.ndarray | None:
        """Probabilities of the rows ``fit`` saw (``x_lb`` then ``x_ulb``) where the method
        computes them while fitting (transductive, as label spreading); None otherwise."""
        return None

    def probabilities(self, feats: Features) -> Tensor:
        return torch.from_numpy(self.predict_proba(feats.pooled.float().cpu().numpy())).float()

    def scores(self, feats: Features) -> Tensor:
        return self.probabilities(feats).clamp_min(1e-12).log()

    def state_arrays(self) -> dict[str, Tensor]:
        return {f"baseline.{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.arrays.items()}

    def load_state_arrays(self, tensors: dict[str, Tensor]) -> None:
        self.arrays = {
            k[len("baseline.") :]: v.numpy() for k, v in tensors.items() if k.startswith("baseline.")
        }
