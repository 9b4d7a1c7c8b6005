"""FixMatch and FreeMatch on synthetic features: terms, views, the self-adaptive thresholds, learning."""

from __future__ import annotations

import pytest
import torch
from test_methods import K, batch, features, make

from ssft.methods.fixmatch import SelfAdaptiveThreshold


def view_batch(n_lb: int = 6, n_ulb: int = 12, step: int = 0, noise: float = 0.5) -> dict:
    b = batch(n_lb, n_ulb, step)
    yu = torch.arange(n_ulb) % K
    b["x_ulb_w"] = b["x_ulb"]
    strong = features(n_ulb, yu, 3)
    b["x_ulb_s"] = type(strong)(strong.pooled + noise, strong.tokens + noise, None)
    return b


@pytest.mark.parametrize(
    "name, expected",
    [
        ("fixmatch", {"loss", "ce", "unsup", "mask_rate", "ramp"}),
        ("freematch", {"loss", "ce", "unsup", "mask_rate", "fair", "ramp", "threshold_global",
                       "threshold_min", "threshold_max"}),
        ("softmatch", {"loss", "ce", "unsup", "weight_mean", "confidence_mean", "confidence_var",
                       "ramp"}),
    ],
)  # fmt: skip
def test_every_term_logged_and_finite(name, expected):
    m = make(name)
    terms = m.train_step(view_batch())
    assert set(terms) == expected
    for k, v in terms.items():
        assert torch.isfinite(torch.as_tensor(v)).all(), k
    terms["loss"].backward()
    dead = [n for n, p in m.named_parameters() if p.requires_grad and "backbone" not in n
            and (p.grad is None or p.grad.abs().sum() == 0)]  # fmt: skip
    assert dead == []


def test_fixmatch_total_is_ce_plus_weighted_unsup():
    m = make("fixmatch", threshold=0.0, lambda_u=2.5)
    t = m.train_step(view_batch())
    assert t["mask_rate"].item() == 1.0  # threshold 0 keeps every item
    assert t["loss"].item() == pytest.approx(t["ce"].item() + 2.5 * t["unsup"].item(), rel=1e-6)
    m1 = make("fixmatch", threshold=1.0)
    t1 = m1.train_step(view_batch())
    assert t1["unsup"].item() == 0.0 and t1["loss"].item() == pytest.approx(t1["ce"].item())


def test_views_are_required():
    m = make("fixmatch")
    with pytest.raises(ValueError, match="x_ulb_w and x_ulb_s"):
        m.train_step(batch())
    assert m.views == ("ulb_w", "ulb_s") and make("freematch").views == ("ulb_w", "ulb_s")


def test_self_adaptive_threshold_by_hand():
    sat = SelfAdaptiveThreshold(3, momentum=0.5)
    assert sat.time_p.item() == pytest.approx(1 / 3)
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]])
    sat.update(probs)
    # tau = 0.5/3 + 0.5 * mean(0.7, 0.6); p_model = 0.5/3 + 0.5 * [0.4, 0.4, 0.2]; hist = [0.5, 0.5, 0]
    assert sat.time_p.item() == pytest.approx(1 / 6 + 0.325)
    assert sat.p_model.tolist() == pytest.approx([1 / 6 + 0.2, 1 / 6 + 0.2, 1 / 6 + 0.1])
    assert sat.label_hist.tolist() == pytest.approx([1 / 6 + 0.25, 1 / 6 + 0.25, 1 / 6])
    tau = 1 / 6 + 0.325
    assert sat.thresholds().tolist() == pytest.approx([tau, tau, tau * (1 / 6 + 0.1) / (1 / 6 + 0.2)])


