"""The method contract.

A method owns the model and whatever extra modules its loss needs (alignment heads,
discriminators with their own optimisers). ``train_step(batch)`` returns
``{"loss": total, <term>: value, ...}``; the training loop back-propagates ``loss`` and logs every
key. Batches use stable keys: ``x_lb`` (Features), ``y_lb`` (B,), ``x_ulb`` (Features or None).

A method that reads augmented views lists their keys in ``views``: ``<stream>_<kind>`` with
stream ``lb`` or ``ulb`` and kind ``w`` (weak) or ``s`` (strong), and the loop adds ``x_ulb_w``,
``x_ulb_s``, ... to every batch: for each item of that stream's batch, the features of one view of
that kind drawn at random (cached views with a frozen backbone, made live otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from ssft.backbones.base import Features
from ssft.backbones.trainable import backbone_trains
from ssft.config import MethodConfig, doc, register_method_config
from ssft.errors import ConfigError, TrainingError
from ssft.heads.model import SSFTModel
from ssft.registry import Registry

Batch = dict[str, Any]


class Method(nn.Module):
    """Base class. Subclasses set ``name``, ``config_class``, ``uses_unlabeled``."""

    name: ClassVar[str] = "base"
    config_class: ClassVar[type[MethodConfig]] = MethodConfig
    uses_unlabeled: ClassVar[bool] = False
    #: augmented views the method reads, as batch keys without the ``x_`` (e.g. ``("ulb_w", "ulb_s")``)
    views: ClassVar[tuple[str, ...]] = ()
    #: the default of ``model.center`` for this method (see :func:`centers_input`)
    center_input: ClassVar[bool] = False
    #: whether ``train_step`` reads ``x_ulb`` (the unlabelled items themselves); a method that reads
    #: only their augmented views sets False, and the loop then never encodes them
    reads_ulb: ClassVar[bool] = True
    #: view keys used only as targets (no gradient ever flows back through them, e.g. FixMatch's weak
    #: view): with a trainable backbone the loop encodes them under ``torch.no_grad()``
    target_views: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, cfg: MethodConfig, model: SSFTModel, *, class_counts: np.ndarray, seed: int = 0
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = model
        self.num_classes = model.num_classes
        self.seed = seed
        counts = torch.as_tensor(np.asarray(class_counts, dtype=np.float64), dtype=torch.float32)
        self.register_buffer("labelled_prior", counts / counts.sum().clamp_min(1.0))

    def label_prior(self, kind: str = "uniform") -> Tensor:
        """π: uniform, or the labelled class frequencies."""
        if kind == "uniform":
            return torch.full((self.num_classes,), 1.0 / self.num_classes, device=self.labelled_prior.device)
        if kind == "labelled":
            return self.labelled_prior
        raise ConfigError(f"unknown prior {kind!r}; known: uniform, labelled")

    def train_step(self, batch: Batch) -> dict[str, Tensor]:
        raise NotImplementedError

    def ramp(self, batch: Batch) -> float:
        """Weight factor of the unlabelled terms: linear from 0 to 1 over the first
        ``method.ramp`` fraction of the steps (1.0 when the method has no ramp)."""
        fraction = float(getattr(self.cfg, "ramp", 0.0) or 0.0)
        total = int(batch.get("total_steps", 0) or 0)
        if not fraction or not total:
            return 1.0
        return min(1.0, (int(batch.get("step", 0)) + 1) / (fraction * total))

    @classmethod
    def view_keys(cls, cfg: MethodConfig) -> tuple[str, ...]:
        """The view batch keys a run with config ``cfg`` reads (``views``, unless a config key
        switches an optional view-reading term on)."""
        return cls.views

    def consistency_term(self, scores_ulb: Tensor, batch: Batch) -> dict[str, Tensor]:
        """Optional FixMatch-style consistency for methods beyond the FixMatch family: the
        confident predictions on the unlabelled items themselves (``scores_ulb``, the weak view)
        as hard targets of their strong views ``x_ulb_s``. Needs ``method.lambda_consistency`` and
        ``method.consistency_threshold`` in the method's config. Confidences are
        ``softmax(scores)``, so a method's ``scores`` must be the log of its posterior up to a
        per-row constant."""
        from ssft.losses import pseudo_label_loss

        if "x_ulb_s" not in batch:
            raise ValueError("the consistency term needs the batch key x_ulb_s (strong views of x_ulb)")
        parts = pseudo_label_loss(
            scores_weak=scores_ulb,
            scores_strong=self.scores(batch["x_ulb_s"]),
            threshold=float(self.cfg.consistency_threshold),  # type: ignore[attr-defined]
        )
        return {"consistency": parts["loss"], "consistency_mask_rate": parts["mask_rate"]}

    def scores(self, feats: Features) -> Tensor:
        """Class scores (B, K) used for prediction."""
        return self.model.head(feats).scores

    def probabilities(self, feats: Features) -> Tensor:
        return self.scores(feats).float().softmax(dim=-1)

    def optimizer_parameters(self) -> list[nn.Parameter]:
        """Parameters of the main optimiser other than the backbone's: the head and any extra
        modules of the method; never a discriminator (they have their own optimisers)."""
        skip = {id(p) for m in self.adversaries() for p in m.parameters()}
        skip |= {id(p) for p in self.model.backbone.parameters()}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in skip]

    def adversaries(self) -> list[nn.Module]:
        return []

    # -- what a run keeps --------------------------------------------------------------------------

    def trained_state(self) -> dict[str, Any]:
        """The method's state without a frozen backbone (rebuilt from its name, it never changes):
        what a checkpoint, the validation-selected state and ``model.safetensors`` keep, so a frozen
        run saves only the head and the method's own state, not a copy of the pretrained weights."""
        state = self.state_dict()
        if backbone_trains(self.model.backbone):
            return state
        return {k: v for k, v in state.items() if not k.startswith("model.backbone.")}

    def load_trained_state(self, state: dict[str, Any]) -> tuple[list[str], list[str]]:
        """Load a :meth:`trained_state` (or a whole state) back; returns the keys that were missing
        (other than a frozen backbone's, and optimiser ``_extra_state``) and the unexpected ones."""
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [
            k for k in missing if not k.startswith("model.backbone.") and not k.endswith("_extra_state")
        ]
        return missing, list(unexpected)

    def restore_trained_state(self, state: dict[str, Any], remedy: str) -> None:
        """Load a :meth:`trained_state` back, refusing one that does not match the method with a
        :class:`TrainingError` that ends with ``remedy``."""
        missing, unexpected = self.load_trained_state(state)
        if missing or unexpected:
            raise TrainingError(
                f"saved state does not match the method: missing {missing[:5]}, unexpected {unexpected[:5]}"
                + (f"; {remedy}" if remedy else "")
            )

    def state_arrays(self) -> dict[str, Tensor]:
        """Extra tensors saved beside the weights (a closed-form method's fitted arrays)."""
        return {}

    def load_state_arrays(self, tensors: dict[str, Tensor]) -> None:
        """Read back what :meth:`state_arrays` saved."""


