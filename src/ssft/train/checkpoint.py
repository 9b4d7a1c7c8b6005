"""The training checkpoint file: written atomically with its digest by rank 0, read back with
``weights_only=True`` (no arbitrary code) and refused whole when torn or altered.

What goes in it is not decided here: the trainer assembles one dict from the ``state_dict`` of each
of its parts (:meth:`ssft.train.trainer.Trainer.state_dict`)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from ssft.distributed import is_main
from ssft.errors import TrainingError
from ssft.integrity import check_checkpoint, write_checkpoint


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` (rank 0 only; the other ranks return)."""
    if not is_main():
        return
    buf = io.BytesIO()
    torch.save(state, buf)
    write_checkpoint(path, buf.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a training checkpoint with ``weights_only=True`` (no arbitrary code)."""
    try:
        payload = Path(path).read_bytes()
    except OSError as e:
        raise TrainingError(f"checkpoint {path} is unreadable ({e.strerror}); delete it to restart") from None
    check_checkpoint(Path(path), payload)
    try:
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)  # type: ignore[no-any-return]
    except Exception as e:  # a torn or corrupt file: refuse it, never half-load
        raise TrainingError(
            f"checkpoint {path} is unreadable ({type(e).__name__}); delete it to restart"
        ) from None
