"""An exponential moving average of the trained weights, used for evaluation (``train.ema_weights``).

FixMatch, FreeMatch, SoftMatch and USB evaluate an EMA of the model's weights (momentum 0.999)
rather than the last iterate. After every optimiser step each trained parameter's shadow copy
moves towards it: ``s ← d_t s + (1 - d_t) θ``, with ``d_t = min(d, (1 + t) / (10 + t))`` at update
``t`` (0-based). The warm-up of ``d_t`` (as in TensorFlow's ``ExponentialMovingAverage`` with
``num_updates``) is ssft's: the papers train for 10⁵–10⁶ steps, where the start does not matter;
over ssft's few hundred steps a plain 0.999 average would stay close to the random initial head.

Validation (``train.eval_every``) and the final test evaluation read the average, and the saved
``model.safetensors`` holds it, so a loaded run predicts what was reported. Buffers (the centring
means, running statistics) are used as they are, not averaged. The shadow weights and the update
count are checkpointed, so a resumed run continues the very same average.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn


class WeightEMA:
    """Shadow weights of the parameters of ``module`` listed in ``params`` (the optimised ones)."""

    def __init__(self, module: nn.Module, params: list[nn.Parameter], decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"train.ema_weights must be in (0, 1) to average (0 = off), got {decay}")
        wanted = {id(p) for p in params}
        self.params: dict[str, nn.Parameter] = {
            name: p for name, p in module.named_parameters() if id(p) in wanted
        }
        self.shadow: dict[str, Tensor] = {name: p.detach().clone() for name, p in self.params.items()}
        self.decay, self.updates = decay, 0

    def rate(self) -> float:
        """The momentum ``d_t`` of the next update."""
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self) -> None:
        d = self.rate()
        for name, p in self.params.items():
            self.shadow[name].mul_(d).add_(p.detach().to(self.shadow[name].dtype), alpha=1.0 - d)
        self.updates += 1

    @torch.no_grad()
    def copy_to_model(self) -> None:
        """Overwrite the live weights with the average (the final model)."""
        for name, p in self.params.items():
            p.copy_(self.shadow[name])

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The average in place of the live weights inside the block, the live ones restored after."""
        live = {name: p.detach().clone() for name, p in self.params.items()}
        self.copy_to_model()
        try:
            yield
        finally:
            with torch.no_grad():
                for name, p in self.params.items():
                    p.copy_(live[name])

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "shadow": {k: v.clone() for k, v in self.shadow.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = sorted(set(self.shadow) - set(state["shadow"]))
        if missing:
            raise ValueError(f"the checkpoint's weight average lacks {missing[:3]}; delete it to restart")
        self.updates = int(state["updates"])
        for name in self.shadow:
            self.shadow[name].copy_(state["shadow"][name])
