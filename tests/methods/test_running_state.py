"""The running statistics of the FixMatch family and the prior samplers, with settings where a
wrong update or a wrong wiring shows: momenta 0.9 and 0.7 (at 0.5, m and 1 - m coincide), p_model
and label_hist that differ, a concentration away from its default."""

from __future__ import annotations

import pytest
import torch
from test_fixmatch import view_batch
from test_methods import make

from ssft.losses import self_adaptive_fairness_loss
from ssft.methods.fixmatch import MeanPrediction, SelfAdaptiveThreshold
from ssft.methods.softmatch import SoftMatchState

P1 = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]])
P2 = torch.tensor([[0.2, 0.2, 0.6], [0.2, 0.2, 0.6]])


def test_mean_prediction_keeps_momentum_of_the_old_mean():
    mp = MeanPrediction(3, momentum=0.9)
    mp.update(P1)  # the first batch sets it
    mp.update(P2)
    want = [0.9 * a + 0.1 * b for a, b in zip([0.4, 0.4, 0.2], [0.2, 0.2, 0.6], strict=True)]
    assert mp.p_model.tolist() == pytest.approx(want)


def test_self_adaptive_threshold_keeps_momentum_of_every_old_statistic():
    m = 0.7
    sat = SelfAdaptiveThreshold(3, momentum=m)
    sat.update(P1)
    u = 1 / 3
    assert sat.time_p.item() == pytest.approx(m * u + (1 - m) * 0.65)
    assert sat.p_model.tolist() == pytest.approx([m * u + (1 - m) * v for v in (0.4, 0.4, 0.2)])
    # argmaxes: classes 0 and 1 -> histogram [0.5, 0.5, 0]
    assert sat.label_hist.tolist() == pytest.approx([m * u + (1 - m) * v for v in (0.5, 0.5, 0.0)])
    sat.update(P2)  # argmax class 2 twice
    hist = [
        m * (m * u + (1 - m) * v) + (1 - m) * w for v, w in zip((0.5, 0.5, 0.0), (0, 0, 1.0), strict=True)
    ]
    assert sat.label_hist.tolist() == pytest.approx(hist)


def test_softmatch_confidence_keeps_momentum_of_the_old_statistics():
    st = SoftMatchState(3, momentum=0.9)
    st.update_confidence(torch.tensor([0.7, 0.6]))
    assert st.conf_mean.item() == pytest.approx(0.9 / 3 + 0.1 * 0.65)
    assert st.conf_var.item() == pytest.approx(0.9 * 1.0 + 0.1 * 0.005)


def test_freematch_fairness_reads_p_model_and_label_hist_in_their_places():
    m = make("freematch", ema=0.0, lambda_fair=0.5)  # momentum 0: this batch's own statistics
    m.eval()
    t = m.train_step(view_batch())
    p_model, label_hist = m.sat.p_model.clone(), m.sat.label_hist.clone()
    assert not torch.allclose(p_model, label_hist, atol=1e-3)
    b = view_batch()
    with torch.no_grad():
        s_s = m.model.head(b["x_ulb_s"]).scores
        p = m.model.head(b["x_ulb_w"]).scores.float().softmax(-1)
    conf, lab = p.max(-1)
    mask = (conf >= m.sat.thresholds()[lab]).float()
    assert mask.sum() > 0
    want = self_adaptive_fairness_loss(scores_strong=s_s, mask=mask, p_model=p_model, label_hist=label_hist)
    swapped = self_adaptive_fairness_loss(
        scores_strong=s_s, mask=mask, p_model=label_hist, label_hist=p_model
    )
    assert t["fair"].item() == pytest.approx(want.item(), rel=1e-5)
    assert abs(want.item() - swapped.item()) > 1e-3


@pytest.mark.parametrize(
    "name, keys, adversary",
    [
        ("twinturbo", {"lambda_kl": 0.1}, "adversary"),
        ("content_style", {"lambda_content": 0.1}, "content_adversary"),
    ],
)
def test_prior_concentration_reaches_the_sampler(name, keys, adversary, monkeypatch):
    seen = {}

    def spy(n, prior, **kw):
        seen.update(kw)
        return torch.full((n, prior.numel()), 1.0 / prior.numel())

    monkeypatch.setattr("ssft.heads.discriminator.sample_categorical_prior", spy)
    m = make(name, prior_samples="dirichlet", prior_smoothing=0.2, prior_concentration=3.5, **keys)
    getattr(m, adversary).sample(4, torch.device("cpu"))
    assert seen["kind"] == "dirichlet" and seen["concentration"] == 3.5 and seen["smoothing"] == 0.2
