"""SoftMatch on synthetic features: terms, the running statistics, the weights, learning."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from test_fixmatch import view_batch
from test_methods import make

from ssft.methods.fixmatch import MeanPrediction
from ssft.methods.softmatch import SoftMatchState


def test_running_statistics_are_checkpointed_buffers():
    # the terms, their finiteness and the gradient reaching the head: test_fixmatch.py
    assert {"dist.p_model", "dist.p_model_set", "state.conf_mean", "state.conf_var"} <= set(
        make("softmatch").state_dict()
    )


def test_running_statistics_by_hand():
    mp = MeanPrediction(3, momentum=0.5)
    p1 = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]])
    mp.update(p1)  # the first batch sets the mean prediction
    assert mp.p_model.tolist() == pytest.approx([0.4, 0.4, 0.2])
    p2 = torch.tensor([[0.2, 0.2, 0.6], [0.2, 0.2, 0.6]])
    aligned = mp.align(p2)  # update first, then align with the updated mean
    assert mp.p_model.tolist() == pytest.approx([0.3, 0.3, 0.4])
    r = [0.2 / 0.3, 0.2 / 0.3, 0.6 / 0.4]
    assert aligned[0].tolist() == pytest.approx([v / sum(r) for v in r])
    st = SoftMatchState(3, momentum=0.5)
    assert st.conf_mean.item() == pytest.approx(1 / 3) and st.conf_var.item() == 1.0
    st.update_confidence(torch.tensor([0.7, 0.6]))
    # mean 0.65, unbiased variance ((0.05)^2 * 2) / 1 = 0.005
    assert st.conf_mean.item() == pytest.approx(0.5 / 3 + 0.5 * 0.65)
    assert st.conf_var.item() == pytest.approx(0.5 + 0.5 * 0.005)


def _hand_unsup(m, b, *, align: bool, align_labels: bool = False) -> tuple[float, float]:
    """The unlabelled term with momentum 0 (the statistics are this batch's own), by hand."""
    with torch.no_grad():
        p = m.model.head(b["x_ulb_w"]).scores.float().softmax(-1)
        s = m.model.head(b["x_ulb_s"]).scores.float()
    q = p / p.mean(0) if align else p  # uniform target: the 1/K cancels in the normalisation
    q = q / q.sum(-1, keepdim=True)
    c = q.max(-1).values
    mu, var = c.mean(), c.var(unbiased=True)
    w = torch.exp(-((c - mu).clamp(max=0) ** 2) / (2 * var / 4))
    labels = (q if align_labels else p).argmax(-1)
    return (w * F.cross_entropy(s, labels, reduction="none")).mean().item(), w.mean().item()


@pytest.mark.parametrize(
    "keys, align, align_labels",
    [
        ({"align_labels": False}, True, False),  # the paper's form
        ({"dist_align": False, "align_labels": False}, False, False),
        ({}, True, True),  # the shipped default: pseudo-labels from the aligned probabilities
    ],
)
def test_unlabelled_term_matches_a_hand_computation(keys, align, align_labels):
    m = make("softmatch", ema=0.0, **keys)
    m.eval()  # no dropout, so the scores below are the ones train_step saw
    b = view_batch(noise=2.0)
    t = m.train_step(b)
    want, w_mean = _hand_unsup(m, b, align=align, align_labels=align_labels)
    assert t["unsup"].item() == pytest.approx(want, rel=1e-4)
    assert t["weight_mean"].item() == pytest.approx(w_mean, rel=1e-4)
    assert t["weight_mean"].item() < 1.0  # some items are below the mean confidence
    assert t["loss"].item() == pytest.approx(t["ce"].item() + t["unsup"].item(), rel=1e-5)


def test_dist_align_off_leaves_the_mean_prediction_alone():
    m = make("softmatch", dist_align=False, align_labels=False)
    m.train_step(view_batch())
    assert not hasattr(m, "dist") and "dist.p_model" not in m.state_dict()


def test_lambda_u_zero_is_supervised():
    t = make("softmatch", lambda_u=0.0).train_step(view_batch())
    assert t["loss"].item() == pytest.approx(t["ce"].item())


@pytest.mark.parametrize(
    "keys, match",
    [
        (["method.n_sigma=0"], "method.n_sigma"),
        (["method.ema=1"], "method.ema"),
        (["method.lambda_u=-1"], "method.lambda_u"),
        (["method.ramp=1"], "method.ramp"),
        (["method.dist_align=false", "method.align_labels=true"], "method.align_labels"),
    ],
)
def test_config_rejects_bad_values(keys, match):
    from ssft.config import load_config
    from ssft.errors import ConfigError

    with pytest.raises(ConfigError, match=match):
        load_config(None, ["method.name=softmatch", *keys])
