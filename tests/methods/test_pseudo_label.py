"""Pseudo-Label (Lee 2013): its terms against a hand computation, the ramp, the threshold, the
targets held constant, and a run end to end."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from test_methods import batch, make

from ssft.config import ConfigError, load_config


def _hand(m, b, threshold: float) -> tuple[float, float, float]:
    """(ce, unsup, mask rate) computed here from the head's scores."""
    with torch.no_grad():
        s_lb = m.model.head(b["x_lb"]).scores.float()
        s_u = m.model.head(b["x_ulb"]).scores.float()
    ce = F.cross_entropy(s_lb, b["y_lb"]).item()
    p = s_u.softmax(-1)
    conf, target = p.max(-1)
    mask = (conf >= threshold).float()
    unsup = (F.cross_entropy(s_u, target, reduction="none") * mask).mean().item()
    return ce, unsup, mask.mean().item()


@pytest.mark.parametrize("paper", [True, False])
def test_terms_by_hand(paper):
    m = make("pseudo_label", threshold=0.0, ramp=0.0, lambda_u=0.7)
    m.eval()  # the head's dropout off: the hand pass sees the same scores
    b = batch()
    if not paper:  # a threshold that keeps some pseudo-labels and drops others
        with torch.no_grad():
            conf = m.model.head(b["x_ulb"]).scores.float().softmax(-1).max(-1).values
        m.cfg.threshold = float(conf.median())
    terms = m.train_step(b)
    ce, unsup, rate = _hand(m, b, m.cfg.threshold)
    assert set(terms) == {"loss", "ce", "unsup", "mask_rate", "ramp"}
    assert terms["ce"].item() == pytest.approx(ce, rel=1e-5)
    assert terms["unsup"].item() == pytest.approx(unsup, rel=1e-5)
    assert terms["mask_rate"].item() == pytest.approx(rate)
    assert terms["loss"].item() == pytest.approx(ce + 0.7 * unsup, rel=1e-5)
    if paper:
        assert rate == 1.0 and unsup > 0  # the paper's form: every argmax is a target
    else:
        assert 0.0 < rate < 1.0


def test_the_unlabelled_weight_ramps_up_over_the_first_fraction_of_steps():
    m = make("pseudo_label", threshold=0.0, ramp=0.4, lambda_u=1.0)
    m.eval()
    ramps = [m.train_step(batch(step=s))["ramp"].item() for s in (0, 1, 3, 9)]
    assert ramps == pytest.approx([0.25, 0.5, 1.0, 1.0])  # (step + 1) / (0.4 * 10 steps)
    b = batch(step=0)
    terms = m.train_step(b)
    assert terms["loss"].item() == pytest.approx((terms["ce"] + 0.25 * terms["unsup"]).item(), rel=1e-5)


def test_targets_are_constants():
    """The gradient of the unlabelled term is that of a CE against fixed labels: with the targets
    attached it would also flow through the argmax's probabilities (here: compare to the
    detached form computed by hand)."""
    m = make("pseudo_label", threshold=0.0, ramp=0.0, lambda_u=1.0)
    m.eval()
    terms = m.train_step(batch())
    params = list(m.optimizer_parameters())
    g = torch.autograd.grad(terms["unsup"], params, allow_unused=True)
    s_u = m.model.head(batch()["x_ulb"]).scores.float()
    target = s_u.detach().softmax(-1).argmax(-1)
    g_hand = torch.autograd.grad(F.cross_entropy(s_u, target), params, allow_unused=True)
    for a, h in zip(g, g_hand, strict=True):
        if a is not None or h is not None:
            assert torch.allclose(a, h, atol=1e-6)


def test_bad_keys_are_refused():
    for key, value in (("threshold", 1.5), ("lambda_u", -1), ("ramp", 1.0)):
        with pytest.raises(ConfigError, match=f"method.{key}"):
            load_config(None, ["method.name=pseudo_label", f"method.{key}={value}"])


def test_a_run_end_to_end(tmp_path):
    from ssft.run.runner import fit

    keys = [
        "method.name=pseudo_label",
        "train.steps=6",
        "train.progress=false",
        f"cache.dir={tmp_path / 'c'}",
    ]
    r = fit(load_config("demo", keys), tmp_path / "run")
    assert 0.0 <= r.test_accuracy <= 1.0 and r.results["method"] == "pseudo_label"