def test_freematch_masks_with_the_updated_thresholds_and_checkpoints_them():
    m = make("freematch", ema=0.0)  # momentum 0: the thresholds are this batch's statistics
    m.eval()  # no dropout, so the scores below are the ones train_step saw
    b = view_batch()
    t = m.train_step(b)
    with torch.no_grad():
        p = m.model.head(b["x_ulb_w"]).scores.float().softmax(-1)
    conf, lab = p.max(-1)
    tau = conf.mean() * p.mean(0) / p.mean(0).max()
    assert t["threshold_global"].item() == pytest.approx(conf.mean().item(), rel=1e-5)
    assert t["mask_rate"].item() == pytest.approx((conf >= tau[lab]).float().mean().item())
    state = m.state_dict()
    assert {"sat.time_p", "sat.p_model", "sat.label_hist"} <= set(state)


def test_fairness_weight_zero_switches_the_term_off():
    t = make("freematch", lambda_fair=0.0).train_step(view_batch())
    assert "fair" not in t


@pytest.mark.parametrize("name", ["fixmatch", "freematch", "softmatch"])
def test_methods_learn_separable_features(name):
    m = make(name)
    opt = torch.optim.AdamW(m.optimizer_parameters(), lr=3e-3)
    m.train()
    for step in range(60):
        b = view_batch(step=step)
        b["total_steps"] = 60
        terms = m.train_step(b)
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
        if step == 0:
            first = terms["loss"].item()
    assert terms["loss"].item() < first
    m.eval()
    y = torch.arange(30) % K
    with torch.no_grad():
        acc = (m.probabilities(features(30, y, seed=9)).argmax(1) == y).float().mean().item()
    assert acc > 0.9, acc


@pytest.mark.parametrize("key, value", [("threshold", 1.5), ("lambda_u", -1), ("ramp", 1.0)])
def test_fixmatch_config_rejects_bad_values(key, value):
    from ssft.config import load_config
    from ssft.errors import ConfigError

    with pytest.raises(ConfigError, match=f"method.{key}"):
        load_config(None, ["method.name=fixmatch", f"method.{key}={value}"])
    if key != "threshold":
        with pytest.raises(ConfigError, match=f"method.{key}"):
            load_config(None, ["method.name=freematch", f"method.{key}={value}"])


@pytest.mark.parametrize("name", ["twinturbo", "content_style"])
def test_optional_consistency_term_of_the_other_methods(name):
    from ssft.config import load_config
    from ssft.methods.base import method_view_kinds

    assert make(name).view_keys(make(name).cfg) == ()
    m = make(name, lambda_consistency=0.5, consistency_threshold=0.0, ramp=0.0)
    assert m.view_keys(m.cfg) == ("ulb_s",)
    assert method_view_kinds(
        load_config(None, [f"method.name={name}", "method.lambda_consistency=1"]).method
    ) == ("strong",)
    m.eval()  # no dropout: the hand computation below sees the same scores
    b = view_batch()
    t = m.train_step(b)
    with torch.no_grad():
        weak, strong = m.scores(b["x_ulb"]).float(), m.scores(b["x_ulb_s"]).float()
    want = torch.nn.functional.cross_entropy(strong, weak.argmax(-1))
    assert t["consistency"].item() == pytest.approx(want.item(), rel=1e-4)
    assert t["consistency_mask_rate"].item() == 1.0
    off = make(name, ramp=0.0)
    off.eval()
    t0 = off.train_step(b)
    assert "consistency" not in t0
    # no adversarial term in eval mode: the totals differ by exactly the weighted term
    assert t["loss"].item() == pytest.approx(t0["loss"].item() + 0.5 * want.item(), rel=1e-4)


def test_fixmatch_dist_align_thresholds_the_aligned_probabilities():
    m = make("fixmatch", dist_align=True, ema=0.0, threshold=0.45)
    m.eval()  # no dropout, so the scores below are the ones train_step saw
    b = view_batch(noise=2.0)
    t = m.train_step(b)
    with torch.no_grad():
        p = m.model.head(b["x_ulb_w"]).scores.float().softmax(-1)
        s = m.model.head(b["x_ulb_s"]).scores.float()
    q = p / p.mean(0)  # momentum 0 and the first batch: the mean prediction is this batch's
    q = q / q.sum(-1, keepdim=True)
    conf, lab = q.max(-1)
    mask = (conf >= 0.45).float()
    want = (mask * torch.nn.functional.cross_entropy(s, lab, reduction="none")).mean()
    assert t["mask_rate"].item() == pytest.approx(mask.mean().item())
    assert t["unsup"].item() == pytest.approx(want.item(), rel=1e-4)
    assert "dist.p_model" in m.state_dict()
    assert "dist.p_model" in make("fixmatch").state_dict()  # on by default
    assert "dist.p_model" not in make("fixmatch", dist_align=False).state_dict()


