"""Methods on synthetic features: every term logged and finite, shapes, stop-gradients, learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dummy_backbone import DummyBackbone

from ssft.backbones.base import Features
from ssft.config import ModelConfig, load_config
from ssft.heads.model import SSFTModel
from ssft.losses import reconstruction_loss
from ssft.methods import METHODS, build_method

K, D, N = 3, 12, 5


def features(n: int, y: torch.Tensor | None = None, seed: int = 0) -> Features:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randn(n, N, D, generator=g)
    if y is not None:  # class-dependent signal in every token
        tokens[:, :, :K] += 5.0 * torch.nn.functional.one_hot(y, K)[:, None, :]
    return Features(tokens[:, 0].clone(), tokens, None)


def make(name: str, **method_keys) -> object:
    torch.manual_seed(0)
    cfg = load_config(None, [f"method.name={name}"] + [f"method.{k}={v}" for k, v in method_keys.items()])
    mc = ModelConfig(
        projector="transformer", depth=1, width=16, heads=2
    )  # the head these tests were sized for
    model = SSFTModel(DummyBackbone(D).freeze(), mc, K)
    return build_method(cfg.method, model, class_counts=np.array([2, 2, 2]), seed=0)


def batch(n_lb: int = 6, n_ulb: int = 12, step: int = 0) -> dict:
    y = torch.arange(n_lb) % K
    yu = torch.arange(n_ulb) % K
    return {
        "x_lb": features(n_lb, y, 1),
        "y_lb": y,
        "x_ulb": features(n_ulb, yu, 2),
        "step": step,
        "total_steps": 10,
    }


EXPECTED = {
    "supervised": {"loss", "ce"},
    "twinturbo": {
        "loss", "cond", "marginal", "kl", "d_loss", "d_acc", "align", "supcon", "ramp", "temperature",
    },
    "content_style": {
        "loss", "ce", "rec", "content_kl", "style_kl",
        "d_content_loss", "d_content_acc", "d_style_loss", "d_style_acc", "ramp",
    },
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_term_logged_and_finite(name):
    m = make(name)
    terms = m.train_step(batch())
    assert set(terms) == EXPECTED[name]
    for k, v in terms.items():
        assert torch.isfinite(torch.as_tensor(v)).all(), k
    terms["loss"].backward()
    grads = [p.grad for p in m.optimizer_parameters() if p.grad is not None]
    assert grads, "the total loss reaches the trainable parameters"
    for adv in m.adversaries():  # discriminators are trained by their own optimiser only
        assert all(id(p) not in {id(q) for q in m.optimizer_parameters()} for p in adv.parameters())


@pytest.mark.parametrize(
    "variant,extra",
    [("categorical", set()), ("binary", set()), ("infonce", set()),
     ("categorical_twin", {"cond_samples_to_classes", "cond_classes_to_samples"})],
)  # fmt: skip
def test_twinturbo_conditional_variants(variant, extra):
    m = make("twinturbo", conditional=variant)
    terms = m.train_step(batch())
    assert EXPECTED["twinturbo"] | extra == set(terms)


def test_zero_weights_switch_terms_off():
    m = make("twinturbo", lambda_marginal=0, lambda_kl=0, lambda_align=0, lambda_supcon=0)
    assert set(m.train_step(batch())) == {"loss", "cond", "ramp", "temperature"}
    assert m.adversaries() == []
    c = make("content_style", lambda_content=0, lambda_style=0, lambda_rec=0)
    assert set(c.train_step(batch())) == {"loss", "ce", "ramp"}


def test_content_style_shapes():
    m = make("content_style", style_dim=7)
    out = m.decompose(features(4))
    assert out["content"].shape == (4, K)
    assert torch.allclose(out["content_probs"].sum(-1), torch.ones(4))
    assert out["style"].shape == (4, 7)
    assert out["recon"].shape == (4, D)
    assert m.scores(features(4)).shape == (4, K)
    p = make("content_style", input="projector").decompose(features(4))
    assert p["recon"].shape == (4, D)


def test_content_style_reconstruction_target_gets_no_gradient():
    """The gradient of the logged ``rec`` term w.r.t. z* equals the one through the encoder path
    alone (target detached); with an attached target it would differ."""
    m = make("content_style", lambda_content=0, lambda_style=0)
    m.eval()  # no dropout, so both passes are identical
    f = features(5)
    pooled = f.pooled.clone().requires_grad_(True)
    fz = Features(pooled, f.tokens, None)
    out = m.decompose(fz)
    (g_method,) = torch.autograd.grad(
        reconstruction_loss(recon=out["recon"], target=fz.pooled, kind="cosine"), pooled
    )
    pooled2 = f.pooled.clone().requires_grad_(True)
    out2 = m.decompose(Features(pooled2, f.tokens, None))
    attached = (1 - torch.nn.functional.cosine_similarity(out2["recon"], pooled2, dim=-1)).mean()
    (g_attached,) = torch.autograd.grad(attached, pooled2)
    pooled3 = f.pooled.clone().requires_grad_(True)
    out3 = m.decompose(Features(pooled3, f.tokens, None))
    detached = (1 - torch.nn.functional.cosine_similarity(out3["recon"], pooled3.detach(), dim=-1)).mean()
    (g_detached,) = torch.autograd.grad(detached, pooled3)
    assert torch.allclose(g_method, g_detached, atol=1e-6)
    assert not torch.allclose(g_method, g_attached, atol=1e-4)


@pytest.mark.parametrize("name", ["supervised", "twinturbo", "content_style"])
def test_methods_learn_separable_features(name):
    m = make(name)
    opt = torch.optim.AdamW(m.optimizer_parameters(), lr=3e-3)
    m.train()
    for step in range(60):
        b = batch(step=step)
        b["total_steps"] = 60
        terms = m.train_step(b)
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
        if step == 0:
            first = terms["loss"].item()
    assert terms["loss"].item() < first  # a few steps lower the total loss
    m.eval()
    y = torch.arange(30) % K
    with torch.no_grad():
        acc = (m.probabilities(features(30, y, seed=9)).argmax(1) == y).float().mean().item()
    assert acc > 0.9, acc


def test_registry_lists_methods():
    assert {"supervised", "twinturbo", "content_style", "linear_probe", "knn", "label_spreading"} <= set(
        METHODS.describe()
    )


def test_gradients_reach_every_trainable_parameter_of_twinturbo():
    m = make("twinturbo", ramp=0.0)
    terms = m.train_step(batch())
    terms["loss"].backward()
    dead = [n for n, p in m.named_parameters() if p.requires_grad and "adversary" not in n and "backbone" not in n
            and (p.grad is None or p.grad.abs().sum() == 0)]  # fmt: skip
    assert dead == []


@pytest.mark.parametrize("name", ["twinturbo", "content_style"])
def test_prior_sample_keys(name):
    from ssft.errors import ConfigError

    adv = "adversary" if name == "twinturbo" else "content_adversary"
    m = make(name)  # default: Dirichlet samples around the one-hots
    assert getattr(m, adv).samples == "dirichlet" and getattr(m, adv).smoothing == 0.1
    m = make(name, prior_samples="onehot")
    assert getattr(m, adv).samples == "onehot" and getattr(m, adv).smoothing == 0.0
    m = make(name, prior_samples="smoothed", prior_smoothing=0.2)
    assert getattr(m, adv).samples == "onehot" and getattr(m, adv).smoothing == 0.2
    with pytest.raises(ConfigError, match="prior_smoothing > 0"):
        make(name, prior_samples="dirichlet", prior_smoothing=0)
    with pytest.raises(ConfigError, match="prior_concentration must be > 0"):
        make(name, prior_concentration=0)
    with pytest.raises(ConfigError, match="one of dirichlet, smoothed, onehot"):
        make(name, prior_samples="beta")


def test_temperature_bound_is_checked():
    from ssft.errors import ConfigError

    with pytest.raises(ConfigError, match="model.max_temperature"):
        load_config(None, ["model.init_temperature=200"])
