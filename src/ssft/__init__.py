"""ssft: semi-supervised fine-tuning of foundation models when labels are scarce."""

from __future__ import annotations

__version__ = "0.1.0"
