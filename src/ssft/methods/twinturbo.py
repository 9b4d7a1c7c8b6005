"""TwinTURBO (Quétant, Molchanov, Voloshynovskiy, arXiv 2503.07851): a small projector on a
frozen (or trainable) backbone trained with two mutual-information lower bounds.

Task space, ``I(X;Y) = H(Y) - H(Y|X)``:

* ``cond``: the conditional term on labelled data, one of ``categorical``, ``categorical_twin``,
  ``binary`` (SigLIP-style, uses the classifier's temperature and bias) or ``infonce``;
* ``marginal``: ``-Σ_k π_k log q̄_k`` on the batch-averaged posterior of unlabelled data;
* ``kl``: ``KL(q(ŷ) ‖ p(y))`` between predicted probability vectors and label vectors drawn
  around the prior's one-hots (Dirichlet by default), estimated by a discriminator on its own
  optimiser (:class:`~ssft.heads.discriminator.AdversarialPrior`).

The marginal and KL terms use the posterior ``q`` that the conditional term trains
(``method.posterior=matched``), or ``softmax(s)`` for every conditional (``softmax``, the
paper's mixed form); :meth:`TwinTurbo.posterior`.

Latent space, ``I(X;Z*)``:

* ``align``: InfoNCE between the projector latent (through a small head) and the stop-gradient
  backbone latent ``z*`` of the same sample, labelled and unlabelled;
* ``supcon``: supervised contrastive loss on the labelled latents.

``loss = cond + λ_marg·marginal + λ_kl·kl + λ_align·align + λ_supcon·supcon``; every term with a
zero weight is skipped, every computed term is logged (see docs/methods/twinturbo.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ssft.backbones.base import Features
from ssft.config import MethodConfig, choice, doc
from ssft.errors import ConfigError
from ssft.heads.classifier import CosineClassifier
from ssft.heads.discriminator import AdversarialPrior
from ssft.heads.model import HeadOutput
from ssft.losses import (
    alignment_infonce_loss,
    binary_loss,
    categorical_loss,
    categorical_twin_loss,
    label_infonce_loss,
    marginal_entropy_loss,
    posterior,
    supcon_loss,
)
from ssft.methods.base import Batch, Method, prior_sample_options, register_method


@dataclass
class TwinTurboConfig(MethodConfig):
    conditional: str = choice(
        "binary", "categorical", "categorical_twin", "binary", "infonce", help="conditional term H(Y|X)"
    )
    lambda_marginal: float = doc(1.0, "weight of the marginal cross-entropy (0 = off)")
    lambda_kl: float = doc(0.1, "weight of the adversarial KL to the label prior (0 = off)")
    lambda_align: float = doc(0.5, "weight of the latent alignment InfoNCE (0 = off)")
    lambda_supcon: float = doc(0.5, "weight of the supervised contrastive term (0 = off)")
    prior: str = choice("uniform", "uniform", "labelled", help="label prior π")
    kl_generator: str = choice(
        "density_ratio", "density_ratio", "non_saturating", help="model's side of the KL term"
    )
    posterior: str = choice(
        "matched",
        "matched",
        "softmax",
        help="q(y|x) of the marginal and KL terms: the conditional's own (matched) or softmax(s)",
    )
    prior_samples: str = choice(
        "dirichlet", "dirichlet", "smoothed", "onehot", help="KL prior samples around the one-hots"
    )
    prior_smoothing: float = doc(0.1, "ε: prior samples have mean (1-ε)·onehot + ε/K (not onehot)")
    prior_concentration: float = doc(10.0, "prior_samples=dirichlet: total concentration A")
    disc_hidden: int = doc(128, "discriminator width")
    disc_depth: int = doc(2, "discriminator layers")
    disc_lr: float = doc(1e-3, "discriminator learning rate (own AdamW)")
    disc_steps: int = doc(1, "discriminator updates per model step")
    temperature: float = doc(0.1, "temperature of the InfoNCE / SupCon terms")
    align_hidden: int = doc(256, "width of the alignment head z -> z*")
    ramp: float = doc(0.1, "fraction of the steps over which unlabelled-data weights ramp up from 0")
    lambda_consistency: float = doc(
        0.0, "weight of the FixMatch-style consistency on strong views (0 = off; beyond the paper)"
    )
    consistency_threshold: float = doc(0.95, "confidence threshold of the consistency term")

    def validate(self) -> None:
        for name in ("lambda_marginal", "lambda_kl", "lambda_align", "lambda_supcon"):
            if getattr(self, name) < 0:
                raise ConfigError(f"method.{name} must be >= 0")
        if self.temperature <= 0:
            raise ConfigError("method.temperature must be > 0")
        if not 0.0 <= self.ramp < 1.0:
            raise ConfigError("method.ramp must be in [0, 1)")
        if self.disc_steps < 1:
            raise ConfigError("method.disc_steps must be >= 1")
        prior_sample_options(self)
        if self.lambda_consistency < 0 or not 0.0 <= self.consistency_threshold <= 1.0:
            raise ConfigError(
                "method.lambda_consistency must be >= 0 and method.consistency_threshold in [0, 1]"
            )


@register_method
class TwinTurbo(Method):
    """TwinTURBO: task-space and latent-space mutual-information bounds (arXiv 2503.07851)."""

    name = "twinturbo"
    config_class = TwinTurboConfig
    uses_unlabeled = True

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        cfg: TwinTurboConfig = self.cfg  # type: ignore[assignment]
        if cfg.conditional in ("binary", "infonce") and not isinstance(
            self.model.classifier, CosineClassifier
        ):
            raise ConfigError(f"method.conditional={cfg.conditional} needs model.classifier=cosine")
        d = self.model.latent_dim
        if cfg.lambda_align > 0:
            self.align_head = nn.Sequential(
                nn.Linear(d, cfg.align_hidden),
                nn.GELU(),
                nn.Linear(cfg.align_hidden, self.model.backbone.dim),
            )
        self.prior_kind = cfg.prior
        if cfg.lambda_kl > 0:
            self.adversary = AdversarialPrior(
                self.num_classes,
                prior="categorical",
                class_prior=self.label_prior(cfg.prior),
                hidden=cfg.disc_hidden,
                depth=cfg.disc_depth,
                lr=cfg.disc_lr,
                steps=cfg.disc_steps,
                generator_kind=cfg.kl_generator,
                seed=self.seed,
                **prior_sample_options(cfg),
            )

    def adversaries(self) -> list[nn.Module]:
        return [self.adversary] if hasattr(self, "adversary") else []

    def posterior(self, out: HeadOutput) -> Tensor:
        """``q(y|x)`` (B, K) of the marginal and KL terms and of prediction. ``matched``: the
        posterior the conditional term trains (normalised sigmoids for ``binary``, a softmax over
        ``cos(z, w_k)/τ`` for ``infonce``, ``softmax(s)`` otherwise); ``softmax``: ``softmax(s)``
        whatever the conditional (the paper's mixed form)."""
        cfg: TwinTurboConfig = self.cfg  # type: ignore[assignment]
        if cfg.posterior == "softmax" or cfg.conditional in ("categorical", "categorical_twin"):
            return posterior(scores=out.scores, kind="softmax")
        if cfg.conditional == "binary":
            return posterior(scores=out.scores, kind="sigmoid")
        cosine = self.model.classifier.cosine(out.z)
        return posterior(scores=cosine / cfg.temperature, kind="softmax")

    def probabilities(self, feats: Features) -> Tensor:
        return self.posterior(self.model.head(feats))

    @classmethod
    def view_keys(cls, cfg: MethodConfig) -> tuple[str, ...]:
        return ("ulb_s",) if getattr(cfg, "lambda_consistency", 0.0) > 0 else ()

    def conditional(self, scores: Tensor, z: Tensor, y: Tensor) -> dict[str, Tensor]:
        cfg: TwinTurboConfig = self.cfg  # type: ignore[assignment]
        if cfg.conditional == "categorical":
            return {"cond": categorical_loss(scores=scores, targets=y)}
        if cfg.conditional == "categorical_twin":
            parts = categorical_twin_loss(scores=scores, targets=y)
            return {
                "cond": parts["loss"],
                "cond_samples_to_classes": parts["samples_to_classes"].detach(),
                "cond_classes_to_samples": parts["classes_to_samples"].detach(),
            }
        if cfg.conditional == "binary":
            return {"cond": binary_loss(scores=scores, targets=y)}
        weight = self.model.classifier.weight
        return {
            "cond": label_infonce_loss(
                embeddings=z, class_embeddings=weight, targets=y, temperature=cfg.temperature
            )
        }

    def train_step(self, batch: Batch) -> dict[str, Tensor]:
        cfg: TwinTurboConfig = self.cfg  # type: ignore[assignment]
        x_lb: Features = batch["x_lb"]
        y: Tensor = batch["y_lb"]
        x_ulb: Features | None = batch.get("x_ulb")
        n_lb = len(x_lb)
        feats = x_lb if x_ulb is None else Features.cat([x_lb, x_ulb])
        out = self.model.head(feats)  # one pass over both streams
        s_lb, z_lb = out.scores[:n_lb], out.z[:n_lb]

        terms = self.conditional(s_lb, z_lb, y)
        loss = terms["cond"]
        ramp = self.ramp(batch)
        if x_ulb is not None:
            q_ulb = self.posterior(out)[n_lb:]
            if cfg.lambda_marginal > 0:
                terms["marginal"] = marginal_entropy_loss(probs=q_ulb, prior=self.label_prior(cfg.prior))
                loss = loss + ramp * cfg.lambda_marginal * terms["marginal"]
            if cfg.lambda_kl > 0 and self.training:
                d = self.adversary.discriminator_step(q_ulb)
                terms["kl"] = self.adversary.generator_loss(q_ulb)
                terms["d_loss"] = torch.tensor(d["d_loss"])
                terms["d_acc"] = torch.tensor(d["d_acc"])
                loss = loss + ramp * cfg.lambda_kl * terms["kl"]
            if cfg.lambda_consistency > 0:
                terms.update(self.consistency_term(out.scores[n_lb:], batch, probs_ulb=q_ulb))
                loss = loss + ramp * cfg.lambda_consistency * terms["consistency"]
        if cfg.lambda_align > 0:
            terms["align"] = alignment_infonce_loss(
                z=self.align_head(out.z), target=out.pooled, temperature=cfg.temperature
            )
            loss = loss + cfg.lambda_align * terms["align"]
        if cfg.lambda_supcon > 0:
            terms["supcon"] = supcon_loss(embeddings=z_lb, targets=y, temperature=cfg.temperature)
            loss = loss + cfg.lambda_supcon * terms["supcon"]
        terms["loss"] = loss
        terms["ramp"] = torch.tensor(ramp)
        if isinstance(self.model.classifier, CosineClassifier):
            terms["temperature"] = self.model.classifier.temperature.detach()
        return terms