def prior_sample_options(cfg: Any) -> dict[str, Any]:
    """Keyword arguments of :class:`~ssft.heads.discriminator.AdversarialPrior` for a categorical
    prior from the method keys ``prior_samples``, ``prior_smoothing`` and ``prior_concentration``
    (shared by TwinTURBO and content-style). Raises :class:`ConfigError` on a bad combination."""
    kind, eps, conc = cfg.prior_samples, float(cfg.prior_smoothing), float(cfg.prior_concentration)
    if not 0.0 <= eps < 1.0:
        raise ConfigError("method.prior_smoothing must be in [0, 1)")
    if kind == "onehot":
        return {"samples": "onehot", "smoothing": 0.0}
    if eps == 0.0:
        raise ConfigError(
            f"method.prior_samples={kind} needs method.prior_smoothing > 0 "
            "(or method.prior_samples=onehot for exact one-hot samples)"
        )
    if kind == "smoothed":
        return {"samples": "onehot", "smoothing": eps}
    if kind == "dirichlet":
        if conc <= 0:
            raise ConfigError("method.prior_concentration must be > 0")
        return {"samples": "dirichlet", "smoothing": eps, "concentration": conc}
    raise ConfigError(f"unknown method.prior_samples {kind!r}; known: dirichlet, smoothed, onehot")


METHODS: Registry[type[Method]] = Registry("method")

VIEW_KINDS = {"w": "weak", "s": "strong"}
VIEW_STREAMS = ("lb", "ulb")


def parse_view_key(key: str) -> tuple[str, str]:
    """``"ulb_s"`` -> ``("ulb", "strong")``: the stream whose items it holds and the view kind."""
    stream, _, kind = key.rpartition("_")
    if stream not in VIEW_STREAMS or kind not in VIEW_KINDS:
        raise ValueError(
            f"view key {key!r} is not <stream>_<kind> with stream in {VIEW_STREAMS} and kind in {tuple(VIEW_KINDS)}"
        )
    return stream, VIEW_KINDS[kind]


def register_method(cls: type[Method]) -> type[Method]:
    from ssft.recommend import short_help

    METHODS.register(cls.name, help=short_help(cls.__doc__ or ""))(cls)  # the whole first paragraph
    register_method_config(cls.name, cls.config_class)
    return cls


@dataclass
class SupervisedConfig(MethodConfig):
    label_smoothing: float = doc(0.0, "label smoothing of the cross-entropy")

    def validate(self) -> None:
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError("method.label_smoothing must be in [0, 1)")


@register_method
class Supervised(Method):
    """Cross-entropy on the labelled set only (the baseline every SSL method must beat)."""

    name = "supervised"
    config_class = SupervisedConfig

    def train_step(self, batch: Batch) -> dict[str, Tensor]:
        from ssft.losses import categorical_loss

        out = self.model.head(batch["x_lb"])
        cfg: SupervisedConfig = self.cfg  # type: ignore[assignment]
        if cfg.label_smoothing:
            ce = nn.functional.cross_entropy(
                out.scores.float(), batch["y_lb"], label_smoothing=cfg.label_smoothing
            )
        else:
            ce = categorical_loss(scores=out.scores, targets=batch["y_lb"])
        return {"loss": ce, "ce": ce}


def method_view_kinds(cfg: MethodConfig) -> tuple[str, ...]:
    """The view kinds (``"strong"``, ``"weak"``) that a run of method config ``cfg`` reads, sorted."""
    keys = METHODS.get(cfg.name).view_keys(cfg)
    return tuple(sorted({parse_view_key(key)[1] for key in keys}))


def centers_input(cfg: Any) -> bool:
    """Whether a run of config ``cfg`` centres the head's input (``model.center``): as set, or, when
    null, the method's default (``Method.center_input``), with every projector (the transformer
    projector's tokens are centred by their own pool mean, see :mod:`ssft.train.center`)."""
    if cfg.model.center is not None:
        return bool(cfg.model.center)
    return bool(METHODS.get(cfg.method.name).center_input)


def build_method(cfg: MethodConfig, model: SSFTModel, *, class_counts: np.ndarray, seed: int) -> Method:
    return METHODS.get(cfg.name)(cfg, model, class_counts=class_counts, seed=seed)