def _supcon_by_hand(z: torch.Tensor, y: torch.Tensor, tau: float) -> float:
    """Khosla et al.'s L_out, written out with loops over anchors and positives."""
    z = torch.nn.functional.normalize(z.double(), dim=-1)
    total, anchors = 0.0, 0
    for i in range(len(y)):
        others = [a for a in range(len(y)) if a != i]
        denom = sum(torch.exp(z[i] @ z[a] / tau) for a in others)
        pos = [p for p in others if y[p] == y[i]]
        if pos:
            total += -sum(torch.log(torch.exp(z[i] @ z[p] / tau) / denom) for p in pos).item() / len(pos)
            anchors += 1
    return total / anchors


@pytest.mark.parametrize("name", ["fixmatch", "freematch", "softmatch"])
def test_supcon_pairs_each_labelled_item_with_its_strong_view_by_hand(name):
    m = make(name, lambda_supcon=0.7, supcon_temperature=0.2).eval()  # no dropout: z recomputable
    assert m.view_keys(m.cfg) == ("ulb_w", "ulb_s", "lb_s")
    assert make(name).view_keys(make(name).cfg) == ("ulb_w", "ulb_s")  # off: the papers' views only
    b = view_batch()
    lb_s = features(6, b["y_lb"], 9)
    b["x_lb_s"] = type(lb_s)(lb_s.pooled + 0.3, lb_s.tokens + 0.3, None)
    t = m.train_step(b)
    z = torch.cat([m.model.head(b["x_lb"]).z, m.model.head(b["x_lb_s"]).z]).detach()
    y = torch.cat([b["y_lb"], b["y_lb"]])
    assert t["supcon"].item() == pytest.approx(_supcon_by_hand(z, y, 0.2), rel=1e-4)
    off = make(name).eval()  # the same model and batch without the term: totals differ by 0.7 x supcon
    t0 = off.train_step(b)
    assert "supcon" not in t0
    assert t["loss"].item() == pytest.approx(t0["loss"].item() + 0.7 * t["supcon"].item(), rel=1e-5)
    m.zero_grad()
    t = m.train_step(b)
    t["supcon"].backward()  # the term reaches the head
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.model.projector.parameters())


@pytest.mark.parametrize("name", ["fixmatch", "freematch", "softmatch"])
def test_supcon_projection_contrasts_an_mlp_of_the_latents_by_hand(name):
    m = make(name, lambda_supcon=0.7, supcon_temperature=0.2, supcon_projection=5).eval()
    d = m.model.latent_dim
    head = m.supcon_head
    assert [x.in_features for x in head if isinstance(x, torch.nn.Linear)] == [d, d]
    assert head[-1].out_features == 5
    b = view_batch()
    lb_s = features(6, b["y_lb"], 9)
    b["x_lb_s"] = type(lb_s)(lb_s.pooled + 0.3, lb_s.tokens + 0.3, None)
    t = m.train_step(b)
    z = torch.cat([m.model.head(b["x_lb"]).z, m.model.head(b["x_lb_s"]).z]).detach()
    w1, b1, w2, b2 = (p.detach() for p in head.parameters())
    projected = torch.relu(z @ w1.T + b1) @ w2.T + b2  # the MLP by hand
    y = torch.cat([b["y_lb"], b["y_lb"]])
    expected = _supcon_by_hand(torch.nn.functional.normalize(projected, dim=-1), y, 0.2)
    assert t["supcon"].item() == pytest.approx(expected, rel=1e-4)
    assert t["supcon"].item() != pytest.approx(_supcon_by_hand(z, y, 0.2), rel=1e-3)
    m.zero_grad()
    m.train_step(b)["supcon"].backward()  # the projection trains, and the term still reaches the head
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.model.projector.parameters())
    assert not hasattr(make(name, supcon_projection=5), "supcon_head")  # no term, no projection


