"""Batch-level terms see the global batch under a process group: two CPU ranks (gloo) give the
same marginal and alignment losses as one process holding the concatenated batch."""

from __future__ import annotations

import json

import numpy as np
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


# ------------------------------------------------------------------------------------------------
# Gradients: DDP over 2 ranks with per-rank batch B == 1 process with batch 2B, term by term.

N_CLASSES, WIDTH = 3, 6


class Tiny(torch.nn.Module):
    """Scores (B, K) and a latent (B, D) from inputs (B, D), plus class embeddings (K, D)."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.lin = torch.nn.Parameter(torch.randn(WIDTH, WIDTH, generator=g) / WIDTH**0.5)
        self.cls = torch.nn.Parameter(torch.randn(N_CLASSES, WIDTH, generator=g))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.tanh(x @ self.lin)
        return z @ self.cls.t(), z


def term(name: str, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor):
    from ssft.losses import (
        categorical_twin_loss,
        label_infonce_loss,
        self_adaptive_fairness_loss,
        supcon_loss,
    )

    scores, z = model(x)
    if name == "marginal":
        return marginal_entropy_loss(probs=scores.softmax(-1), prior=torch.full((N_CLASSES,), 1 / N_CLASSES))
    if name == "alignment":
        return alignment_infonce_loss(z=z, target=t, temperature=0.3)
    if name == "supcon":
        return supcon_loss(embeddings=z, targets=y, temperature=0.3)
    if name == "twin":
        return categorical_twin_loss(scores=scores, targets=y)["loss"]
    if name == "label_infonce":
        cls = model.module.cls if hasattr(model, "module") else model.cls
        return label_infonce_loss(embeddings=z, class_embeddings=cls, targets=y, temperature=0.3)
    if name == "fairness":
        mask = (y != 0).float()  # some items masked, on every rank
        return self_adaptive_fairness_loss(
            scores_strong=scores,
            mask=mask,
            p_model=torch.tensor([0.2, 0.3, 0.5]),
            label_hist=torch.tensor([0.3, 0.3, 0.4]),
        )
    raise KeyError(name)


TERMS = ("marginal", "alignment", "supcon", "twin", "label_infonce", "fairness")
BG = 6  # per-rank batch


def data(rank: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7 + rank)
    return (
        torch.randn(BG, WIDTH, generator=g),
        torch.randint(0, N_CLASSES, (BG,), generator=g),
        torch.randn(BG, WIDTH, generator=g),
    )


def grads_of(model: torch.nn.Module, loss: torch.Tensor) -> list[list[float]]:
    model.zero_grad()
    loss.backward()
    return [
        (p.grad if p.grad is not None else torch.zeros_like(p)).flatten().tolist() for p in model.parameters()
    ]


def grad_worker(rank: int, world: int, init: str, out: str) -> None:
    from torch.nn.parallel import DistributedDataParallel as DDP

    from ssft.heads.discriminator import AdversarialPrior
    from ssft.methods.fixmatch import SelfAdaptiveThreshold

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        model = DDP(Tiny(), find_unused_parameters=True)  # some terms leave cls out
        x, y, t = data(rank)
        result = {name: grads_of(model, term(name, model, x, y, t)) for name in TERMS}
        # Discriminator batches and FreeMatch's class statistics: the global batch on every rank.
        torch.manual_seed(5)  # the discriminator's initial weights: the same in every process
        adversary = AdversarialPrior(N_CLASSES, seed=3)
        adversary.discriminator_step(x[:, :N_CLASSES].softmax(-1))
        result["disc"] = [p.flatten().tolist() for p in adversary.disc.parameters()]
        sat = SelfAdaptiveThreshold(N_CLASSES, momentum=0.5)
        sat.update(x[:, :N_CLASSES].softmax(-1))
        result["sat"] = sat.thresholds().tolist() + sat.label_hist.tolist()
        with open(f"{out}.{rank}", "w") as f:
            json.dump(result, f)
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_ddp_gradients_of_batch_level_terms_match_one_process_with_the_global_batch(tmp_path):
    from ssft.heads.discriminator import AdversarialPrior
    from ssft.methods.fixmatch import SelfAdaptiveThreshold

    # Spawned, not forked: by the time this test runs in a full session, the pytest process has
    # started threads (torch's intra-op pool, earlier tests' loader and gloo threads). fork copies
    # only the calling thread, so a lock another thread held (OpenMP's pool, the allocator's) stays
    # held in the child forever: the ranks hung past the join once. A spawned rank starts clean
    # (and inherits no RNG state either: the discriminator's initial weights are seeded explicitly;
    # under fork they matched only because both sides drew from the same copied global RNG).
    ctx = mp.get_context("spawn")
    init, out = f"file://{tmp_path / 'rendezvous'}", str(tmp_path / "grads")
    procs = [ctx.Process(target=grad_worker, args=(r, 2, init, out)) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    hung = [p for p in procs if p.exitcode is None]
    for p in hung:
        p.kill()
        p.join()
    assert not hung, f"{len(hung)} rank(s) still running after 120 s"
    assert [p.exitcode for p in procs] == [0, 0]

    parts = [data(r) for r in range(2)]
    x, y, t = (torch.cat([p[i] for p in parts]) for i in range(3))
    model = Tiny()
    want = {name: grads_of(model, term(name, model, x, y, t)) for name in TERMS}
    torch.manual_seed(5)
    adversary = AdversarialPrior(N_CLASSES, seed=3)
    adversary.discriminator_step(x[:, :N_CLASSES].softmax(-1))
    want["disc"] = [p.flatten().tolist() for p in adversary.disc.parameters()]
    sat = SelfAdaptiveThreshold(N_CLASSES, momentum=0.5)
    sat.update(x[:, :N_CLASSES].softmax(-1))
    want["sat"] = sat.thresholds().tolist() + sat.label_hist.tolist()
    for r in range(2):
        got = json.loads((tmp_path / f"grads.{r}").read_text())
        for name, value in want.items():
            np.testing.assert_allclose(
                np.concatenate([np.ravel(v) for v in got[name]]),
                np.concatenate([np.ravel(v) for v in value]),
                rtol=1e-5,
                atol=1e-6,
                err_msg=f"{name} on rank {r}",
            )
