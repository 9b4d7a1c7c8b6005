"""A run's feature sources: the training part and the test part, read from the feature cache when
the backbone is frozen (extracted once, shared by every run of the same backbone and data), or
encoded live at every step otherwise; plus the augmented views a method reads."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssft.backbones.base import Backbone
from ssft.config import Config
from ssft.data.base import Dataset
from ssft.data.splits import Split
from ssft.data.subset import SubsetInputs
from ssft.errors import ConfigError
from ssft.precision import autocast_dtype
from ssft.train.streams import CachedSource, FeatureSource, LiveSource

#: Bumped when the strong, text or feature augmentations change, so stale cached views are never reused.
AUGMENT_VERSION = 1


def hash_indices(idx: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(idx, dtype=np.int64).tobytes()).hexdigest()[:12]


class CacheEntries:
    """Opens (extracting first when needed) the cache entries of one run's items."""

    def __init__(self, cfg: Config, dataset: Dataset, backbone: Backbone, device: torch.device) -> None:
        from ssft.features import default_cache_dir

        self.cfg, self.dataset, self.backbone, self.device = cfg, dataset, backbone, device
        self.root = Path(cfg.cache.dir) if cfg.cache.dir else default_cache_dir()
        self.fingerprint = backbone.fingerprint()
        self.amp = autocast_dtype(device, cfg.train.precision)
        self.forward_passes = 0

    def key(self, part: str, idx: np.ndarray, view: int, kind: str) -> str:
        cfg, backbone = self.cfg, self.backbone
        from ssft.features import cache_key

        identity = f"{self.dataset.identity()}:{part}:{hash_indices(idx)}"
        if view:
            identity += f":seed{cfg.cache.view_seed}:flip{int(cfg.cache.view_flip)}"
        if kind == "strong" or (view and backbone.modality in ("text", "features")):
            identity += f":{kind}{AUGMENT_VERSION}"
        return cache_key(
            backbone_fingerprint=self.fingerprint,
            dataset_identity=identity,
            part=part,
            store=cfg.cache.store,
            grid=cfg.cache.grid,
            view=view,
            max_length=cfg.backbone.max_length if backbone.modality == "text" else None,
            autocast=None if self.amp is None else str(self.amp).removeprefix("torch."),
        )

    def open(
        self,
        part: str,
        inputs: Any,
        idx: np.ndarray,
        part_size: int,
        view: int = 0,
        kind: str = "weak",
        shown: str | None = None,
    ) -> CachedSource:
        """The cache entry of ``inputs`` (items ``idx`` of part ``part``), as a source."""
        from ssft.features.sharded import build_store

        cfg, device = self.cfg, self.device
        label = (shown or part) if not view else f"{part} {kind} view {view}"
        store = build_store(  # FeatureStore.build, sharded across the ranks under DDP
            backbone=self.backbone,
            inputs=inputs,
            key=self.key(part, idx, view, kind),
            root=self.root,
            store=cfg.cache.store,
            grid=cfg.cache.grid,
            batch_size=cfg.cache.batch_size,
            device=device,
            num_workers=cfg.train.num_workers,
            progress=cfg.train.progress,
            meta={
                "backbone": self.backbone.name,
                "dataset": self.dataset.name,
                "part": label,
                "items": len(idx),
            },
            compile=cfg.train.compile,
            precision=cfg.train.precision,
        )
        self.forward_passes += store.forward_passes
        want = cfg.cache.device_resident
        if device.type == "cuda" and (want == "yes" or (want == "auto" and store.fits_on(device))):
            store = store.to(device)
        return CachedSource(store, idx, part_size, device)


def build_sources(
    cfg: Config,
    dataset: Dataset,
    split: Split,
    backbone: Backbone,
    device: torch.device,
    view_kinds: tuple[str, ...] = (),
) -> tuple[FeatureSource, FeatureSource, dict[str, Any]]:
    """Feature sources for the train part and the test part, plus extraction stats.

    ``view_kinds``: the kinds of augmented views the method reads (``"weak"``, ``"strong"``). With
    the cache, ``cache.views`` weak views are extracted whenever asked for, strong views
    (``cache.strong_views``) only when the method reads them; without it, views are made live.
    """
    stats: dict[str, Any] = {"extract_seconds": 0.0, "forward_passes": 0, "cache": None}
    test_part = dataset.train if split.test_source == "train" else dataset.test
    assert test_part is not None
    frozen = cfg.backbone.frozen
    if not (frozen and cfg.cache.enabled):
        train = LiveSource(
            backbone,
            dataset.train.inputs,
            device,
            grad=not frozen,
            num_workers=cfg.train.num_workers,
            view_seed=cfg.cache.view_seed,
            view_flip=cfg.cache.view_flip,
        )
        return train, LiveSource(backbone, test_part.inputs, device, grad=False), stats
    if "strong" in view_kinds and not cfg.cache.strong_views:
        raise ConfigError(
            f"method {cfg.method.name} reads strong augmented views, but cache.strong_views=0 extracts "
            "none; set cache.strong_views >= 1 (each costs one extraction pass over the training items), "
            "or cache.enabled=false to augment live at every step"
        )
    from ssft.train.cache_rows import cache_rows

    train_idx = cache_rows(cfg, dataset, split)  # seed-independent under data.max_unlabeled
    entries = CacheEntries(cfg, dataset, backbone, device)
    t0 = time.perf_counter()
    train_inputs = SubsetInputs(dataset.train.inputs, train_idx)
    train_src = entries.open("train", train_inputs, train_idx, len(dataset.train))
    test_name = "test" if split.test_source == "test" else "train"
    # the held-out test items live in the train part (the key says so) but are shown as what they are
    shown = "test" if test_name == "test" else "held-out test"
    test_inputs = SubsetInputs(test_part.inputs, split.test)
    test_src = entries.open(test_name, test_inputs, split.test, len(test_part), shown=shown)
    # Augmented views of the training items, each extracted once like view 0: the weak ones
    # (cache.views) whenever asked for, the strong ones only for a method that reads them.
    from ssft.data.augment import ViewInputs

    counts = {"weak": cfg.cache.views, "strong": cfg.cache.strong_views if "strong" in view_kinds else 0}
    for kind, count in counts.items():
        for v in range(1, count + 1):
            views = ViewInputs(train_inputs, v, cfg.cache.view_seed, cfg.cache.view_flip, kind=kind)
            entry = entries.open("train", views, train_idx, len(dataset.train), view=v, kind=kind)
            (train_src.views if kind == "weak" else train_src.strong).append(entry)
    stats.update(
        extract_seconds=time.perf_counter() - t0,
        forward_passes=entries.forward_passes,
        cache=str(entries.root),
    )
    return train_src, test_src, stats
