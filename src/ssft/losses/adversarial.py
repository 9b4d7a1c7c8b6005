"""Adversarial KL to a prior: discriminator and generator sides, and prior samplers.

A discriminator ``D`` (logit output) tells prior samples ("real") from the model's outputs
("fake"). At the optimum ``D*/(1-D*) = p(x)/q(x)``, so ``KL(q‖p) = E_q[log q/p] ≈ -E_q[logit D]``
(``density_ratio``), or the model plays the ``non_saturating`` GAN game ``E_q[-log D]``.
Used by TwinTURBO (predicted label vectors vs label vectors drawn around ``π``'s one-hots) and by content-style
(content vs ``Cat(π)``, style vs ``N(0, I)``): one implementation for both.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def discriminator_loss(*, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
    """Binary cross-entropy: real -> 1, fake -> 0, mean of the two halves. Also its accuracy."""
    r, f = real_logits.float(), fake_logits.float()
    loss = 0.5 * (
        F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
        + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
    )
    acc = 0.5 * ((r > 0).float().mean() + (f <= 0).float().mean())
    return {"loss": loss, "accuracy": acc.detach()}


def generator_loss(*, fake_logits: Tensor, kind: str = "density_ratio") -> Tensor:
    """The model's side. ``density_ratio``: ``-E[logit D(fake)]`` (= ``E[log (1-D)/D]``, the KL
    estimate); ``non_saturating``: ``E[-log σ(logit)] = E[softplus(-logit)]``."""
    f = fake_logits.float()
    if kind == "density_ratio":
        return -f.mean()
    if kind == "non_saturating":
        return F.softplus(-f).mean()
    raise ValueError(f"unknown generator loss {kind!r}; known: density_ratio, non_saturating")


def sample_categorical_prior(
    n: int,
    prior: Tensor,
    *,
    kind: str = "onehot",
    smoothing: float = 0.0,
    concentration: float = 10.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``n`` label vectors (n, K) around classes ``y ~ Cat(π)``, each with mean
    ``m_y = (1-ε)·onehot(y) + ε/K`` (``ε`` = ``smoothing``).

    ``onehot``: the vector is ``m_y`` itself, a point mass (exact one-hots when ``ε = 0``).
    ``dirichlet``: ``v ~ Dir(A·m_y)`` with total concentration ``A`` = ``concentration``; needs
    ``0 < ε < 1``. It has a density on the whole simplex, so ``KL(q‖p)`` is finite for any model
    posterior ``q`` with a density, unlike the point masses. As ``A → ∞`` it tends to ``m_y``.
    """
    k = prior.numel()
    idx = torch.multinomial(prior.float().cpu(), n, replacement=True, generator=generator)
    mean = F.one_hot(idx, k).float()
    if smoothing:
        mean = (1.0 - smoothing) * mean + smoothing / k
    if kind == "onehot":
        return mean.to(prior.device)
    if kind != "dirichlet":
        raise ValueError(f"unknown prior samples {kind!r}; known: onehot, dirichlet")
    if not 0.0 < smoothing < 1.0 or concentration <= 0:
        raise ValueError(
            f"Dirichlet prior samples need 0 < smoothing < 1 and concentration > 0, "
            f"got smoothing={smoothing}, concentration={concentration}"
        )
    # Gamma draws from a numpy generator seeded by the torch generator, so the samples follow the
    # (checkpointed) torch generator state exactly; torch's own Dirichlet takes no generator.
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    gamma = np.random.default_rng(seed).standard_gamma(concentration * mean.double().numpy())
    v = torch.from_numpy(gamma / gamma.sum(axis=1, keepdims=True)).float()
    return v.to(prior.device)


def sample_gaussian_prior(
    n: int, dim: int, *, device: torch.device | str = "cpu", generator: torch.Generator | None = None
) -> Tensor:
    """``n`` samples of ``N(0, I_dim)``."""
    return torch.randn(n, dim, generator=generator).to(device)
