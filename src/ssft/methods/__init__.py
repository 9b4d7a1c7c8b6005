"""Training methods. Importing this package registers every method and its config."""

from ssft.methods.base import METHODS, Batch, Method, build_method, register_method

# Each import registers one or more methods.
from ssft.methods import baselines  # noqa: E402,F401  isort: skip
from ssft.methods import twinturbo  # noqa: E402,F401  isort: skip
from ssft.methods import content_style  # noqa: E402,F401  isort: skip
from ssft.methods import fixmatch  # noqa: E402,F401  isort: skip
from ssft.methods import softmatch  # noqa: E402,F401  isort: skip
from ssft.methods import pseudo_label  # noqa: E402,F401  isort: skip

__all__ = ["METHODS", "Batch", "Method", "build_method", "register_method"]
