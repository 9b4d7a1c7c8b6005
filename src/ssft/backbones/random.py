"""``random:<preset>``: the real transformers architectures with seeded random weights.

For tests and offline runs: no download, the same wrapper classes as ``hf:``. Weights are drawn
with ``torch.manual_seed(0)`` inside a forked RNG, so building one never moves the global RNG and
the same preset always has the same weights (a trainable run's checkpoint reloads onto them).
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

import torch

from ssft.backbones.base import Backbone
from ssft.backbones.families import register_family
from ssft.backbones.hf_loading import resolve_source
from ssft.backbones.hf_text import HFTextBackbone
from ssft.backbones.hf_vision import (
    CLIP_MEAN,
    CLIP_STD,
    HALF,
    IMAGENET_MEAN,
    IMAGENET_STD,
    HFVisionBackbone,
    image_preprocess,
    model_class,
)
from ssft.config import BackboneConfig
from ssft.errors import BackboneError
from ssft.registry import Registry

PRESETS: Registry[Callable[[BackboneConfig], Backbone]] = Registry("random backbone preset")

# Common English words, whole, so tiny-vocabulary tokens look like words rather than letters.
_WORDS = (
    "the a an and or but not no yes is are was were be been has have had do does did of to in on at by "
    "for with from as it its this that these those he she they we you i me my our your their his her "
    "there here what which who when where why how all any some more most many much one two three new "
    "good bad great best first last big small old young long short high low world news sports business "
    "science tech technology game games team win won lose lost play player season market stock stocks "
    "price prices company companies year years day days week time people government president state "
    "country city police war peace oil deal sale sales report says said will would can could should "
    "may might up down out over after before about into than then so if just only also very film movie "
    "love like hate good nice terrible awful boring fun funny story plot actor actors music"
)


def _fork_seeded(build: Callable[[], Any]) -> Any:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build()


def _build(family: str, config: Any, **kw: Any) -> Any:
    config._attn_implementation = "sdpa"
    return _fork_seeded(lambda: model_class(family)(config, **kw))


def _vision(
    cfg: BackboneConfig, family: str, config: Any, size: int, mean: tuple, std: tuple, **kw: Any
) -> Backbone:
    model = _build(family, config, **kw)
    pre = image_preprocess(None, size=cfg.image_size, default_size=size, mean=mean, std=std)
    return HFVisionBackbone(cfg.name, model, family=family, preprocess=pre, pooling=cfg.pooling)


def tiny_tokenizer() -> Any:
    """A lower-casing WordPiece tokenizer over a small vocabulary generated here (no files)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    chars = string.ascii_lowercase + string.digits + string.punctuation
    vocab_list = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *(f"##{c}" for c in chars)]
    vocab_list += [w for w in dict.fromkeys(_WORDS.split()) if w not in vocab_list]
    vocab = {tok: i for i, tok in enumerate(vocab_list)}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )


def _text(cfg: BackboneConfig, config: Any, tokenizer: Any, tokenizer_id: str) -> Backbone:
    from transformers import BertModel

    config._attn_implementation = "sdpa"
    model = _fork_seeded(lambda: BertModel(config, add_pooling_layer=False))
    return HFTextBackbone(
        cfg.name, model, tokenizer, max_length=cfg.max_length, pooling=cfg.pooling, tokenizer_id=tokenizer_id
    )


@PRESETS.register("dinov2-tiny", "DINOv2, width 64, 2 blocks, patch 8, 32 px (tests)")
def dinov2_tiny(cfg: BackboneConfig) -> Backbone:
    from transformers import Dinov2Config

    c = Dinov2Config(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=4, patch_size=8, image_size=32
    )
    return _vision(cfg, "dinov2", c, 32, IMAGENET_MEAN, IMAGENET_STD)


@PRESETS.register("dinov2-small", "the facebook/dinov2-small architecture (384 wide, 12 blocks), 224 px")
def dinov2_small(cfg: BackboneConfig) -> Backbone:
    from transformers import Dinov2Config

    c = Dinov2Config(
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=6,
        mlp_ratio=4,
        patch_size=14,
        image_size=518,
    )
    return _vision(cfg, "dinov2", c, 224, IMAGENET_MEAN, IMAGENET_STD)


