"""The FixMatch-family terms against hand computations (numbers worked out on paper / in plain math)."""

from __future__ import annotations

import math

import pytest
import torch

from ssft.losses import pseudo_label_loss, self_adaptive_fairness_loss


def _softmax(row: list[float]) -> list[float]:
    e = [math.exp(v) for v in row]
    return [v / sum(e) for v in e]


def test_pseudo_label_loss_fixed_threshold_by_hand():
    # weak item 0: softmax([3, 0, 0]) max = e^3/(e^3+2) = 0.909 -> kept at 0.9, label 0
    # weak item 1: softmax([0, 1, 0]) max = e/(e+2) = 0.576 -> masked out
    # weak item 2: softmax([0, 0, 5]) max = 0.9867 -> kept, label 2
    weak = torch.tensor([[3.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 5.0]])
    strong = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [2.0, 0.0, 1.0]])
    out = pseudo_label_loss(scores_weak=weak, scores_strong=strong, threshold=0.9)
    ce0 = -math.log(_softmax([1.0, 2.0, 0.0])[0])
    ce2 = -math.log(_softmax([2.0, 0.0, 1.0])[2])
    assert out["loss"].item() == pytest.approx((ce0 + ce2) / 3, rel=1e-6)  # mean over all B = 3
    assert out["mask"].tolist() == [1.0, 0.0, 1.0]
    assert out["pseudo_labels"].tolist() == [0, 1, 2]
    assert out["mask_rate"].item() == pytest.approx(2 / 3)


