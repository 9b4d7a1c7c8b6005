"""A view of some items of a random-access input collection, by index (what one run needs)."""

from __future__ import annotations

from typing import Any

import numpy as np


class SubsetInputs:
    """A view of some items of a random-access input collection (what one run needs)."""

    def __init__(self, inputs: Any, indices: np.ndarray) -> None:
        self.inputs, self.indices = inputs, np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, i: int) -> Any:
        return self.inputs[int(self.indices[i])]
