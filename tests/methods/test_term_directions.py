"""Each TwinTURBO term moves the model the way its maths says, as the method combines it.

On a small fixed batch, a method is built with one term on (weight 1, every other weight 0); the
part of the total loss that is not the conditional term, ``loss - cond``, is that term exactly as
``train_step`` weighted and signed it. One plain gradient step on it must move an independent
measurement of the model in the term's direction. A flipped sign, a term computed on the wrong
batch or an unlabelled ramp stuck at 0 makes these tests fail.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from dummy_backbone import DummyBackbone

from ssft.backbones.base import Features
from ssft.config import load_config
from ssft.heads.model import SSFTModel
from ssft.losses import alignment_infonce_loss, binary_loss, log_posterior, posterior
from ssft.methods import build_method

K, D, N = 3, 12, 5
OFF = {"lambda_marginal": 0, "lambda_kl": 0, "lambda_align": 0, "lambda_supcon": 0}


def features(y: torch.Tensor, seed: int) -> Features:
    """Tokens with a class signal; the leaf tensor requires grad so a test can see what reaches it."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randn(len(y), N, D, generator=g)
    tokens[:, :, :K] += 3.0 * F.one_hot(y, K)[:, None, :]
    tokens.requires_grad_(True)
    return Features(tokens[:, 0], tokens, None)


def twinturbo(model_keys: tuple[str, ...] = (), **method_keys):
    torch.manual_seed(0)
    keys = {**OFF, "ramp": 0.1, **method_keys}
    cfg = load_config(
        None,
        [
            "method.name=twinturbo",
            "model.projector=transformer",
            "model.depth=1",
            "model.width=16",
            "model.heads=2",
            "model.dropout=0",
        ]
        + [f"method.{k}={v}" for k, v in keys.items()]
        + list(model_keys),
    )
    model = SSFTModel(DummyBackbone(D).freeze(), cfg.model, K)
    return build_method(cfg.method, model, class_counts=np.array([2, 2, 2]), seed=0)


def batch(y_ulb: torch.Tensor | None = None, step: int = 5) -> dict:
    """6 labelled items (2 per class), unlabelled items of classes ``y_ulb``; step 5 of 10 is past
    the ramp (0.1 of the steps), so the unlabelled terms have their full weight."""
    y = torch.arange(6) % K
    yu = torch.arange(12) % K if y_ulb is None else y_ulb
    return {"x_lb": features(y, 1), "y_lb": y, "x_ulb": features(yu, 2), "step": step, "total_steps": 10}


def step_on_term(m, b: dict, lr: float = 0.05) -> dict:
    """One SGD step on ``loss - cond`` (the term as the method adds it to the loss)."""
    terms = m.train_step(b)
    part = terms["loss"] - terms["cond"]
    opt = torch.optim.SGD(m.optimizer_parameters(), lr=lr)
    opt.zero_grad()
    part.backward()
    opt.step()
    return terms


def q_of(m, feats: Features) -> torch.Tensor:
    with torch.no_grad():
        return m.probabilities(Features(feats.pooled.detach(), feats.tokens.detach(), None))


def test_marginal_moves_the_unlabelled_marginal_towards_the_prior():
    m = twinturbo(lambda_marginal=1.0)
    b = batch()
    prior = torch.full((K,), 1 / K)
    with torch.no_grad():  # skew the start: class 0's embedding points at the batch's mean latent
        z = m.model.head(b["x_ulb"]).z
        m.model.classifier.weight[0] = z.mean(0)

    def kl_prior_to_marginal() -> float:  # KL(π ‖ q̄) on the unlabelled batch, by hand
        q_bar = q_of(m, b["x_ulb"]).mean(0)
        return float((prior * (prior / q_bar).log()).sum())

    before = kl_prior_to_marginal()
    assert before > 0.05
    terms = step_on_term(m, b, lr=0.01)
    assert float(terms["ramp"]) == 1.0
    assert kl_prior_to_marginal() < before - 1e-4


