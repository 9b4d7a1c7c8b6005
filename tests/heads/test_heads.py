"""Projector, aggregations and classifiers: shapes, masks, hand-computed values."""

import math

import pytest
import torch

from ssft.backbones.base import Features
from ssft.config import ModelConfig
from ssft.heads.aggregators import build_aggregation, masked_mean
from ssft.heads.classifier import CosineClassifier
from ssft.heads.projector import TransformerProjector


def test_masked_mean_ignores_padding():
    t = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    m = torch.tensor([[True, True, False]])
    assert torch.allclose(masked_mean(t, m), torch.tensor([[2.0, 3.0]]))


@pytest.mark.parametrize("agg", ["cls", "mean", "cls_mean", "attention"])
def test_projector_shapes_and_padding_invariance(agg):
    torch.manual_seed(0)
    proj = TransformerProjector(8, width=16, depth=2, heads=4, dropout=0.0, aggregation=agg).eval()
    tokens = torch.randn(2, 5, 8)
    mask = torch.tensor([[True, True, True, False, False], [True] * 5])
    z = proj(Features(tokens[:, 0], tokens, mask))
    assert z.shape == (2, 16)
    # Changing what sits in padded positions must not change the output.
    tokens2 = tokens.clone()
    tokens2[0, 3:] = 1e3
    z2 = proj(Features(tokens2[:, 0], tokens2, mask))
    assert torch.allclose(z, z2, atol=1e-5)
    # And the short sequence alone gives the same result as padded.
    z_short = proj(Features(tokens[:1, 0], tokens[:1, :3], None))
    assert torch.allclose(z[0], z_short[0], atol=1e-5)


def test_unknown_aggregation_lists_known():
    with pytest.raises(Exception, match="known: attention, cls, cls_mean, mean"):
        build_aggregation("max", 8)


def test_cosine_classifier_hand_value():
    clf = CosineClassifier(2, 2, init_temperature=10.0, init_bias=-10.0)
    with torch.no_grad():
        clf.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
    z = torch.tensor([[3.0, 4.0]])
    # cos with (1,0) = 0.6, with (0,1) = 0.8
    assert torch.allclose(clf(z), torch.tensor([[10 * 0.6 - 10, 10 * 0.8 - 10]]), atol=1e-5)
    assert isinstance(clf.log_t, torch.nn.Parameter) and isinstance(clf.bias, torch.nn.Parameter)


def test_cosine_classifier_without_rescaling_is_fixed():
    clf = CosineClassifier(4, 3, rescaling=False, init_temperature=5.0)
    names = {n for n, _ in clf.named_parameters()}
    assert names == {"weight"}
    assert math.isclose(float(clf.temperature.detach()), 5.0, rel_tol=1e-6) and float(clf.bias) == 0.0


def test_model_config_defaults_build():
    from ssft.heads.model import build_classifier, build_projector

    cfg = ModelConfig()
    proj = build_projector(cfg, 32)
    clf = build_classifier(cfg, proj.out_dim, 5)
    feats = Features(torch.randn(3, 32), torch.randn(3, 7, 32), None)
    assert clf(proj(feats)).shape == (3, 5)


def test_temperature_is_bounded_and_can_come_back_down():
    clf = CosineClassifier(4, 3, init_temperature=10.0, max_temperature=50.0)
    opt = torch.optim.AdamW(clf.parameters(), lr=0.5, weight_decay=0.0)
    for _ in range(100):  # a loss that only wants a larger t
        opt.zero_grad()
        (-clf.temperature).backward()
        opt.step()
        clf.constrain_()
    assert float(clf.temperature.detach()) == pytest.approx(50.0, rel=1e-5)
    assert float(clf.log_t.detach()) <= math.log(50.0) + 1e-6  # the parameter, not only its use
    opt = torch.optim.SGD(clf.parameters(), lr=0.01)
    opt.zero_grad()
    clf.temperature.backward()  # now a loss that wants a smaller t: the gradient is not dead
    opt.step()
    assert float(clf.temperature.detach()) < 50.0 - 1e-3
    with torch.no_grad():  # even without constrain_, the forward pass never uses t > max
        clf.log_t.fill_(math.log(1000.0))
    assert float(clf.temperature.detach()) == pytest.approx(50.0, rel=1e-5)
    with pytest.raises(ValueError, match="init_temperature <= max_temperature"):
        CosineClassifier(4, 3, init_temperature=200.0, max_temperature=100.0)
