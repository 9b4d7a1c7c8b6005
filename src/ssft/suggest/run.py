"""``ssft suggest``: pick the next items to label and write them as a CSV a labeller can fill.

Cold start (no run): the pool's cached frozen features alone. Next batch (``run``): a trained run's
class probabilities on its pool too, and never an item the run already had labelled. The pool is
the training part of the data (minus the held-out test part of one-split data), exactly the items
``ssft fit`` draws its labelled and unlabelled sets from, so the features come from the same cache.
"""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssft.config import Config
from ssft.data.labeled_items import item_name
from ssft.data.splits import Split, holdout_split, stratified_cap
from ssft.errors import ConfigError
from ssft.suggest import STRATEGIES, Context, select
from ssft.suggest.geometry import normalise

_TEST_CAP = 404  # make_split's stream tag for data.max_test: the same test part, the same cache entry


@dataclass
class Pool:
    """The candidate items: ``index`` (n,) rows of the dataset's training part, their pooled
    features (n, D), L2-normalised, and the dataset they come from."""

    index: np.ndarray
    features: np.ndarray
    dataset: Any
    source: Any = None  # the cached feature source (a trained run predicts from it)
    split: Split | None = None  # the whole pool unlabelled, and the test part (see pool_split)
    test_source: Any = None  # the test part's cached features (benchmarks score picks on them)


def pool_split(dataset: Any, cfg: Config) -> Split:
    """The whole training pool as unlabelled, and the test part as ``ssft fit`` holds it out."""
    labels = dataset.train.labels
    if dataset.test is None:
        pool, test = holdout_split(labels, cfg.data.holdout, cfg.data.holdout_seed, classes=dataset.classes)
        source, test_labels = "train", labels
    else:
        pool = np.arange(labels.size, dtype=np.int64)
        test, source, test_labels = np.flatnonzero(dataset.test.labels >= 0), "test", dataset.test.labels
    if cfg.data.max_test is not None:
        test = stratified_cap(test_labels, test, cfg.data.max_test, cfg.data.holdout_seed, _TEST_CAP)
    if test.size == 0:  # wholly unlabelled data: the sources still want a test part to open
        test = pool[:1]
    return Split(
        np.zeros(0, dtype=np.int64), pool.astype(np.int64), test.astype(np.int64), test_source=source
    )


def load_pool(cfg: Config, backbone: Any = None) -> Pool:
    """Pool features of a frozen-backbone config, read from (or first extracted into) the cache."""
    from ssft.backbones import build_backbone
    from ssft.data import load_dataset
    from ssft.run.sources import build_sources
    from ssft.train.predict import pooled_features
    from ssft.train.runtime import resolve_device

    if not (cfg.backbone.frozen and cfg.cache.enabled):
        raise ConfigError(
            "ssft suggest reads cached frozen features; set backbone.frozen=true and cache.enabled=true"
        )
    dataset = load_dataset(cfg.data)
    split = pool_split(dataset, cfg)
    device = resolve_device(cfg.train.device)
    if backbone is None:
        backbone = build_backbone(cfg.backbone).freeze()
    backbone.to(device)
    train_src, test_src, _ = build_sources(cfg, dataset, split, backbone, device)
    feats = pooled_features(train_src, split.unlabeled, cfg.cache.batch_size)
    return Pool(split.unlabeled, normalise(feats), dataset, train_src, split, test_src)


def run_probabilities(run: Any, pool: Pool) -> np.ndarray:
    """Class probabilities (n, K) of a loaded run (:func:`ssft.api.load_run`) on the pool."""
    from ssft.train.predict import predict

    cfg = run.cfg
    return predict(run.method, pool.source, pool.index, cfg.cache.batch_size, run.device, cfg.train.precision)


def run_labeled(run_dir: Path) -> np.ndarray:
    """Training-part indices a run had labelled (its labelled and validation items)."""
    split = Split.load(run_dir / "split.json")
    return np.union1d(split.labeled, split.validation).astype(np.int64)


def suggest(
    cfg: Config | None,
    budget: int,
    *,
    strategy: str | None = None,
    run_dir: str | Path | None = None,
    seed: int = 0,
    log: Any = None,
) -> list[dict[str, Any]]:
    """The ``budget`` items to label next, one dict per item in pick order (see :func:`write_csv`)."""
    from ssft.suggest import COLD_START_DEFAULT, NEXT_BATCH_DEFAULT

    log = log or sys.stderr  # looked up at call time (a caller may have replaced sys.stderr)
    name = strategy or (NEXT_BATCH_DEFAULT if run_dir else COLD_START_DEFAULT)
    needs = STRATEGIES.get(name).needs_predictions
    if needs and run_dir is None:
        raise ConfigError(f"strategy {name} ranks by a trained run's predictions; pass --run RUN")
    run = None
    if run_dir is not None:
        from ssft.api import load_run

        run = load_run(run_dir)
        cfg = run.cfg
    if cfg is None:
        raise ConfigError("ssft suggest needs --config (cold start) or --run (next batch)")
    t0 = time.perf_counter()
    print(f"suggest: reading the pool's features ({cfg.data.name}, {cfg.backbone.name})", file=log)
    pool = load_pool(cfg, run.method.model.backbone if run is not None else None)
    labeled = np.zeros(pool.index.size, dtype=bool)
    probs = None
    if run is not None:
        labeled = np.isin(pool.index, run_labeled(Path(run_dir)))  # type: ignore[arg-type]
        print(f"suggest: predicting {pool.index.size} pool items with {run_dir}", file=log)
        probs = run_probabilities(run, pool)
    print(f"suggest: {name} picks {budget} of {int((~labeled).sum())} unlabelled items", file=log)
    picks = select(Context(pool.features, labeled, probs), budget, seed, name)
    print(f"suggest: done in {time.perf_counter() - t0:.1f} s", file=log)
    inputs = pool.dataset.train.inputs
    rows = []
    for rank, (pos, score) in enumerate(zip(picks.index, picks.score, strict=True), start=1):
        i = int(pool.index[pos])
        row = {"rank": rank, "index": i, "item": item_name(inputs, i), "score": round(float(score), 6)}
        if probs is not None:
            row["predicted"] = _class_name(pool.dataset.classes, int(probs[pos].argmax()))
        rows.append({**row, "strategy": name, "label": ""})
    return rows


def _class_name(classes: list[str] | None, c: int) -> str:
    return classes[c] if classes and c < len(classes) else str(c)


def write_csv(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """One row per item: rank, index (row of the training part), item (file path or text), score,
    [predicted], strategy, and an empty ``label`` column to fill in; data.labeled_items reads it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = list(rows[0]) if rows else ["rank", "index", "item", "score", "strategy", "label"]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    return path
