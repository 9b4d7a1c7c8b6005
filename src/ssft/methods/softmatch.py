"""SoftMatch (Chen et al., "SoftMatch: Addressing the Quantity-Quality Trade-off in Semi-supervised
Learning", ICLR 2023): every weak-view pseudo-label is used, weighted by a truncated Gaussian of its
confidence whose mean and variance are running estimates, after uniform distribution alignment.

Reads the batch keys ``x_ulb_w`` and ``x_ulb_s`` like FixMatch (see :mod:`ssft.methods.fixmatch`).
See docs/methods/fixmatch.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ssft.config import doc
from ssft.distributed import gather
from ssft.errors import ConfigError
from ssft.losses import categorical_loss, soft_pseudo_label_loss, truncated_gaussian_weight
from ssft.methods.base import Batch, register_method
from ssft.methods.fixmatch import MeanPrediction, WeakStrongConfig, _WeakStrong


@dataclass
class SoftMatchConfig(WeakStrongConfig):
    lambda_u: float = doc(1.0, "weight of the unlabelled (soft-weighted pseudo-label) term")
    ema: float = doc(
        0.99,
        "momentum of the running confidence mean/variance and mean prediction (the paper's 0.999 "
        "is for schedules of 10^5-10^6 steps; chosen on development data)",
    )
    n_sigma: float = doc(2.0, "the Gaussian below the mean confidence has standard deviation σ/n_sigma")
    dist_align: bool = doc(True, "uniform distribution alignment of the weak-view probabilities")
    align_labels: bool = doc(
        True,
        "take the pseudo-labels from the aligned probabilities too (beyond the paper, which aligns only "
        "the weights; counters a collapse onto one class; chosen on development data, false = paper)",
    )
    ramp: float = doc(0.0, "fraction of the steps over which lambda_u ramps up from 0 (0 = none)")

    def validate(self) -> None:
        self.validate_shared()
        if self.supcon_unlabeled:
            raise ConfigError(
                "method.supcon_unlabeled needs a confidence mask (fixmatch, freematch); softmatch weighs "
                "every unlabelled item instead: unset it or choose method.name=fixmatch"
            )
        if self.lambda_u < 0:
            raise ConfigError("method.lambda_u must be >= 0")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError("method.ema must be in [0, 1)")
        if self.align_labels and not self.dist_align:
            raise ConfigError(
                "method.align_labels=true needs method.dist_align=true (there is nothing to align)"
            )
        if self.n_sigma <= 0:
            raise ConfigError("method.n_sigma must be > 0 (the reference value is 2)")
        if not 0.0 <= self.ramp < 1.0:
            raise ConfigError("method.ramp must be in [0, 1)")


class SoftMatchState(nn.Module):
    """SoftMatch's running confidence statistics, kept as buffers so they are checkpointed.

    From the confidences ``c_j`` of each unlabelled batch (after alignment when it is on), with
    momentum m: ``μ ← m μ + (1-m) mean_j c_j`` and ``σ² ← m σ² + (1-m) var_j c_j`` (unbiased
    variance), from ``μ = 1/K`` and ``σ² = 1``.
    """

    def __init__(self, num_classes: int, momentum: float) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("conf_mean", torch.tensor(1.0 / num_classes))
        self.register_buffer("conf_var", torch.tensor(1.0))

    @torch.no_grad()
    def update_confidence(self, confidence: Tensor) -> None:
        c = gather(confidence.detach().float())
        m = self.momentum
        var = c.var(unbiased=True) if c.numel() > 1 else torch.zeros((), device=c.device)
        self.conf_mean.mul_(m).add_((1 - m) * c.mean())
        self.conf_var.mul_(m).add_((1 - m) * var)


@register_method
class SoftMatch(_WeakStrong):
    """SoftMatch: truncated-Gaussian weights on every pseudo-label, uniform alignment (Chen et al. 2023)."""

    name = "softmatch"
    config_class = SoftMatchConfig

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        cfg: SoftMatchConfig = self.cfg  # type: ignore[assignment]
        self.state = SoftMatchState(self.num_classes, cfg.ema)
        if cfg.dist_align:
            self.dist = MeanPrediction(self.num_classes, cfg.ema)

    def train_step(self, batch: Batch) -> dict[str, Tensor]:
        cfg: SoftMatchConfig = self.cfg  # type: ignore[assignment]
        s_lb, s_w, s_s = self.forward_views(batch)
        ce = categorical_loss(scores=s_lb, targets=batch["y_lb"])
        probs = s_w.detach().float().softmax(dim=-1)
        # The statistics of this step already include this batch (update, then weight).
        weighted = self.dist.align(probs) if cfg.dist_align else probs
        confidence = weighted.max(dim=-1).values
        self.state.update_confidence(confidence)
        weights = truncated_gaussian_weight(
            confidence=confidence, mean=self.state.conf_mean, var=self.state.conf_var, n_sigma=cfg.n_sigma
        )
        # The paper's pseudo-labels are the argmax of the weak view's own prediction: the alignment
        # only changes how much each one counts. With align_labels, the aligned argmax.
        labels = (weighted if cfg.align_labels else probs).argmax(dim=-1)
        unsup = soft_pseudo_label_loss(scores_strong=s_s, pseudo_labels=labels, weights=weights)
        ramp = self.ramp(batch)
        terms = {
            "ce": ce,
            "unsup": unsup,
            "weight_mean": weights.mean(),
            "confidence_mean": self.state.conf_mean.detach().clone(),
            "confidence_var": self.state.conf_var.detach().clone(),
            "ramp": torch.tensor(ramp),
        }
        terms["loss"] = self.supcon_term(batch, ce + ramp * cfg.lambda_u * unsup, terms)
        return terms
