"""Discriminators for the adversarial KL terms, with their own optimiser (one implementation for
TwinTURBO's label-prior KL and content-style's content and style priors).

:class:`AdversarialPrior` holds a discriminator ``D``, its AdamW optimiser and a seeded generator
for prior samples. Each model step calls :meth:`AdversarialPrior.discriminator_step` on the
detached model outputs (``D`` learns prior vs model), then :meth:`AdversarialPrior.generator_loss`
(the model's KL term, gradient into the model only). The optimiser and generator states travel in
``state_dict`` (``_extra_state``), so a resumed run continues exactly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ssft.distributed import gather
from ssft.losses.adversarial import (
    discriminator_loss,
    generator_loss,
    sample_categorical_prior,
    sample_gaussian_prior,
)


class Discriminator(nn.Module):
    """MLP ``R^in -> R`` (a logit): ``depth`` hidden layers of width ``hidden`` with LeakyReLU."""

    def __init__(self, in_dim: int, hidden: int = 128, depth: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(depth):
            layers += [nn.Linear(d, hidden), nn.LeakyReLU(0.2)]
            d = hidden
        layers.append(nn.Linear(d, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.float()).squeeze(-1)


class AdversarialPrior(nn.Module):
    """Adversarial ``KL(q ‖ p)`` for model outputs of width ``in_dim`` against a prior ``p``:
    ``categorical`` (label vectors around the one-hots of ``class_prior``: ``samples`` =
    ``dirichlet`` with ``smoothing`` and ``concentration``, or ``onehot`` point masses, smoothed by
    ``smoothing``; see :func:`~ssft.losses.adversarial.sample_categorical_prior`) or ``gaussian``
    (``N(0, I)``)."""

    def __init__(
        self,
        in_dim: int,
        *,
        prior: str = "categorical",
        class_prior: Tensor | None = None,
        samples: str = "dirichlet",
        smoothing: float = 0.1,
        concentration: float = 10.0,
        hidden: int = 128,
        depth: int = 2,
        lr: float = 1e-3,
        steps: int = 1,
        generator_kind: str = "density_ratio",
        seed: int = 0,
    ) -> None:
        super().__init__()
        if prior not in ("categorical", "gaussian"):
            raise ValueError(f"unknown prior {prior!r}; known: categorical, gaussian")
        if prior == "categorical":
            if class_prior is None:
                class_prior = torch.full((in_dim,), 1.0 / in_dim)
            self.register_buffer("class_prior", class_prior.detach().clone().float())
            if samples not in ("dirichlet", "onehot"):
                raise ValueError(f"unknown prior samples {samples!r}; known: dirichlet, onehot")
            if samples == "dirichlet" and (not 0.0 < smoothing < 1.0 or concentration <= 0):
                raise ValueError("Dirichlet prior samples need 0 < smoothing < 1 and concentration > 0")
        self.prior, self.in_dim, self.smoothing = prior, in_dim, smoothing
        self.samples, self.concentration = samples, concentration
        self.steps, self.generator_kind = steps, generator_kind
        self.disc = Discriminator(in_dim, hidden, depth)
        self.optimizer = torch.optim.AdamW(
            self.disc.parameters(), lr=lr, betas=(0.5, 0.999), weight_decay=0.0
        )
        self.gen = torch.Generator().manual_seed(int(seed) * 7919 + 17)

    def sample(self, n: int, device: torch.device) -> Tensor:
        if self.prior == "categorical":
            return sample_categorical_prior(
                n,
                self.class_prior,
                kind=self.samples,
                smoothing=self.smoothing,
                concentration=self.concentration,
                generator=self.gen,
            ).to(device)
        return sample_gaussian_prior(n, self.in_dim, device=device, generator=self.gen)

    def discriminator_step(self, fake: Tensor) -> dict[str, float]:
        """Train ``D`` for ``steps`` updates on prior samples vs the detached (global) ``fake``."""
        fake = gather(fake.detach().float())
        out: dict[str, Any] = {}
        with torch.enable_grad(), torch.autocast(fake.device.type, enabled=False):
            for _ in range(self.steps):
                real = self.sample(len(fake), fake.device)
                self.optimizer.zero_grad(set_to_none=True)
                d = discriminator_loss(real_logits=self.disc(real), fake_logits=self.disc(fake))
                d["loss"].backward()
                self.optimizer.step()
                out = {"d_loss": float(d["loss"].detach()), "d_acc": float(d["accuracy"])}
        self.optimizer.zero_grad(set_to_none=True)
        return out

    def generator_loss(self, fake: Tensor) -> Tensor:
        """The model's KL term; gradients reach ``fake`` (the model), ``D``'s are discarded at its
        next step."""
        with torch.autocast(fake.device.type, enabled=False):
            return generator_loss(fake_logits=self.disc(fake.float()), kind=self.generator_kind)

    def get_extra_state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "generator": self.gen.get_state()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        if not state:
            return
        self.optimizer.load_state_dict(state["optimizer"])
        self.gen.set_state(state["generator"])