@pytest.mark.parametrize("term", ["marginal", "kl"])
def test_unlabelled_terms_learn_from_the_unlabelled_batch_only(term):
    """The gradient of ``loss - cond`` reaches the unlabelled inputs and not the labelled ones."""
    m = twinturbo(**{f"lambda_{term}": 1.0})
    b = batch()
    terms = m.train_step(b)
    (terms["loss"] - terms["cond"]).backward()
    assert b["x_ulb"].tokens.grad is not None and b["x_ulb"].tokens.grad.abs().sum() > 0
    assert b["x_lb"].tokens.grad is None or b["x_lb"].tokens.grad.abs().sum() == 0


def test_kl_makes_unlabelled_predictions_more_confident():
    """With soft predictions (t = 1) and a trained discriminator, the KL term pushes each
    unlabelled posterior towards the prior's near-one-hot samples: mean entropy goes down."""
    m = twinturbo(("model.init_temperature=1", "model.init_bias=0"), lambda_kl=1.0)
    b = batch()

    def mean_entropy() -> float:
        q = q_of(m, b["x_ulb"])
        return float(-(q * q.log()).sum(1).mean())

    q0 = q_of(m, b["x_ulb"])
    assert mean_entropy() > 0.5 * math.log(K)  # soft to start with
    for _ in range(150):  # a near-optimal discriminator, so the density ratio is meaningful
        m.adversary.discriminator_step(q0)
    before = mean_entropy()
    step_on_term(m, b, lr=0.2)
    assert mean_entropy() < before - 1e-3


def test_alignment_lowers_the_alignment_infonce():
    m = twinturbo(lambda_align=1.0)
    b = batch()
    feats = Features.cat([b["x_lb"], b["x_ulb"]])

    def align() -> float:
        with torch.no_grad():
            out = m.model.head(feats)
            return float(alignment_infonce_loss(z=m.align_head(out.z), target=out.pooled, temperature=0.1))

    before = align()
    step_on_term(m, b, lr=0.05)
    assert align() < before - 1e-4


def test_supcon_pulls_same_class_latents_together():
    m = twinturbo(lambda_supcon=1.0)
    b = batch()
    y = b["y_lb"]
    same = (y[:, None] == y[None, :]) & ~torch.eye(len(y), dtype=torch.bool)
    diff = y[:, None] != y[None, :]

    def gap() -> float:  # mean cosine of same-class pairs minus that of different-class pairs
        with torch.no_grad():
            z = F.normalize(m.model.head(b["x_lb"]).z, dim=-1)
        c = z @ z.t()
        return float(c[same].mean() - c[diff].mean())

    before = gap()
    step_on_term(m, b, lr=0.05)
    assert gap() > before + 1e-4


def test_ramp_schedule_reaches_full_weight():
    m = twinturbo(ramp=0.2)
    ramps = [m.ramp({"step": s, "total_steps": 10}) for s in range(10)]
    assert ramps[:3] == pytest.approx([0.5, 1.0, 1.0]) and ramps[-1] == 1.0
    assert twinturbo(ramp=0.0).ramp({"step": 0, "total_steps": 10}) == 1.0


@pytest.mark.parametrize("name", ["twinturbo", "content_style"])
def test_after_the_ramp_the_unlabelled_data_reaches_the_loss(name):
    """With the default weights and no term that sees unlabelled data without the ramp, the total
    loss still has a gradient from the unlabelled batch once the ramp is over."""
    torch.manual_seed(0)
    inert = {"twinturbo": ["method.lambda_align=0"], "content_style": ["method.lambda_rec=0"]}[name]
    cfg = load_config(
        None, [f"method.name={name}", "model.depth=1", "model.width=16", "model.heads=2", *inert]
    )
    m = build_method(
        cfg.method, SSFTModel(DummyBackbone(D).freeze(), cfg.model, K), class_counts=np.ones(K), seed=0
    )
    b = batch(step=9)
    terms = m.train_step(b)
    assert float(terms["ramp"]) == 1.0
    terms["loss"].backward()
    assert b["x_ulb"].tokens.grad is not None and b["x_ulb"].tokens.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------------------
# One posterior in every task-space term


