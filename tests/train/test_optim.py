"""The main optimiser's groups: weight decay on weight matrices only; t stays bounded in training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssft.backbones.base import Features
from ssft.config import load_config
from ssft.heads.model import SSFTModel
from ssft.methods import build_method
from ssft.train.optim import constrain_, parameter_groups

K = 3


def twinturbo(*overrides: str):
    from ssft.backbones import build_backbone

    cfg = load_config(
        "demo",
        ["method.name=twinturbo", "model.projector=transformer", "model.aggregation=attention", *overrides],
    )
    torch.manual_seed(0)
    backbone = build_backbone(cfg.backbone).freeze()
    return build_method(cfg.method, SSFTModel(backbone, cfg.model, K), class_counts=np.ones(K), seed=0)


def test_no_weight_decay_on_t_b_class_embeddings_norms_biases_and_tokens():
    m = twinturbo()
    groups = parameter_groups(m, lr=1e-3, backbone_lr=1e-5, weight_decay=0.1)
    names = {id(p): n for n, p in m.named_parameters()}
    by_group = {g["name"]: {names[id(p)] for p in g["params"]} for g in groups}
    assert {g["name"]: g["weight_decay"] for g in groups} == {"head": 0.1, "head_no_decay": 0.0}
    rest = by_group["head_no_decay"]
    for name in (
        "model.classifier.log_t",
        "model.classifier.bias",
        "model.classifier.weight",
        "model.projector.cls",
        "model.projector.aggregate.query",
        "model.projector.norm.weight",
        "model.projector.norm.bias",
    ):
        assert name in rest, name
    assert "model.projector.inp.1.weight" in by_group["head"]
    assert all(not n.endswith(".bias") and "norm" not in n for n in by_group["head"])
    # every optimised parameter is in exactly one group
    flat = [id(p) for g in groups for p in g["params"]]
    assert sorted(flat) == sorted(id(p) for p in m.optimizer_parameters()) and len(set(flat)) == len(flat)


def test_weight_decay_leaves_t_and_b_alone():
    m = twinturbo()
    groups = parameter_groups(m, lr=0.1, backbone_lr=0.0, weight_decay=0.5)
    opt = torch.optim.AdamW(groups)
    clf = m.model.classifier
    t, b, w = float(clf.temperature.detach()), float(clf.bias.detach()), clf.weight.detach().clone()
    lin = m.model.projector.inp[1].weight
    before = lin.detach().norm()
    for p in m.optimizer_parameters():  # zero gradients: only weight decay moves anything
        p.grad = torch.zeros_like(p)
    opt.step()
    assert (
        float(clf.temperature.detach()) == t and float(clf.bias.detach()) == b and torch.equal(clf.weight, w)
    )
    assert lin.detach().norm() < before


def test_temperature_stays_bounded_in_training():
    """A categorical loss on separable data rewards an ever larger t; with the loop's constraint
    it stops at model.max_temperature."""
    m = twinturbo("model.max_temperature=20", "method.conditional=categorical", "model.projector=identity")
    opt = torch.optim.AdamW(parameter_groups(m, lr=0.3, backbone_lr=0.0, weight_decay=0.05))
    y = torch.arange(30) % K
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, m.model.backbone.dim, generator=g)
    x[:, :K] += 4.0 * torch.nn.functional.one_hot(y, K)
    feats = Features(x, x[:, None], None)
    for _ in range(60):
        loss = m.conditional(m.model.head(feats).scores, None, y)["cond"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        constrain_(m)
    clf = m.model.classifier
    assert float(clf.temperature.detach()) == pytest.approx(20.0, rel=1e-4)
    assert float(clf.log_t.detach()) <= np.log(20.0) + 1e-6


class _TimmLike(torch.nn.Module):
    """Stands in for a timm / open_clip model: ``no_weight_decay`` is a method returning names,
    one of them a prefix of several parameters and one dotted."""

    def __init__(self) -> None:
        super().__init__()
        self.pos_embed = torch.nn.Parameter(torch.zeros(1, 4, 8))
        self.cls_token = torch.nn.Parameter(torch.zeros(1, 1, 8))
        self.proj = torch.nn.Linear(8, 8)
        self.extra = torch.nn.ModuleDict({"pos_embed_a": torch.nn.Linear(8, 8)})

    def no_weight_decay(self) -> set[str]:
        return {"cls_token", "pos_embed", "extra.pos_embed_a"}


def test_no_weight_decay_as_a_method_like_timm_and_open_clip():
    from ssft.train.optim import no_decay_ids

    m = _TimmLike()
    skip = no_decay_ids(torch.nn.Sequential(m))
    names = {n for n, p in m.named_parameters() if id(p) in skip}
    assert names == {
        "pos_embed",
        "cls_token",
        "proj.bias",
        "extra.pos_embed_a.weight",
        "extra.pos_embed_a.bias",
    }
