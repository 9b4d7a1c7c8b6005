"""The class posterior ``q(y|x)`` that the task-space terms share, from class scores ``s``.

Every task-space term of TwinTURBO (conditional, marginal, adversarial KL) must speak about the
same distribution; which one depends on the conditional term (docs/methods/twinturbo.md):

* ``softmax``: ``q_k = exp(s_k) / Σ_j exp(s_j)``, the posterior the categorical terms train;
* ``sigmoid``: the normalised per-class sigmoids ``q_k = σ(s_k) / Σ_j σ(s_j)``, the posterior
  the binary (SigLIP-style) term bounds: ``Σ_k BCE(s_k, [y = k]) ≥ -log q_y`` for every ``s``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

POSTERIORS = ("softmax", "sigmoid")


def log_posterior(*, scores: Tensor, kind: str = "softmax") -> Tensor:
    """``log q(·|x)`` (B, K) from scores (B, K), in float32. ``sigmoid`` is computed in log space
    (``log σ(s_k) - logsumexp_j log σ(s_j)``), so very negative scores do not underflow."""
    if scores.ndim != 2:
        raise ValueError(f"scores must be (B, K), got shape {tuple(scores.shape)}")
    s = scores.float()
    if kind == "softmax":
        return s.log_softmax(dim=-1)
    if kind == "sigmoid":
        return F.logsigmoid(s).log_softmax(dim=-1)
    raise ValueError(f"unknown posterior {kind!r}; known: {', '.join(POSTERIORS)}")


def posterior(*, scores: Tensor, kind: str = "softmax") -> Tensor:
    """``q(·|x)`` (B, K), rows summing to 1; see :func:`log_posterior`."""
    return log_posterior(scores=scores, kind=kind).exp()
