"""Token aggregation: a sequence ``(B, N, d)`` with a mask ``(B, N)`` -> one vector ``(B, d)``.

Position 0 is the projector's own learned [CLS] token (see :mod:`ssft.heads.projector`), so ``cls``
works for every backbone, those without a [CLS] token (SigLIP) included. Padding positions
(``mask == False``) never contribute to ``mean`` or ``attention``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ssft.registry import Registry

AGGREGATIONS: Registry[type[nn.Module]] = Registry("aggregation")


def masked_mean(tokens: Tensor, mask: Tensor | None) -> Tensor:
    """Mean over real tokens. tokens (B, N, d), mask (B, N) bool or None -> (B, d)."""
    if mask is None:
        return tokens.mean(dim=1)
    w = mask.to(tokens.dtype).unsqueeze(-1)
    return (tokens * w).sum(dim=1) / w.sum(dim=1).clamp_min(1.0)


@AGGREGATIONS.register("cls", help="the projector's [CLS] token")
class ClsAggregation(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()

    def forward(self, tokens: Tensor, mask: Tensor | None) -> Tensor:
        return tokens[:, 0]


@AGGREGATIONS.register("mean", help="mean of the real tokens after [CLS]")
class MeanAggregation(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()

    def forward(self, tokens: Tensor, mask: Tensor | None) -> Tensor:
        if tokens.shape[1] == 1:
            return tokens[:, 0]
        return masked_mean(tokens[:, 1:], None if mask is None else mask[:, 1:])


@AGGREGATIONS.register("cls_mean", help="[CLS] concatenated with the mean, mapped back to d")
class ClsMeanAggregation(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.mean = MeanAggregation(dim)
        self.proj = nn.Linear(2 * dim, dim)

    def forward(self, tokens: Tensor, mask: Tensor | None) -> Tensor:
        return self.proj(torch.cat([tokens[:, 0], self.mean(tokens, mask)], dim=-1))


@AGGREGATIONS.register("attention", help="attention pooling with a learned query")
class AttentionAggregation(nn.Module):
    #: the learned query is an embedding, not a weight matrix: no weight decay
    no_weight_decay = ("query",)

    def __init__(self, dim: int, heads: int = 4) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, dim) * dim**-0.5)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: Tensor, mask: Tensor | None) -> Tensor:
        q = self.query.expand(tokens.shape[0], -1, -1)
        pad = None if mask is None else ~mask
        out, _ = self.attn(q, tokens, tokens, key_padding_mask=pad, need_weights=False)
        return self.norm(out[:, 0])


def build_aggregation(name: str, dim: int, heads: int = 4) -> nn.Module:
    cls = AGGREGATIONS.get(name)
    return cls(dim, heads) if cls is AttentionAggregation else cls(dim)
