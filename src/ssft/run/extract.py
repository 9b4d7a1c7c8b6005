"""``ssft extract``: fill the feature cache for a config without training."""

from __future__ import annotations

from typing import Any

from ssft.config import Config
from ssft.errors import ConfigError


def extract_for_config(cfg: Config) -> dict[str, Any]:
    """Run the frozen backbone once over every item the config's run needs (train pool + test, and
    the augmented views its method reads)."""
    from ssft.backbones import build_backbone
    from ssft.data import load_dataset
    from ssft.data.splits import make_split
    from ssft.run.sources import build_sources
    from ssft.train.runtime import resolve_device

    if not cfg.backbone.frozen:
        raise ConfigError("ssft extract caches a frozen backbone's features; set backbone.frozen=true")
    if not cfg.cache.enabled:
        raise ConfigError("cache.enabled=false: nothing to extract")
    from ssft.backbones.auto import resolve_auto

    dataset = load_dataset(cfg.data)
    cfg = resolve_auto(cfg, dataset)  # backbone.name=auto: the backbone ssft fit would pick
    split = make_split(dataset, cfg.data)
    # the augmented views the configured method reads are part of what its runs need
    from ssft.distributed import process_group
    from ssft.methods.base import method_view_kinds

    with process_group():  # `torchrun -m ssft extract`: each rank extracts a share, rank 0 assembles
        device = resolve_device(cfg.train.device)  # this rank's GPU under torchrun
        backbone = build_backbone(cfg.backbone).freeze().to(device)
        _, _, stats = build_sources(cfg, dataset, split, backbone, device, method_view_kinds(cfg.method))
    return {
        "backbone": cfg.backbone.name,
        "dataset": cfg.data.name,
        "items": int(split.labeled.size + split.validation.size + split.unlabeled.size + split.test.size),
        "forward_passes": stats["forward_passes"],
        "extract_seconds": round(stats["extract_seconds"], 3),
        "cache": stats["cache"],
    }