@pytest.mark.parametrize("name", ["fixmatch", "freematch"])
def test_supcon_unlabeled_adds_the_confident_strong_views_under_their_pseudo_label(name):
    b = view_batch()
    lb_s = features(6, b["y_lb"], 9)
    b["x_lb_s"] = type(lb_s)(lb_s.pooled + 0.3, lb_s.tokens + 0.3, None)
    w = make(name).eval().model.head(b["x_ulb_w"]).scores.detach().float().softmax(-1)
    # FixMatch: raw weak-view pseudo-labels, a threshold inside the batch's confidences;
    # FreeMatch: momentum 0, so its threshold is this batch's mean confidence (scaled per class)
    own = (
        {"dist_align": False, "threshold": float(w.max(-1).values.median())}
        if name == "fixmatch"
        else {"ema": 0.0}
    )
    keys = {"lambda_supcon": 0.7, "supcon_temperature": 0.2, **own}
    m = make(name, supcon_unlabeled=True, **keys).eval()
    t = m.train_step(b)
    probe = make(name, **keys).eval()  # the same weights and batch, the term without the pool
    head = lambda x: m.model.head(x)  # noqa: E731
    if name == "fixmatch":
        keep = w.max(-1).values >= m.cfg.threshold
    else:  # FreeMatch's thresholds after this step's update
        keep = w.max(-1).values >= m.sat.thresholds()[w.argmax(-1)]
    assert 0 < int(keep.sum()) < len(keep), "the batch must mix confident and unconfident items"
    z = torch.cat([head(b["x_lb"]).z, head(b["x_lb_s"]).z, head(b["x_ulb_s"]).z[keep]]).detach()
    y = torch.cat([b["y_lb"], b["y_lb"], w.argmax(-1)[keep]])
    assert t["supcon"].item() == pytest.approx(_supcon_by_hand(z, y, 0.2), rel=1e-4)
    assert t["supcon_ulb_rate"].item() == pytest.approx(keep.float().mean().item())
    assert t["supcon"].item() != pytest.approx(probe.train_step(b)["supcon"].item(), rel=1e-4)


def test_supcon_unlabeled_is_refused_by_softmatch():
    from ssft.config import load_config
    from ssft.errors import ConfigError

    with pytest.raises(ConfigError, match="supcon_unlabeled needs a confidence mask"):
        load_config(None, ["method.name=softmatch", "method.lambda_supcon=1", "method.supcon_unlabeled=true"])


def test_supcon_keys_are_validated():
    from ssft.config import load_config
    from ssft.errors import ConfigError

    with pytest.raises(ConfigError, match="lambda_supcon"):
        load_config(None, ["method.name=fixmatch", "method.lambda_supcon=-1"])
    with pytest.raises(ConfigError, match="supcon_temperature"):
        load_config(None, ["method.name=softmatch", "method.supcon_temperature=0"])
    with pytest.raises(ConfigError, match="supcon_projection"):
        load_config(None, ["method.name=fixmatch", "method.supcon_projection=-1"])


@pytest.mark.parametrize("name", ["fixmatch", "freematch", "softmatch"])
def test_weak_labeled_reads_a_weak_view_of_the_labelled_items(name):
    from ssft.methods import METHODS

    off, on = make(name), make(name, weak_labeled=True)
    assert "lb_w" not in METHODS.get(name).view_keys(off.cfg)
    assert "lb_w" in METHODS.get(name).view_keys(on.cfg)
    on.eval()
    b = view_batch()
    plain = on.train_step(b)["ce"].item()
    shifted = b["x_lb"]
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(shifted.tokens.shape, generator=g)
    b["x_lb_w"] = type(shifted)(shifted.pooled + noise[:, 0], shifted.tokens + noise, None)
    assert on.train_step(b)["ce"].item() != pytest.approx(plain)
