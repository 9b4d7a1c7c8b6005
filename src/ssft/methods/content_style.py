"""Content-style decomposition of the backbone latent (Drozdova, Kinakh, Belousov, Lastufka,
Voloshynovskiy, arXiv 2410.02069; our reconstruction, docs/methods/content_style.md).

An encoder ``E`` maps the latent (the backbone's pooled ``z*``, or the projector latent ``z``) to
content logits ``c ∈ R^K`` and a style vector ``s ∈ R^{d_s}``; a decoder ``G`` maps
``[softmax(c); s]`` back to ``ẑ ≈ z*``. The objective, each term separately logged:

* ``ce``: cross-entropy of ``c`` on labelled data;
* ``content_kl``: adversarial ``KL(q(ĉ) ‖ Cat(π))`` (discriminator: prior samples around the
  one-hots of π, Dirichlet by default, vs ĉ);
* ``style_kl``: adversarial ``KL(q(s) ‖ N(0, I))`` (discriminator: Gaussian samples vs s);
* ``rec``: ``1 - cos(ẑ, z*)`` or MSE, against the stop-gradient ``z*``, on all data.

``loss = ce + λ_c·content_kl + λ_s·style_kl + λ_r·rec``. Prediction uses the content logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ssft.backbones.base import Features
from ssft.config import MethodConfig, choice, doc
from ssft.errors import ConfigError
from ssft.heads.discriminator import AdversarialPrior
from ssft.losses import categorical_loss, reconstruction_loss
from ssft.methods.base import Batch, Method, prior_sample_options, register_method


@dataclass
class ContentStyleConfig(MethodConfig):
    input: str = choice("pooled", "pooled", "projector", help="encoder input: z* or the projector latent z")
    style_dim: int = doc(16, "d_s, width of the style vector")
    encoder_hidden: int = doc(256, "encoder MLP width (0 = linear encoder)")
    decoder_hidden: int = doc(256, "decoder MLP width (0 = linear decoder)")
    lambda_content: float = doc(0.1, "λ_c, weight of the content KL to Cat(π) (0 = off)")
    lambda_style: float = doc(0.1, "λ_s, weight of the style KL to N(0, I) (0 = off)")
    lambda_rec: float = doc(1.0, "λ_r, weight of the reconstruction (0 = off)")
    reconstruction: str = choice("cosine", "cosine", "mse", help="L_rec: 1 - cos or mean squared error")
    prior: str = choice("uniform", "uniform", "labelled", help="label prior π")
    prior_samples: str = choice(
        "dirichlet", "dirichlet", "smoothed", "onehot", help="content prior samples around the one-hots"
    )
    prior_smoothing: float = doc(0.1, "ε: prior samples have mean (1-ε)·onehot + ε/K (not onehot)")
    prior_concentration: float = doc(10.0, "prior_samples=dirichlet: total concentration A")
    kl_generator: str = choice(
        "density_ratio", "density_ratio", "non_saturating", help="model's side of both KL terms"
    )
    disc_hidden: int = doc(128, "discriminator width")
    disc_depth: int = doc(2, "discriminator layers")
    disc_lr: float = doc(1e-3, "discriminator learning rate (own AdamW)")
    disc_steps: int = doc(1, "discriminator updates per model step")
    dropout: float = doc(0.1, "dropout in the encoder")
    ramp: float = doc(0.1, "fraction of the steps over which the KL weights ramp up from 0")
    lambda_consistency: float = doc(
        0.0, "weight of the FixMatch-style consistency on strong views (0 = off; beyond the paper)"
    )
    consistency_threshold: float = doc(0.95, "confidence threshold of the consistency term")

    def validate(self) -> None:
        if self.style_dim < 1:
            raise ConfigError("method.style_dim must be >= 1")
        for name in ("lambda_content", "lambda_style", "lambda_rec", "encoder_hidden", "decoder_hidden"):
            if getattr(self, name) < 0:
                raise ConfigError(f"method.{name} must be >= 0")
        if not 0.0 <= self.ramp < 1.0:
            raise ConfigError("method.ramp must be in [0, 1)")
        prior_sample_options(self)
        if self.disc_steps < 1:
            raise ConfigError("method.disc_steps must be >= 1")
        if self.lambda_consistency < 0 or not 0.0 <= self.consistency_threshold <= 1.0:
            raise ConfigError(
                "method.lambda_consistency must be >= 0 and method.consistency_threshold in [0, 1]"
            )


def mlp(in_dim: int, hidden: int, out_dim: int, dropout: float = 0.0) -> nn.Module:
    if hidden == 0:
        return nn.Linear(in_dim, out_dim)
    return nn.Sequential(
        nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, out_dim)
    )


class ContentStyleEncoder(nn.Module):
    """``E: latent -> (content logits (B, K), style (B, d_s))``."""

    def __init__(self, in_dim: int, num_classes: int, style_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(in_dim)
        self.net = mlp(in_dim, hidden, num_classes + style_dim, dropout)
        self.num_classes = num_classes

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = self.net(self.norm(x))
        return out[:, : self.num_classes], out[:, self.num_classes :]


class ContentStyleDecoder(nn.Module):
    """``G: [softmax(c); s] -> ẑ (B, D)``."""

    def __init__(self, num_classes: int, style_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.net = mlp(num_classes + style_dim, hidden, out_dim)

    def forward(self, content_probs: Tensor, style: Tensor) -> Tensor:
        return self.net(torch.cat([content_probs, style], dim=-1))


@register_method
class ContentStyle(Method):
    """Content-style decomposition of the [CLS] latent with adversarial priors (arXiv 2410.02069)."""

    name = "content_style"
    config_class = ContentStyleConfig
    uses_unlabeled = True

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        cfg: ContentStyleConfig = self.cfg  # type: ignore[assignment]
        k, d_star = self.num_classes, self.model.backbone.dim
        in_dim = d_star if cfg.input == "pooled" else self.model.latent_dim
        self.encoder = ContentStyleEncoder(in_dim, k, cfg.style_dim, cfg.encoder_hidden, cfg.dropout)
        self.decoder = ContentStyleDecoder(k, cfg.style_dim, cfg.decoder_hidden, d_star)
        common = dict(
            hidden=cfg.disc_hidden,
            depth=cfg.disc_depth,
            lr=cfg.disc_lr,
            steps=cfg.disc_steps,
            generator_kind=cfg.kl_generator,
        )
        if cfg.lambda_content > 0:
            self.content_adversary = AdversarialPrior(
                k,
                prior="categorical",
                class_prior=self.label_prior(cfg.prior),
                seed=self.seed,
                **prior_sample_options(cfg),
                **common,  # type: ignore[arg-type]
            )
        if cfg.lambda_style > 0:
            self.style_adversary = AdversarialPrior(
                cfg.style_dim,
                prior="gaussian",
                seed=self.seed + 1,
                **common,  # type: ignore[arg-type]
            )
        if cfg.input == "pooled":
            # The projector and classifier of the shared model are not used: keep them out of the
            # optimiser so weight decay does not touch idle parameters.
            for p in list(self.model.projector.parameters()) + list(self.model.classifier.parameters()):
                p.requires_grad_(False)

    def adversaries(self) -> list[nn.Module]:
        return [
            m for m in (getattr(self, "content_adversary", None), getattr(self, "style_adversary", None)) if m
        ]

    def decompose(self, feats: Features) -> dict[str, Tensor]:
        """Content logits, content probabilities, style and reconstruction for a batch."""
        cfg: ContentStyleConfig = self.cfg  # type: ignore[assignment]
        x = feats.pooled if cfg.input == "pooled" else self.model.projector(feats)
        c, s = self.encoder(x.float())
        probs = c.softmax(dim=-1)
        return {"content": c, "content_probs": probs, "style": s, "recon": self.decoder(probs, s)}

    def scores(self, feats: Features) -> Tensor:
        return self.decompose(feats)["content"]

    @classmethod
    def view_keys(cls, cfg: MethodConfig) -> tuple[str, ...]:
        return ("ulb_s",) if getattr(cfg, "lambda_consistency", 0.0) > 0 else ()

    def train_step(self, batch: Batch) -> dict[str, Tensor]:
        cfg: ContentStyleConfig = self.cfg  # type: ignore[assignment]
        x_lb: Features = batch["x_lb"]
        x_ulb: Features | None = batch.get("x_ulb")
        n_lb = len(x_lb)
        feats = x_lb if x_ulb is None else Features.cat([x_lb, x_ulb])
        out = self.decompose(feats)
        terms: dict[str, Tensor] = {
            "ce": categorical_loss(scores=out["content"][:n_lb], targets=batch["y_lb"])
        }
        loss = terms["ce"]
        ramp = self.ramp(batch)
        if cfg.lambda_rec > 0:
            terms["rec"] = reconstruction_loss(
                recon=out["recon"], target=feats.pooled, kind=cfg.reconstruction
            )
            loss = loss + cfg.lambda_rec * terms["rec"]
        if self.training:
            for name, weight, key in (
                ("content", cfg.lambda_content, "content_probs"),
                ("style", cfg.lambda_style, "style"),
            ):
                if weight <= 0:
                    continue
                adversary: AdversarialPrior = getattr(self, f"{name}_adversary")
                d = adversary.discriminator_step(out[key])
                terms[f"{name}_kl"] = adversary.generator_loss(out[key])
                terms[f"d_{name}_loss"] = torch.tensor(d["d_loss"])
                terms[f"d_{name}_acc"] = torch.tensor(d["d_acc"])
                loss = loss + ramp * weight * terms[f"{name}_kl"]
        if x_ulb is not None and cfg.lambda_consistency > 0:
            terms.update(self.consistency_term(out["content"][n_lb:], batch))
            loss = loss + ramp * cfg.lambda_consistency * terms["consistency"]
        terms["loss"] = loss
        terms["ramp"] = torch.tensor(ramp)
        return terms
