"""Batch-level terms see the global batch under a process group: two CPU ranks (gloo) give the
same marginal and alignment losses as one process holding the concatenated batch."""

from __future__ import annotations

import json

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ssft.losses import alignment_infonce_loss, marginal_entropy_loss

B, K, D = 4, 3, 5


def batch(rank: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + rank)
    return (
        torch.randn(B, K, generator=g).softmax(-1),
        torch.randn(B, D, generator=g),
        torch.randn(B, D, generator=g),
    )


def worker(rank: int, world: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        probs, z, t = batch(rank)
        probs.requires_grad_(True)
        z.requires_grad_(True)
        marg = marginal_entropy_loss(probs=probs, prior=torch.full((K,), 1 / K))
        align = alignment_infonce_loss(z=z, target=t, temperature=0.3)
        (marg + align).backward()
        with open(f"{out}.{rank}", "w") as f:
            json.dump({"marg": marg.item(), "align": align.item(), "grad": float(z.grad.abs().sum())}, f)
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_two_ranks_match_one_process_with_the_global_batch(tmp_path):
    mp.spawn(worker, args=(2, f"file://{tmp_path / 'rendezvous'}", str(tmp_path / "out")), nprocs=2)
    parts = [batch(r) for r in range(2)]
    probs = torch.cat([p[0] for p in parts])
    z = torch.cat([p[1] for p in parts])
    t = torch.cat([p[2] for p in parts])
    want_marg = marginal_entropy_loss(probs=probs, prior=torch.full((K,), 1 / K)).item()
    want_align = alignment_infonce_loss(z=z, target=t, temperature=0.3).item()
    for r in range(2):
        got = json.loads((tmp_path / f"out.{r}").read_text())
        assert got["marg"] == pytest.approx(want_marg, rel=1e-5)
        assert got["align"] == pytest.approx(want_align, rel=1e-5)
        assert got["grad"] > 0  # the local slice keeps its gradient
