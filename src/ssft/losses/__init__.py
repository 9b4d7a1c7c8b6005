"""Every loss term of every method, one term per file, each a pure function of tensors.

All functions take keyword arguments and return a scalar (or a dict of scalars when a term has
parts worth logging). Batch-level terms gather over ranks under DDP (:mod:`ssft.distributed`).
"""

from ssft.losses.adversarial import (
    discriminator_loss,
    generator_loss,
    sample_categorical_prior,
    sample_gaussian_prior,
)
from ssft.losses.alignment import alignment_infonce_loss
from ssft.losses.binary import binary_loss
from ssft.losses.categorical import categorical_loss, categorical_twin_loss
from ssft.losses.distribution_alignment import distribution_alignment
from ssft.losses.fairness import self_adaptive_fairness_loss
from ssft.losses.label_infonce import label_infonce_loss
from ssft.losses.marginal import marginal_entropy_loss
from ssft.losses.posterior import log_posterior, posterior
from ssft.losses.pseudo_label import pseudo_label_loss
from ssft.losses.reconstruction import reconstruction_loss
from ssft.losses.soft_pseudo_label import soft_pseudo_label_loss, truncated_gaussian_weight
from ssft.losses.supcon import supcon_loss

__all__ = [
    "alignment_infonce_loss",
    "binary_loss",
    "categorical_loss",
    "categorical_twin_loss",
    "discriminator_loss",
    "distribution_alignment",
    "generator_loss",
    "label_infonce_loss",
    "log_posterior",
    "marginal_entropy_loss",
    "posterior",
    "pseudo_label_loss",
    "reconstruction_loss",
    "sample_categorical_prior",
    "sample_gaussian_prior",
    "self_adaptive_fairness_loss",
    "soft_pseudo_label_loss",
    "supcon_loss",
    "truncated_gaussian_weight",
]
