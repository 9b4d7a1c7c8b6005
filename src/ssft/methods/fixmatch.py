"""The FixMatch family: pseudo-labels from a weak view enforced on a strong view.

* ``fixmatch`` (Sohn et al., "FixMatch: Simplifying Semi-Supervised Learning with Consistency and
  Confidence", NeurIPS 2020): a fixed confidence threshold τ.
* ``freematch`` (Wang et al., "FreeMatch: Self-adaptive Thresholding for Semi-supervised
  Learning", ICLR 2023): self-adaptive thresholds, a global one (EMA of the mean confidence)
  modulated per class (EMA of the class-wise mean probability), plus the self-adaptive fairness term.

Both read the batch keys ``x_ulb_w`` and ``x_ulb_s`` (one weak and one strong view of every
unlabelled item, see :mod:`ssft.methods.base`); with a frozen backbone they come from the feature
cache (``cache.views`` weak views besides the item itself, ``cache.strong_views`` strong ones).
See docs/methods/fixmatch.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ssft.backbones.base import Features
from ssft.config import MethodConfig, doc
from ssft.distributed import gather
from ssft.errors import ConfigError
from ssft.losses import (
    categorical_loss,
    distribution_alignment,
    pseudo_label_loss,
    self_adaptive_fairness_loss,
    supcon_loss,
)
from ssft.methods.base import Batch, Method, register_method


@dataclass
class WeakStrongConfig(MethodConfig):
    """Keys every method of the family shares (beyond the papers, off by default)."""

    lambda_supcon: float = doc(
        0.0,
        "weight of a supervised contrastive term on the labelled items and their strong views "
        "(0 = off, the papers' form; beyond the papers: the pair objective SetFit fine-tunes with)",
    )
    supcon_temperature: float = doc(0.1, "lambda_supcon > 0: temperature of the contrastive term")
    supcon_unlabeled: bool = doc(
        False,
        "lambda_supcon > 0: the strong views of unlabelled items whose weak view passes the confidence "
        "mask join the contrastive term under their pseudo-label (beyond the papers; FixMatch and FreeMatch)",
    )
    supcon_projection: int = doc(
        0,
        "lambda_supcon > 0: output width of a two-layer MLP projection that the contrastive term "
        "reads instead of the latent the classifier reads (the SupCon paper's projection network, "
        "128 there; used in training only); 0 = the latent itself",
    )
    weak_labeled: bool = doc(
        False,
        "supervised term on a weak view of each labelled item instead of the item itself (the papers' "
        "form; with the cache it draws among the item and its cache.views weak views)",
    )

    def validate_shared(self) -> None:
        if self.lambda_supcon < 0:
            raise ConfigError("method.lambda_supcon must be >= 0")
        if self.supcon_temperature <= 0:
            raise ConfigError("method.supcon_temperature must be > 0")
        if self.supcon_projection < 0:
            raise ConfigError("method.supcon_projection must be >= 0 (0 = no projection)")


@dataclass
class FixMatchConfig(WeakStrongConfig):
    threshold: float = doc(
        0.6,
        "confidence threshold τ of the weak-view pseudo-labels (the paper's 0.95 suits a linear head "
        "on a trained network; 0.6 with dist_align was chosen on development data for the cosine head)",
    )
    lambda_u: float = doc(1.0, "weight of the unlabelled (pseudo-label) term")
    ramp: float = doc(0.0, "fraction of the steps over which lambda_u ramps up from 0 (0 = none)")
    dist_align: bool = doc(
        True,
        "distribution alignment (beyond the paper, as in ReMixMatch): confidences and pseudo-labels "
        "from the weak-view probabilities aligned to a uniform class distribution",
    )
    ema: float = doc(0.99, "dist_align: momentum of the running mean prediction")

    def validate(self) -> None:
        self.validate_shared()
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError("method.threshold must be in [0, 1]")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError("method.ema must be in [0, 1)")
        if self.lambda_u < 0:
            raise ConfigError("method.lambda_u must be >= 0")
        if not 0.0 <= self.ramp < 1.0:
            raise ConfigError("method.ramp must be in [0, 1)")


@dataclass
class FreeMatchConfig(WeakStrongConfig):
    lambda_u: float = doc(1.0, "weight of the unlabelled (pseudo-label) term")
    lambda_fair: float = doc(0.01, "weight of the self-adaptive fairness term (0 = off)")
    ema: float = doc(
        0.99,
        "momentum of the EMAs behind the self-adaptive thresholds (the paper's 0.999 is for "
        "schedules of 10^5-10^6 steps; chosen on development data)",
    )
    ramp: float = doc(0.0, "fraction of the steps over which the unlabelled weights ramp up from 0")

    def validate(self) -> None:
        self.validate_shared()
        if self.lambda_u < 0 or self.lambda_fair < 0:
            raise ConfigError("method.lambda_u and method.lambda_fair must be >= 0")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError("method.ema must be in [0, 1)")
        if not 0.0 <= self.ramp < 1.0:
            raise ConfigError("method.ramp must be in [0, 1)")


def _views(batch: Batch, name: str) -> tuple[Features, Features]:
    try:
        return batch["x_ulb_w"], batch["x_ulb_s"]
    except KeyError:
        raise ValueError(
            f"method {name} needs the batch keys x_ulb_w and x_ulb_s (weak and strong views of the "
            "unlabelled items); the training loop adds them for methods that list them in `views`"
        ) from None


class _WeakStrong(Method):
    """Shared forward pass: labelled items, weak views and strong views through the head at once."""

    uses_unlabeled = True
    views = ("ulb_w", "ulb_s")
    # Only the views are read; the weak view's scores are constant targets (every subclass detaches
    # them), so a trainable backbone encodes it without a graph (as USB does).
    reads_ulb = False
    target_views = ("ulb_w",)
    # A cosine head on uncentred frozen features stays too flat for confident pseudo-labels
    # (docs/methods/fixmatch.md, "Centred features").
    center_input = True

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        width = int(getattr(self.cfg, "supcon_projection", 0))
        if width and float(getattr(self.cfg, "lambda_supcon", 0.0)) > 0:
            d = self.model.latent_dim
            self.supcon_head = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, width))

    @classmethod
    def view_keys(cls, cfg: MethodConfig) -> tuple[str, ...]:
        # the contrastive term pairs each labelled item with a strong view of itself
        keys = (*cls.views, "lb_s") if getattr(cfg, "lambda_supcon", 0.0) > 0 else cls.views
        return (*keys, "lb_w") if getattr(cfg, "weak_labeled", False) else keys

    def forward_views(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """Scores of the labelled items, the weak and the strong views; with ``x_lb_s`` in the
        batch, the head also runs over it and :meth:`supcon_term` reads the latents."""
        x_w, x_s = _views(batch, self.name)
        x_lb = batch["x_lb_w"] if "x_lb_w" in batch else batch["x_lb"]  # method.weak_labeled
        n_lb, n_u = len(x_lb), len(x_w)
        extra = [batch["x_lb_s"]] if "x_lb_s" in batch else []
        out = self.model.head(Features.cat([x_lb, x_w, x_s, *extra]))
        z = out.z
        self._latents = (z[:n_lb], z[n_lb + 2 * n_u :], z[n_lb + n_u : n_lb + 2 * n_u]) if extra else None
        scores = out.scores
        return scores[:n_lb], scores[n_lb : n_lb + n_u], scores[n_lb + n_u : n_lb + 2 * n_u]

    def supcon_term(
        self, batch: Batch, loss: Tensor, terms: dict[str, Tensor], pseudo: dict[str, Tensor] | None = None
    ) -> Tensor:
        """``loss + λ_supcon · SupCon`` over the labelled latents and those of their strong views
        (each item's own view is always a positive), the term logged as ``supcon``; ``loss``
        unchanged when the term is off. With ``method.supcon_unlabeled`` and ``pseudo`` (the
        output of :func:`pseudo_label_loss`: ``pseudo_labels`` and ``mask``), the strong views of
        the masked-in unlabelled items join under their pseudo-label (logged: ``supcon_ulb_rate``).
        Call after :meth:`forward_views`."""
        weight = float(getattr(self.cfg, "lambda_supcon", 0.0))
        latents, self._latents = getattr(self, "_latents", None), None  # hold no graph past the step
        if weight <= 0 or latents is None:
            return loss
        z_lb, z_lb_s, z_s = latents
        y = batch["y_lb"]
        emb, tgt = [z_lb, z_lb_s], [y, y]
        valid = [torch.ones(2 * len(y), dtype=torch.bool, device=y.device)]
        if getattr(self.cfg, "supcon_unlabeled", False) and pseudo is not None:
            mask = pseudo["mask"].detach() > 0
            emb.append(z_s)
            tgt.append(pseudo["pseudo_labels"].detach().to(y.dtype))
            valid.append(mask)
            terms["supcon_ulb_rate"] = mask.float().mean()
        embeddings = torch.cat(emb)
        if hasattr(self, "supcon_head"):  # method.supcon_projection
            embeddings = self.supcon_head(embeddings)
        terms["supcon"] = supcon_loss(
            embeddings=embeddings,
            targets=torch.cat(tgt),
            temperature=float(self.cfg.supcon_temperature),  # type: ignore[attr-defined]
            valid=torch.cat(valid),
        )
        return loss + weight * terms["supcon"]


class MeanPrediction(nn.Module):
    """The running mean weak-view prediction ``p̂`` that distribution alignment divides by, a buffer
    so it is checkpointed: ``p̂ ← m p̂ + (1-m) mean_j p_j``, the first batch setting it."""

    def __init__(self, num_classes: int, momentum: float) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("p_model", torch.full((num_classes,), 1.0 / num_classes))
        self.register_buffer("p_model_set", torch.tensor(0.0))

    @torch.no_grad()
    def update(self, probs: Tensor) -> None:
        probs = gather(probs.detach().float())  # the global batch under DDP
        if self.p_model_set.item() == 0.0:
            self.p_model.copy_(probs.mean(dim=0))
            self.p_model_set.fill_(1.0)
        else:
            self.p_model.mul_(self.momentum).add_((1 - self.momentum) * probs.mean(dim=0))

    def align(self, probs: Tensor) -> Tensor:
        """Update with ``probs`` (B, K), then return them aligned to the uniform distribution."""
        self.update(probs)
        return distribution_alignment(probs=probs, p_model=self.p_model)


@register_method
class FixMatch(_WeakStrong):
    """FixMatch: confident weak-view pseudo-labels enforced on strong views (Sohn et al. 2020)."""

    name = "fixmatch"
    config_class = FixMatchConfig

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        cfg: FixMatchConfig = self.cfg  # type: ignore[assignment]
        if cfg.dist_align:
            self.dist = MeanPrediction(self.num_classes, cfg.ema)

    def train_step(self, batch: Batch) -> dict[str, Tensor]:
        cfg: FixMatchConfig = self.cfg  # type: ignore[assignment]
        s_lb, s_w, s_s = self.forward_views(batch)
        ce = categorical_loss(scores=s_lb, targets=batch["y_lb"])
        aligned = self.dist.align(s_w.detach().float().softmax(dim=-1)) if cfg.dist_align else None
        parts = pseudo_label_loss(
            scores_weak=s_w, scores_strong=s_s, threshold=cfg.threshold, probs_weak=aligned
        )
        ramp = self.ramp(batch)
        terms = {
            "ce": ce,
            "unsup": parts["loss"],
            "mask_rate": parts["mask_rate"],
            "ramp": torch.tensor(ramp),
        }
        terms["loss"] = self.supcon_term(batch, ce + ramp * cfg.lambda_u * parts["loss"], terms, parts)
        return terms


class SelfAdaptiveThreshold(nn.Module):
    """FreeMatch's self-adaptive thresholds (SAT), kept as buffers so they are checkpointed.

    From the weak-view probabilities ``p`` (B, K) of each unlabelled batch, with momentum λ:
    ``τ ← λτ + (1-λ)·mean_j max_k p_jk`` (global), ``p̃ ← λp̃ + (1-λ)·mean_j p_j`` (class-wise),
    ``h̃ ← λh̃ + (1-λ)·hist(argmax p)/B``; starting from ``τ = 1/K``, ``p̃ = h̃ = 1/K``. The
    threshold of class c is ``τ · p̃_c / max_k p̃_k``.
    """

    def __init__(self, num_classes: int, momentum: float) -> None:
        super().__init__()
        self.momentum = momentum
        uniform = torch.full((num_classes,), 1.0 / num_classes)
        self.register_buffer("time_p", torch.tensor(1.0 / num_classes))
        self.register_buffer("p_model", uniform.clone())
        self.register_buffer("label_hist", uniform.clone())

    @torch.no_grad()
    def update(self, probs: Tensor) -> None:
        probs = gather(probs.detach().float())  # the global batch under DDP
        m, k = self.momentum, self.p_model.shape[0]
        self.time_p.mul_(m).add_((1 - m) * probs.max(dim=-1).values.mean())
        self.p_model.mul_(m).add_((1 - m) * probs.mean(dim=0))
        hist = torch.bincount(probs.argmax(dim=-1), minlength=k).float()
        self.label_hist.mul_(m).add_((1 - m) * hist / hist.sum())

    def thresholds(self) -> Tensor:
        """(K,) per-class thresholds ``τ · p̃ / max p̃``."""
        return self.time_p * self.p_model / self.p_model.max()


@register_method
class FreeMatch(_WeakStrong):
    """FreeMatch: self-adaptive thresholds and class fairness (Wang et al. 2023)."""

    name = "freematch"
    config_class = FreeMatchConfig

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        cfg: FreeMatchConfig = self.cfg  # type: ignore[assignment]
        self.sat = SelfAdaptiveThreshold(self.num_classes, cfg.ema)

    def train_step(self, batch: Batch) -> dict[str, Tensor]:
        cfg: FreeMatchConfig = self.cfg  # type: ignore[assignment]
        s_lb, s_w, s_s = self.forward_views(batch)
        ce = categorical_loss(scores=s_lb, targets=batch["y_lb"])
        # The thresholds of this step already include this batch (update, then mask).
        self.sat.update(s_w.float().softmax(dim=-1))
        tau = self.sat.thresholds()
        parts = pseudo_label_loss(scores_weak=s_w, scores_strong=s_s, threshold=tau)
        ramp = self.ramp(batch)
        loss = ce + ramp * cfg.lambda_u * parts["loss"]
        terms = {
            "ce": ce,
            "unsup": parts["loss"],
            "mask_rate": parts["mask_rate"],
            "threshold_global": self.sat.time_p.detach().clone(),
            "threshold_min": tau.min().detach(),
            "threshold_max": tau.max().detach(),
        }
        if cfg.lambda_fair > 0:
            terms["fair"] = self_adaptive_fairness_loss(
                scores_strong=s_s,
                mask=parts["mask"],
                p_model=self.sat.p_model,
                label_hist=self.sat.label_hist,
            )
            loss = loss + ramp * cfg.lambda_fair * terms["fair"]
        terms["loss"] = self.supcon_term(batch, loss, terms, parts)
        terms["ramp"] = torch.tensor(ramp)
        return terms