def test_pseudo_label_loss_per_class_thresholds_index_by_pseudo_label():
    weak = torch.tensor([[3.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # confidences 0.909 (class 0), 0.576 (class 1)
    strong = torch.zeros(2, 3)
    # class 0 needs 0.95 (fails), class 1 needs 0.5 (passes)
    out = pseudo_label_loss(scores_weak=weak, scores_strong=strong, threshold=torch.tensor([0.95, 0.5, 0.5]))
    assert out["mask"].tolist() == [0.0, 1.0]
    assert out["loss"].item() == pytest.approx(math.log(3) / 2, rel=1e-6)  # CE of uniform scores = log 3


def test_pseudo_label_loss_no_gradient_through_weak_view():
    weak = torch.tensor([[3.0, 0.0], [0.0, 4.0]], requires_grad=True)
    strong = torch.tensor([[0.0, 1.0], [1.0, 0.0]], requires_grad=True)
    pseudo_label_loss(scores_weak=weak, scores_strong=strong, threshold=0.5)["loss"].backward()
    assert weak.grad is None
    assert strong.grad is not None and strong.grad.abs().sum() > 0


def test_pseudo_label_loss_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(B, K\)"):
        pseudo_label_loss(scores_weak=torch.zeros(2, 3), scores_strong=torch.zeros(2, 4), threshold=0.5)
    with pytest.raises(ValueError, match=r"\(K,\)"):
        pseudo_label_loss(
            scores_weak=torch.zeros(2, 3), scores_strong=torch.zeros(2, 3), threshold=torch.ones(2)
        )


def test_fairness_loss_by_hand():
    # two confident items out of three; strong scores of the kept ones:
    strong = torch.tensor([[2.0, 0.0, 0.0], [9.0, 9.0, 9.0], [0.0, 1.0, 0.0]])
    mask = torch.tensor([1.0, 0.0, 1.0])
    p_model = torch.tensor([0.5, 0.3, 0.2])
    label_hist = torch.tensor([0.25, 0.25, 0.5])
    # target: p_model / label_hist = [2, 1.2, 0.4], normalised
    a = [2.0 / 3.6, 1.2 / 3.6, 0.4 / 3.6]
    # kept strong probabilities and their argmax histogram: item 0 -> class 0, item 2 -> class 1
    p0, p2 = _softmax([2.0, 0.0, 0.0]), _softmax([0.0, 1.0, 0.0])
    mean = [(x + y) / 2 for x, y in zip(p0, p2, strict=True)]
    hist = [0.5, 0.5, 0.0]
    scaled = [m / h if h > 0 else 0.0 for m, h in zip(mean, hist, strict=True)]
    b = [v / sum(scaled) for v in scaled]
    expected = sum(ai * math.log(bi + 1e-12) for ai, bi in zip(a, b, strict=True))
    got = self_adaptive_fairness_loss(scores_strong=strong, mask=mask, p_model=p_model, label_hist=label_hist)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    assert expected < -3  # class 2 has no strong prediction: its log(eps) dominates, as in the reference


def test_fairness_loss_is_zero_without_confident_items_and_keeps_the_graph():
    strong = torch.randn(4, 3, requires_grad=True)
    out = self_adaptive_fairness_loss(
        scores_strong=strong, mask=torch.zeros(4), p_model=torch.ones(3) / 3, label_hist=torch.ones(3) / 3
    )
    assert out.item() == 0.0
    out.backward()  # no error: the term is part of the graph


def test_fairness_loss_gradient_only_through_strong_scores():
    strong = torch.tensor([[2.0, 0.0, 1.0], [0.0, 1.0, 0.5], [0.2, 0.1, 3.0]], requires_grad=True)
    p_model = torch.tensor([0.5, 0.3, 0.2], requires_grad=True)
    out = self_adaptive_fairness_loss(
        scores_strong=strong, mask=torch.ones(3), p_model=p_model, label_hist=torch.ones(3) / 3
    )
    out.backward()
    assert p_model.grad is None and strong.grad.abs().sum() > 0


def test_pseudo_label_loss_takes_a_given_posterior():
    weak = torch.tensor([[3.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # softmax would keep item 0 only at 0.9
    strong = torch.zeros(2, 3)
    probs = torch.tensor([[0.5, 0.3, 0.2], [0.05, 0.05, 0.9]])  # the method's own posterior
    out = pseudo_label_loss(scores_weak=weak, scores_strong=strong, threshold=0.9, probs_weak=probs)
    assert out["mask"].tolist() == [0.0, 1.0] and out["pseudo_labels"].tolist() == [0, 2]
    assert out["loss"].item() == pytest.approx(math.log(3) / 2, rel=1e-6)
    with pytest.raises(ValueError, match="probs_weak"):
        pseudo_label_loss(scores_weak=weak, scores_strong=strong, threshold=0.9, probs_weak=probs[:1])


def test_truncated_gaussian_weight_by_hand():
    from ssft.losses import truncated_gaussian_weight

    conf = torch.tensor([0.9, 0.5, 0.3, 0.6])
    # mean 0.6, variance 0.04, n_sigma 2: effective sigma^2 = 0.04 / 4 = 0.01
    w = truncated_gaussian_weight(confidence=conf, mean=0.6, var=0.04, n_sigma=2.0)
    want = [1.0, math.exp(-(0.1**2) / 0.02), math.exp(-(0.3**2) / 0.02), 1.0]
    assert w.tolist() == pytest.approx(want, rel=1e-5)
    # n_sigma 1: the paper's plain Gaussian exp(-(c - mu)^2 / (2 var))
    w1 = truncated_gaussian_weight(confidence=conf, mean=0.6, var=0.04, n_sigma=1.0)
    assert w1[1].item() == pytest.approx(math.exp(-0.01 / 0.08), rel=1e-5)
    with pytest.raises(ValueError, match="n_sigma"):
        truncated_gaussian_weight(confidence=conf, mean=0.6, var=0.04, n_sigma=0.0)


def test_soft_pseudo_label_loss_by_hand():
    from ssft.losses import soft_pseudo_label_loss

    strong = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [2.0, 0.0, 1.0]], requires_grad=True)
    labels = torch.tensor([0, 1, 2])
    weights = torch.tensor([1.0, 0.25, 0.0])
    out = soft_pseudo_label_loss(scores_strong=strong, pseudo_labels=labels, weights=weights)
    ce0 = -math.log(_softmax([1.0, 2.0, 0.0])[0])
    ce1 = math.log(3)
    assert out.item() == pytest.approx((ce0 + 0.25 * ce1 + 0.0) / 3, rel=1e-6)  # mean over all B = 3
    out.backward()
    assert strong.grad[2].abs().sum().item() == 0.0  # a zero weight gives no gradient
    with pytest.raises(ValueError, match=r"\(B,\)"):
        soft_pseudo_label_loss(scores_strong=strong, pseudo_labels=labels[:2], weights=weights)


def test_distribution_alignment_by_hand():
    from ssft.losses import distribution_alignment

    probs = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    p_model = torch.tensor([0.5, 0.3, 0.2])
    out = distribution_alignment(probs=probs, p_model=p_model)
    # uniform target: p / p_model, renormalised
    r0 = [0.6 / 0.5, 0.3 / 0.3, 0.1 / 0.2]
    r1 = [0.2 / 0.5, 0.2 / 0.3, 0.6 / 0.2]
    assert out[0].tolist() == pytest.approx([v / sum(r0) for v in r0], rel=1e-6)
    assert out[1].tolist() == pytest.approx([v / sum(r1) for v in r1], rel=1e-6)
    # a model that already predicts the target leaves the probabilities unchanged
    same = distribution_alignment(probs=probs, p_model=torch.full((3,), 1 / 3))
    assert torch.allclose(same, probs, atol=1e-6)
    target = torch.tensor([0.5, 0.25, 0.25])
    t = distribution_alignment(probs=probs, p_model=p_model, p_target=target)
    r = [0.6 / 0.5 * 0.5, 0.3 / 0.3 * 0.25, 0.1 / 0.2 * 0.25]
    assert t[0].tolist() == pytest.approx([v / sum(r) for v in r], rel=1e-6)