@pytest.mark.parametrize(
    "conditional,posterior_key,kind",
    [
        ("binary", "matched", "sigmoid"),
        ("binary", "softmax", "softmax"),
        ("categorical", "matched", "softmax"),
    ],
)
def test_marginal_uses_the_configured_posterior(conditional, posterior_key, kind):
    m = twinturbo(lambda_marginal=1.0, conditional=conditional, posterior=posterior_key)
    b = batch()
    terms = m.train_step(b)
    with torch.no_grad():
        scores = m.model.head(b["x_ulb"]).scores
    q_bar = posterior(scores=scores, kind=kind).mean(0)
    assert float(terms["marginal"].detach()) == pytest.approx(float(-(q_bar.log()).mean()), rel=1e-5)
    assert torch.allclose(q_of(m, b["x_ulb"]), posterior(scores=scores, kind=kind), atol=1e-6)


def test_infonce_matched_posterior_is_the_softmax_of_cosines_over_tau():
    m = twinturbo(conditional="infonce", temperature=0.25)
    b = batch()
    with torch.no_grad():
        out = m.model.head(b["x_ulb"])
        want = (m.model.classifier.cosine(out.z) / 0.25).softmax(-1)
    assert torch.allclose(q_of(m, b["x_ulb"]), want, atol=1e-6)


def test_binary_loss_bounds_both_posteriors_cross_entropies():
    """The binary conditional is an upper bound on -log q_y for the normalised-sigmoid posterior
    and for the softmax posterior (docs/methods/twinturbo.md), so either form is a lower bound on
    I(X;Y); checked on scores from very negative to very positive."""
    g = torch.Generator().manual_seed(0)
    scores = 8 * torch.randn(2000, 5, generator=g) + torch.linspace(-15, 5, 2000)[:, None]
    y = torch.randint(0, 5, (2000,), generator=g)
    per_item_binary = F.binary_cross_entropy_with_logits(
        scores, F.one_hot(y, 5).float(), reduction="none"
    ).sum(1)
    for kind in ("sigmoid", "softmax"):
        nll = -log_posterior(scores=scores, kind=kind).gather(1, y[:, None]).squeeze(1)
        assert (per_item_binary >= nll - 1e-5).all(), kind
    assert binary_loss(scores=scores, targets=y).item() == pytest.approx(
        per_item_binary.mean().item(), rel=1e-6
    )


def test_sigmoid_posterior_hand_value():
    s = torch.tensor([[0.0, math.log(3.0)], [-30.0, -31.0]])
    # σ(0) = 1/2, σ(log 3) = 3/4 -> q = (2/5, 3/5); far negative: σ(s) ≈ e^s -> q ≈ softmax(s)
    q = posterior(scores=s, kind="sigmoid")
    assert torch.allclose(q[0], torch.tensor([0.4, 0.6]), atol=1e-6)
    assert torch.allclose(q[1], torch.softmax(s[1], 0), atol=1e-6)
    with pytest.raises(ValueError, match="known: softmax, sigmoid"):
        posterior(scores=s, kind="tanh")


def test_consistency_term_uses_the_same_posterior():
    """With the binary conditional, the optional consistency term's confidence and cross-entropy
    are those of the normalised-sigmoid q, like the marginal and KL terms. (b = 0 so that the
    normalised sigmoids differ from the softmax; the threshold is the median confidence.)"""
    b = batch()
    noise = 0.3 * torch.randn(b["x_ulb"].tokens.shape, generator=torch.Generator().manual_seed(5))
    strong = b["x_ulb"].tokens.detach() + noise
    b["x_ulb_s"] = Features(strong[:, 0], strong, None)
    m = twinturbo(("model.init_bias=0",), conditional="binary")
    with torch.no_grad():
        scores = m.model.head(b["x_ulb"]).scores
        q_weak = posterior(scores=scores, kind="sigmoid")
        log_q_strong = log_posterior(scores=m.model.head(b["x_ulb_s"]).scores, kind="sigmoid")
    tau = float(q_weak.max(1).values.median())
    confident = q_weak.max(1).values >= tau
    assert not torch.equal(confident, scores.softmax(1).max(1).values >= tau)  # the test can tell
    m = twinturbo(
        ("model.init_bias=0",), conditional="binary", lambda_consistency=1.0, consistency_threshold=tau
    )
    terms = m.train_step(b)
    nll = -log_q_strong.gather(1, q_weak.argmax(1, keepdim=True)).squeeze(1)
    want = (nll * confident).mean()
    assert float(terms["consistency_mask_rate"]) == pytest.approx(float(confident.float().mean()))
    assert float(terms["consistency"].detach()) == pytest.approx(float(want), rel=1e-5)
