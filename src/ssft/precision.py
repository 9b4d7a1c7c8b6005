"""The one precision rule shared by extraction, training, the test prediction of ``fit``,
``ssft evaluate`` and ``predict``: the same inputs go through the same autocast everywhere, so a
run's written accuracy is what re-evaluating its saved weights gives."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def autocast_dtype(device: torch.device | str, precision: str) -> torch.dtype | None:
    """The autocast dtype for ``train.precision`` on ``device``; None means float32 throughout.

    ``auto`` is bfloat16 on CUDA and float32 elsewhere.
    """
    device = torch.device(device)
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    return torch.float16 if precision == "fp16" else torch.bfloat16


def autocast(device: torch.device | str, precision: str) -> Any:
    """``torch.autocast`` with :func:`autocast_dtype`'s dtype, or a no-op context for float32."""
    device = torch.device(device)
    dtype = autocast_dtype(device, precision)
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