@PRESETS.register("dinov2-base", "the facebook/dinov2-base architecture (768 wide, 12 blocks), 224 px")
def dinov2_base(cfg: BackboneConfig) -> Backbone:
    from transformers import Dinov2Config

    c = Dinov2Config(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        mlp_ratio=4,
        patch_size=14,
        image_size=518,
    )
    return _vision(cfg, "dinov2", c, 224, IMAGENET_MEAN, IMAGENET_STD)


@PRESETS.register("dinov2-reg-tiny", "DINOv2 with 4 registers, width 64, 2 blocks, patch 8, 32 px")
def dinov2_reg_tiny(cfg: BackboneConfig) -> Backbone:
    from transformers import Dinov2WithRegistersConfig

    c = Dinov2WithRegistersConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        mlp_ratio=4,
        patch_size=8,
        image_size=32,
        num_register_tokens=4,
    )
    return _vision(cfg, "dinov2_with_registers", c, 32, IMAGENET_MEAN, IMAGENET_STD)


@PRESETS.register("vit-tiny", "ViT, width 64, 4 blocks, patch 4, 28 px (MNIST-sized trainable runs)")
def vit_tiny(cfg: BackboneConfig) -> Backbone:
    from transformers import ViTConfig

    c = ViTConfig(
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=256,
        patch_size=4,
        image_size=28,
    )
    return _vision(cfg, "vit", c, 28, IMAGENET_MEAN, IMAGENET_STD, add_pooling_layer=False)


@PRESETS.register("clip-tiny", "CLIP vision tower, width 64, 2 blocks, patch 8, 32 px")
def clip_tiny(cfg: BackboneConfig) -> Backbone:
    from transformers import CLIPVisionConfig

    c = CLIPVisionConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=256,
        patch_size=8,
        image_size=32,
    )
    return _vision(cfg, "clip", c, 32, CLIP_MEAN, CLIP_STD)


@PRESETS.register("siglip-tiny", "SigLIP vision tower (no [CLS], attention pooling), width 64, 32 px")
def siglip_tiny(cfg: BackboneConfig) -> Backbone:
    from transformers import SiglipVisionConfig

    c = SiglipVisionConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=256,
        patch_size=8,
        image_size=32,
    )
    return _vision(cfg, "siglip", c, 32, HALF, HALF)


@PRESETS.register("bert-tiny", "BERT, width 64, 2 blocks, with a small generated WordPiece vocabulary")
def bert_tiny(cfg: BackboneConfig) -> Backbone:
    from transformers import BertConfig

    tok = tiny_tokenizer()
    c = BertConfig(
        vocab_size=len(tok),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=256,
        max_position_embeddings=512,
    )
    return _text(cfg, c, tok, "ssft-tiny-wordpiece")


@PRESETS.register("minilm-random", "the all-MiniLM-L6-v2 architecture (384 wide, 6 blocks), random weights")
def minilm_random(cfg: BackboneConfig) -> Backbone:
    from transformers import AutoTokenizer, BertConfig

    src, _ = resolve_source("sentence-transformers/all-MiniLM-L6-v2", None)
    if src.startswith("sentence-transformers/"):  # the bundled package is absent: stay offline
        tok, tok_id = tiny_tokenizer(), "ssft-tiny-wordpiece"
    else:
        tok, tok_id = AutoTokenizer.from_pretrained(src), "all-MiniLM-L6-v2"
    c = BertConfig(
        vocab_size=max(30522, len(tok)),
        hidden_size=384,
        num_hidden_layers=6,
        num_attention_heads=12,
        intermediate_size=1536,
        max_position_embeddings=512,
    )
    return _text(cfg, c, tok, tok_id)


@register_family("random")
def build_random(cfg: BackboneConfig) -> Backbone:
    preset = cfg.name.split(":", 1)[1].strip()
    if preset not in PRESETS:
        known = ", ".join(f"random:{p}" for p in PRESETS)
        raise BackboneError(f"unknown random backbone preset {preset!r}; known: {known}")
    return PRESETS.get(preset)(cfg)


@PRESETS.register(
    "effnet-lite0", "the EfficientNet-Lite0 architecture (1280 wide, 7 stages), 224 px; needs ssft[effnet]"
)
def effnet_lite0(cfg: BackboneConfig) -> Backbone:
    from ssft.backbones.effnet import EffNetBackbone

    return EffNetBackbone(cfg, pretrained=False)
