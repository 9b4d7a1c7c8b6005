"""Search spaces of ``ssft tune``: one per method, all in this registry.

A space is a function ``space(s, cfg)`` that asks a :class:`Suggest` for values by config key
(``s.real("method.alpha", 0.01, 0.99)``); the keys it asks for become the trial's ``--set``
overrides. ``cfg`` is the resolved base config, so a space can leave out choices that cannot work
with it (the transformer projector needs tokens, which ``cache.store=pooled`` does not keep).
Spaces are define-by-run: a key asked for only on one branch (``method.gamma`` with the rbf
kernel) is tuned only there.

Every method gets the same trial budget; a space only says where that budget is spent. A
gradient-trained method without its own space gets :func:`generic_space` (learning rate and
epochs); a closed-form method without one is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ssft.config import Config
from ssft.errors import ConfigError
from ssft.registry import Registry


class Suggest(Protocol):
    """What a space asks values from (implemented over an Optuna trial by the runner)."""

    def real(self, key: str, low: float, high: float, *, log: bool = False) -> float: ...

    def integer(self, key: str, low: int, high: int, *, log: bool = False) -> int: ...

    def choice(self, key: str, options: Sequence[Any]) -> Any: ...


Space = Callable[[Suggest, Config], None]
SPACES: Registry[Space] = Registry("search space")

# Shared ranges, so that every gradient-trained method searches the same schedule.
LR_RANGE = (1e-4, 3e-2)
EPOCHS_RANGE = (1, 20)


def projector_choices(cfg: Config) -> list[str]:
    """Projectors that can run on the configured features (tokens are needed by the transformer)."""
    frozen_pooled = cfg.backbone.frozen and cfg.cache.enabled and cfg.cache.store == "pooled"
    return ["identity", "mlp"] if frozen_pooled else ["identity", "mlp", "transformer"]


def schedule(s: Suggest) -> None:
    """Learning rate (log scale) and epochs (log scale: short schedules are cheaper to try)."""
    s.real("train.lr", *LR_RANGE, log=True)
    s.integer("train.epochs", *EPOCHS_RANGE, log=True)


@SPACES.register("generic", help="train.lr, train.epochs (any gradient-trained method)")
def generic_space(s: Suggest, cfg: Config) -> None:
    schedule(s)


@SPACES.register("label_spreading", help="alpha, kernel (knn: n_neighbors; rbf: gamma)")
def label_spreading_space(s: Suggest, cfg: Config) -> None:
    s.real("method.alpha", 0.01, 0.99)
    if s.choice("method.kernel", ["knn", "rbf"]) == "knn":
        s.integer("method.n_neighbors", 3, 50, log=True)
    else:
        s.real("method.gamma", 0.5, 100.0, log=True)


@SPACES.register("linear_probe", help="C, standardize, normalize")
def linear_probe_space(s: Suggest, cfg: Config) -> None:
    s.real("method.C", 1e-3, 1e2, log=True)
    s.choice("method.standardize", [True, False])
    s.choice("method.normalize", [True, False])


@SPACES.register("knn", help="k, weights")
def knn_space(s: Suggest, cfg: Config) -> None:
    s.integer("method.k", 1, 50, log=True)
    s.choice("method.weights", ["distance", "uniform"])


@SPACES.register("supervised", help="train.lr, train.epochs, model.projector")
def supervised_space(s: Suggest, cfg: Config) -> None:
    schedule(s)
    s.choice("model.projector", projector_choices(cfg))


@SPACES.register(
    "twinturbo", help="conditional, lambda_marginal/kl/align/supcon, train.lr, train.epochs, model.projector"
)
def twinturbo_space(s: Suggest, cfg: Config) -> None:
    s.choice("method.conditional", ["categorical", "categorical_twin", "binary", "infonce"])
    s.real("method.lambda_marginal", 0.0, 2.0)
    s.real("method.lambda_kl", 0.0, 1.0)
    s.real("method.lambda_align", 0.0, 1.0)
    s.real("method.lambda_supcon", 0.0, 1.0)
    schedule(s)
    s.choice("model.projector", projector_choices(cfg))


@SPACES.register("content_style", help="lambda_content/style/rec, style_dim, input, train.lr, train.epochs")
def content_style_space(s: Suggest, cfg: Config) -> None:
    s.real("method.lambda_content", 1e-3, 1.0, log=True)
    s.real("method.lambda_style", 1e-3, 1.0, log=True)
    s.real("method.lambda_rec", 0.1, 2.0, log=True)
    s.choice("method.style_dim", [4, 8, 16, 32, 64])
    s.choice("method.input", ["pooled", "projector"])
    schedule(s)


def space_for(method: str) -> tuple[str, Space]:
    """(space name, space) of a registered method; see the module docstring for the fallback."""
    from ssft.methods import METHODS
    from ssft.methods.closed_form import ClosedFormMethod

    cls = METHODS.get(method)  # an unknown method fails here, listing the known ones
    if method in SPACES:
        return method, SPACES.get(method)
    if issubclass(cls, ClosedFormMethod):
        known = ", ".join(n for n in SPACES if n != "generic")
        raise ConfigError(
            f"method {method!r} has no search space for ssft tune; declare one in ssft.tune.spaces "
            f"(methods with a space: {known})"
        )
    return "generic", SPACES.get("generic")
