"""Best-effort ``torch.compile`` of a backbone's encode, for extraction."""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import Tensor

from ssft.backbones.base import Backbone, Features

log = logging.getLogger(__name__)


def best_effort_compile(backbone: Backbone) -> Callable[[dict[str, Tensor]], Features]:
    """``torch.compile(backbone.encode)``, falling back to eager for good if compiling fails.

    Compilation happens at the first call, so a failure shows up there, not in ``torch.compile``.
    """
    eager = backbone.encode
    try:
        compiled = torch.compile(eager)
    except Exception as e:  # compilation is an optimisation only
        log.warning("torch.compile of %s failed (%s); extracting uncompiled", backbone.name, e)
        return eager
    state = {"fn": compiled}

    def encode(inputs: dict[str, Tensor]) -> Features:
        if state["fn"] is eager:
            return eager(inputs)
        try:
            return state["fn"](inputs)
        except torch.cuda.OutOfMemoryError:
            raise
        except Exception as e:
            log.warning("torch.compile of %s failed (%s); extracting uncompiled", backbone.name, e)
            state["fn"] = eager
            return eager(inputs)

    return encode
