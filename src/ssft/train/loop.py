"""``fit``: the whole run, top to bottom.

1. resolve the run directory (fresh, or ``resume``), write ``config.yaml``;
2. load the dataset, draw the split, write ``split.json``;
3. build the backbone; with a frozen backbone, extract its features once into the cache;
4. build model and method; train with AdamW + warm-up/cosine, gradient clipping, autocast on GPU;
   log every term; checkpoint atomically (also on SIGTERM/SIGINT);
5. evaluate on the test part (last checkpoint; validation-selected too when a validation set is
   configured), write ``model.safetensors`` and ``results.json``.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import signal
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from ssft.backbones.auto import AUTO, resolve_auto
from ssft.backbones.base import Backbone, Features
from ssft.backbones.lora import LORA_FILE, has_lora, lora_state_dict
from ssft.backbones.trainable import backbone_trains, configure_trainable, mode_name
from ssft.config import Config, dump_yaml, from_dict
from ssft.data.base import Dataset
from ssft.data.labeled_items import labeled_items_record
from ssft.data.split_notes import note_split, note_test_size
from ssft.data.splits import Split, make_split
from ssft.distributed import (
    broadcast_object,
    is_main,
    local_device,
    mean_over_ranks,
    process_group,
    resume_command,
    run_on_main,
)
from ssft.errors import ConfigError, DataError, SsftError, TrainingError
from ssft.fit_checks import check_modality
from ssft.heads.model import SSFTModel
from ssft.integrity import save_tensors, write_checkpoint
from ssft.methods import Method, build_method
from ssft.methods.base import METHODS, centers_input, method_view_kinds, parse_view_key
from ssft.precision import autocast as precision_autocast
from ssft.precision import autocast_dtype
from ssft.progress import progress_bar
from ssft.train.balanced_stream import labeled_stream
from ssft.train.center import training_pool_means
from ssft.train.ddp import DataParallel
from ssft.train.optim import constrain_, parameter_groups
from ssft.train.run_dir import MetricsLog, atomic_write_text, provenance, write_json
from ssft.train.runtime import PeakMemory, deterministic, rng_state, set_rng_state
from ssft.train.streams import (
    CachedSource,
    FeatureSource,
    IndexStream,
    LiveSource,
    SubsetInputs,
    ViewSampler,
)
from ssft.train.trackers import open_metrics_log
from ssft.train.weight_ema import WeightEMA


class Interrupted(SsftError):
    """Training stopped on SIGTERM/SIGINT after writing a checkpoint."""


class NullLog(MetricsLog):
    """The metrics log of ranks other than 0 under DDP: writes nothing."""

    def __init__(self) -> None:
        super().__init__(Path(os.devnull))

    def truncate_after(self, step: int) -> None:
        pass

    def write(self, record: dict[str, Any]) -> None:
        pass

    def finish(self, results: dict[str, Any]) -> None:
        pass


@dataclass
class RunResult:
    run_dir: Path
    results: dict[str, Any]

    @property
    def test_accuracy(self) -> float:
        return float(self.results["test_accuracy"])

    def load(self) -> Any:
        from ssft.api import load_run

        return load_run(self.run_dir)


# ------------------------------------------------------------------------------------------------
# Small helpers


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return local_device(torch.device("cuda"))
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(
            f"train.device={name!r} is not a device; use auto, cpu, cuda, cuda:N or mps"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device asks for CUDA but no GPU is visible; use train.device=cpu or auto")
    return local_device(dev)


def autocast_for(device: torch.device, precision: str) -> Any:
    """The run's autocast context (see :mod:`ssft.precision`, shared with extraction and predict)."""
    return precision_autocast(device, precision)


def warmup_cosine(total: int, warmup: float) -> Any:
    w = int(round(warmup * total))

    def factor(step: int) -> float:
        if step < w:
            return (step + 1) / w
        progress = (step - w) / max(1, total - w)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


@contextmanager
def stop_signals() -> Iterator[dict[str, bool]]:
    """Turn SIGTERM/SIGINT into a flag the loop checks after each step (main thread only)."""
    flag = {"stop": False}

    def handler(signum: int, frame: Any) -> None:
        flag["stop"] = True

    import threading

    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# ------------------------------------------------------------------------------------------------
# Run directory


def prepare_run_dir(cfg: Config | None, out: str | Path, resume: bool) -> tuple[Config, Path]:
    run = Path(out)
    if resume:
        path = run / "config.yaml"
        if not path.is_file():
            raise ConfigError(f"cannot resume: {path} does not exist (is {run} a run directory?)")
        data = yaml.safe_load(path.read_text())
        data.pop("provenance", None)
        return from_dict(data), run
    assert cfg is not None
    if (run / "results.json").exists() or (run / "checkpoint.pt").exists():
        raise ConfigError(f"{run} already holds a run; pass --resume to continue it, or choose another --out")
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run / "config.yaml", dump_yaml(cfg, extra={"provenance": provenance()}))
    return cfg, run


# ------------------------------------------------------------------------------------------------
# Data and features


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
        return (
            LiveSource(
                backbone,
                dataset.train.inputs,
                device,
                grad=not frozen,
                num_workers=cfg.train.num_workers,
                view_seed=cfg.cache.view_seed,
                view_flip=cfg.cache.view_flip,
            ),
            LiveSource(backbone, test_part.inputs, device, grad=False),
            stats,
        )

    from ssft.features import cache_key, default_cache_dir
    from ssft.features.sharded import build_store
    from ssft.train.cache_rows import cache_rows

    train_idx = cache_rows(cfg, dataset, split)  # seed-independent under data.max_unlabeled

    root = Path(cfg.cache.dir) if cfg.cache.dir else default_cache_dir()
    fp = backbone.fingerprint()
    amp = autocast_dtype(device, cfg.train.precision)
    t0 = time.perf_counter()

    def cached(
        part_name: str,
        inputs: Any,
        idx: np.ndarray,
        part_size: int,
        view: int = 0,
        kind: str = "weak",
        shown: str | None = None,
    ) -> CachedSource:
        """Open (extracting first when needed) the cache entry of ``inputs`` and wrap it."""
        identity = f"{dataset.identity()}:{part_name}:{_hash_indices(idx)}"
        if view:
            identity += f":seed{cfg.cache.view_seed}:flip{int(cfg.cache.view_flip)}"
        if kind == "strong" or (view and backbone.modality in ("text", "features")):
            identity += f":{kind}{AUGMENT_VERSION}"
        key = cache_key(
            backbone_fingerprint=fp,
            dataset_identity=identity,
            part=part_name,
            store=cfg.cache.store,
            grid=cfg.cache.grid,
            view=view,
            max_length=cfg.backbone.max_length if backbone.modality == "text" else None,
            autocast=None if amp is None else str(amp).removeprefix("torch."),
        )
        label = (shown or part_name) if not view else f"{part_name} {kind} view {view}"
        store = build_store(  # FeatureStore.build, sharded across the ranks under DDP
            backbone=backbone,
            inputs=inputs,
            key=key,
            root=root,
            store=cfg.cache.store,
            grid=cfg.cache.grid,
            batch_size=cfg.cache.batch_size,
            device=device,
            num_workers=cfg.train.num_workers,
            progress=cfg.train.progress,
            meta={"backbone": backbone.name, "dataset": dataset.name, "part": label, "items": len(idx)},
            compile=cfg.train.compile,
            precision=cfg.train.precision,
        )
        stats["forward_passes"] += store.forward_passes
        want = cfg.cache.device_resident
        if device.type == "cuda" and (want == "yes" or (want == "auto" and store.fits_on(device))):
            store = store.to(device)
        return CachedSource(store, idx, part_size, device)

    test_name = "test" if split.test_source == "test" else "train"
    train_src = cached("train", SubsetInputs(dataset.train.inputs, train_idx), train_idx, len(dataset.train))
    # the held-out test items live in the train part (the key says so) but are shown as what they are
    shown = "test" if test_name == "test" else "held-out test"
    test_src = cached(
        test_name, SubsetInputs(test_part.inputs, split.test), split.test, len(test_part), shown=shown
    )
    # Augmented views of the training items, each extracted once like view 0: the weak ones
    # (cache.views) whenever asked for, the strong ones only for a method that reads them.
    from ssft.data.augment import ViewInputs

    counts = {"weak": cfg.cache.views, "strong": cfg.cache.strong_views if "strong" in view_kinds else 0}
    if "strong" in view_kinds and not cfg.cache.strong_views:
        raise ConfigError(
            f"method {cfg.method.name} reads strong augmented views, but cache.strong_views=0 extracts "
            "none; set cache.strong_views >= 1 (each costs one extraction pass over the training items), "
            "or cache.enabled=false to augment live at every step"
        )
    for kind, count in counts.items():
        for v in range(1, count + 1):
            views = ViewInputs(
                SubsetInputs(dataset.train.inputs, train_idx),
                v,
                cfg.cache.view_seed,
                cfg.cache.view_flip,
                kind=kind,
            )
            entry = cached("train", views, train_idx, len(dataset.train), view=v, kind=kind)
            (train_src.views if kind == "weak" else train_src.strong).append(entry)
    stats["extract_seconds"] = time.perf_counter() - t0
    stats["cache"] = str(root)
    return train_src, test_src, stats


#: Bumped when the strong, text or feature augmentations change, so stale cached views are never reused.
AUGMENT_VERSION = 1


def _hash_indices(idx: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(idx, dtype=np.int64).tobytes()).hexdigest()[:12]


@torch.no_grad()
def predict(
    method: Method,
    source: FeatureSource,
    idx: np.ndarray,
    batch_size: int,
    device: torch.device,
    precision: str = "auto",
) -> np.ndarray:
    """Class probabilities (n, K) for items ``idx`` of a source."""
    was = method.training
    method.eval()
    out = []
    for start in range(0, len(idx), batch_size):
        with autocast_for(device, precision):
            feats = source.get(idx[start : start + batch_size])
            probs = method.probabilities(feats)
        out.append(probs.float().cpu())
    method.train(was)
    return torch.cat(out).numpy() if out else np.zeros((0, method.num_classes))


def build_model(
    cfg: Config,
    backbone: Backbone,
    num_classes: int,
    source: FeatureSource,
    split: Split,
    device: torch.device,
) -> SSFTModel:
    """The head on ``backbone``, initialised from ``cfg.seed`` alone (not from whatever extraction
    consumed); when it centres its input (``model.center``), the means are measured on the training
    pool of ``source`` (:mod:`ssft.train.center`)."""
    torch.manual_seed(cfg.seed)
    model = SSFTModel(backbone, cfg.model, num_classes, center=centers_input(cfg)).to(device)
    if model.center:
        pooled, tokens = training_pool_means(
            source, split, cfg.seed, cfg.cache.batch_size, tokens=model.centers_tokens
        )
        model.set_feature_mean(pooled, token_mean=tokens)
    return model


def pooled_features(source: FeatureSource, idx: np.ndarray, batch_size: int) -> np.ndarray:
    with torch.no_grad():
        parts = [
            source.get(idx[s : s + batch_size]).pooled.float().cpu() for s in range(0, len(idx), batch_size)
        ]
    return torch.cat(parts).numpy() if parts else np.zeros((0, 0), dtype=np.float32)


# ------------------------------------------------------------------------------------------------
# fit


def fit(
    cfg: Config | None, out: str | Path, *, resume: bool = False, dataset: Dataset | None = None
) -> RunResult:
    """Train and evaluate one run; see the module docstring. Returns the results and the run dir.

    ``dataset`` replaces the one ``cfg.data`` names (``ssft tune`` passes its development dataset).
    """
    with process_group():  # under torchrun with several processes; see ssft.distributed
        cfg, run = run_on_main(lambda: prepare_run_dir(cfg, out, resume))
        with deterministic(cfg.train.deterministic):
            return _fit(cfg, run, resume, dataset)


def _fit(cfg: Config, run: Path, resume: bool, dataset: Dataset | None) -> RunResult:
    from ssft.backbones import build_backbone
    from ssft.data import load_dataset

    t_start = time.perf_counter()
    dataset = load_dataset(cfg.data) if dataset is None else dataset
    if cfg.backbone.name.strip() == AUTO:  # the default: a real backbone for the data, named in config.yaml
        cfg = resolve_auto(cfg, dataset)
        if is_main():
            atomic_write_text(run / "config.yaml", dump_yaml(cfg, extra={"provenance": provenance()}))
    split = make_split(dataset, cfg.data)
    if resume and (run / "split.json").exists():
        saved = Split.load(run / "split.json")
        if not np.array_equal(saved.labeled, split.labeled) or not np.array_equal(saved.test, split.test):
            raise DataError(
                f"the data changed since {run} was started: the split no longer matches split.json"
            )
    if is_main():  # one writer of the run directory under DDP
        note_split(dataset, split, cfg.data.labels_per_class)
        split.save(run / "split.json", dataset)
        from ssft.data.checks import duplicates_between_labeled_and_test

        dups = duplicates_between_labeled_and_test(dataset, split)
        if dups:
            write_json(run / "duplicates.json", {"labeled_test_pairs": dups})
        bad = dataset.extra.get("bad_files")
        if bad:
            atomic_write_text(run / "bad_files.txt", "".join(f"{p}\t{why}\n" for p, why in bad))

    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)  # several runs on one machine: see README
    device = resolve_device(cfg.train.device)
    memory = PeakMemory(device)  # this run's peaks, not the process's (a sweep runs many fits)
    torch.manual_seed(cfg.seed)
    backbone = configure_trainable(build_backbone(cfg.backbone), cfg.backbone)  # frozen, blocks, full, LoRA
    check_modality(dataset, backbone)  # before any extraction or training
    backbone.to(device)
    if not cfg.backbone.frozen and cfg.train.compile:
        backbone.encode = torch.compile(backbone.encode)  # type: ignore[method-assign]

    view_kinds = method_view_kinds(cfg.method)
    train_src, test_src, stats = build_sources(cfg, dataset, split, backbone, device, view_kinds)
    labels = dataset.train.labels
    test_labels = (dataset.train if split.test_source == "train" else dataset.test).labels  # type: ignore[union-attr]

    first = None  # the head-first phase's cached frozen features (train/head_first.py)
    if not cfg.backbone.frozen and cfg.train.head_first_epochs and not METHODS.get(cfg.method.name).classical:
        from ssft.train.head_first import head_first_sources, train_head_first

        first = head_first_sources(cfg, dataset, split, backbone, device, view_kinds)
        stats["extract_seconds"] += first[1]["extract_seconds"]
    model = build_model(cfg, backbone, dataset.num_classes, first[0] if first else train_src, split, device)
    counts = np.bincount(labels[split.labeled], minlength=dataset.num_classes)
    method = build_method(cfg.method, model, class_counts=counts, seed=cfg.seed).to(device)
    if method.uses_unlabeled and split.unlabeled.size == 0:
        raise DataError(
            f"method {cfg.method.name} learns from unlabelled data but the unlabelled set is empty; "
            "use more data, a smaller data.labels_per_class, or method.name=supervised"
        )

    head_first: dict[str, Any] = {}
    if first is not None:
        head_first = train_head_first(cfg, run, method, split, labels, backbone, device, first, resume)

    t_train = time.perf_counter()
    # metrics.jsonl and any train.logger trackers, on rank 0 only under DDP
    log = open_metrics_log(cfg, run) if is_main() else NullLog()
    extra: dict[str, Any] = {}
    best_state = None
    if method.classical:
        bs = cfg.cache.batch_size
        if is_main():  # the other ranks wait for rank 0's results below
            method.fit(  # type: ignore[attr-defined]
                pooled_features(train_src, split.labeled, bs),
                labels[split.labeled],
                pooled_features(train_src, split.unlabeled, bs),  # all methods may use its statistics
            )
        steps_done = 0
    else:
        steps_done, extra, best_state = train_loop(
            cfg, run, method, split, labels, train_src, device, log, resume
        )
    train_seconds = time.perf_counter() - t_train + extra.pop("previous_train_seconds", 0.0)
    train_seconds += head_first.get("head_first_seconds", 0.0)

    if not is_main():  # under DDP rank 0 evaluates and writes the results; the others take them
        return RunResult(run, broadcast_object(None))
    probs = predict(method, test_src, split.test, cfg.cache.batch_size, device, cfg.train.precision)
    y_test = test_labels[split.test]
    acc = float((probs.argmax(1) == y_test).mean())
    interval = note_test_size(cfg.data.name, int((probs.argmax(1) == y_test).sum()), int(y_test.size))
    if best_state is not None:
        # The validation-selected model (PROTOCOL.md): chosen on validation labels, never on test.
        last = copy.deepcopy(trained_state(method))
        load_trained_state(method, best_state)
        p_sel = predict(method, test_src, split.test, cfg.cache.batch_size, device, cfg.train.precision)
        extra["val_selected_test_accuracy"] = float((p_sel.argmax(1) == y_test).mean())
        load_trained_state(method, last)
    results: dict[str, Any] = {
        "test_accuracy": acc,
        "test_error": 1.0 - acc,
        "test_accuracy_interval95": list(interval),  # Wilson score interval
        "dataset": cfg.data.name,
        "method": cfg.method.name,
        "backbone": cfg.backbone.name,
        "backbone_revision": cfg.backbone.revision,
        "frozen": cfg.backbone.frozen,
        "backbone_mode": mode_name(cfg.backbone),
        "backbone_trainable_params": sum(p.numel() for p in backbone.parameters() if p.requires_grad),
        "image_size": getattr(backbone.preprocess, "size", None),
        "labels_per_class": cfg.data.labels_per_class,
        # Validation labels are labels too (PROTOCOL.md): every table counts them with k.
        "val_per_class": cfg.data.val_per_class,
        "num_labeled": int(split.labeled.size),
        "num_validation": int(split.validation.size),
        "labels_used": int(split.labeled.size + split.validation.size),
        "num_unlabeled": int(split.unlabeled.size),
        "num_test": int(split.test.size),
        "seed": cfg.seed,
        "split_seed": cfg.data.split_seed,
        "steps": steps_done,
        "extract_seconds": stats["extract_seconds"],
        "train_seconds": train_seconds,
        "total_seconds": time.perf_counter() - t_start,
        "backbone_forward_passes_extraction": stats["forward_passes"],
        "per_class_accuracy": [
            float((probs.argmax(1)[y_test == c] == c).mean()) if (y_test == c).any() else None
            for c in range(dataset.num_classes)
        ],
        "classes": dataset.classes,
        **labeled_items_record(cfg.data, dataset, split.labeled),
        **extra,
        **head_first,
        **memory.read(),
        **provenance(),
    }
    save_weights(method, run / "model.safetensors")
    write_json(run / "results.json", results)
    log.finish(results)
    return RunResult(run, broadcast_object(results))


def trained_state(method: Method) -> dict[str, Any]:
    """The method's state without a frozen backbone (rebuilt from its name, it never changes): what a
    checkpoint and the validation-selected state keep, so a frozen run's checkpoint holds only the
    head and the method's own state, not a copy of the pretrained weights."""
    state = method.state_dict()
    if backbone_trains(method.model.backbone):
        return state
    return {k: v for k, v in state.items() if not k.startswith("model.backbone.")}


def load_trained_state(method: Method, state: dict[str, Any]) -> None:
    """Load a :func:`trained_state` (or a full state) back; only frozen backbone keys may be absent."""
    missing, unexpected = method.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("model.backbone.")]
    if missing or unexpected:
        raise TrainingError(
            f"saved state does not match the method: missing {missing[:5]}, unexpected {unexpected[:5]}; "
            "delete the run's checkpoint.pt to restart it"
        )


def save_weights(method: Method, path: Path) -> None:
    backbone = method.model.backbone
    lora = has_lora(backbone)
    # A frozen or LoRA-adapted base is rebuilt from backbone.name: saving it would only copy the
    # pretrained weights. LoRA's adapters go to their own small file.
    skip_backbone = lora or not backbone_trains(backbone)
    if lora:
        save_tensors(path.with_name(LORA_FILE), lora_state_dict(backbone), "ssft-lora")
    tensors = {}
    for k, v in method.state_dict().items():
        if not isinstance(v, torch.Tensor):
            continue
        if skip_backbone and k.startswith("model.backbone."):
            continue
        tensors[k] = v.detach().cpu().contiguous()
    if hasattr(method, "state_arrays"):
        tensors.update(method.state_arrays())
    # safetensors refuses tensors that share memory; clone them apart.
    seen: set[int] = set()
    for k, v in tensors.items():
        if v.data_ptr() in seen and v.numel():
            tensors[k] = v.clone()
        seen.add(tensors[k].data_ptr())
    save_tensors(path, tensors, "ssft")


def train_loop(
    cfg: Config,
    run: Path,
    method: Method,
    split: Split,
    labels: np.ndarray,
    source: FeatureSource,
    device: torch.device,
    log: MetricsLog,
    resume: bool,
) -> tuple[int, dict[str, Any], dict[str, Any] | None]:
    """The gradient loop. Returns (steps, extra result fields, validation-selected state or None)."""
    tc = cfg.train
    # Under DDP every rank draws the global batch (world x train.batch_size) from the same seeded
    # streams and keeps its own slice: disjoint per step, and the very batches one process with
    # the larger batch would draw (train/ddp.py).
    ddp = DataParallel(method, device)
    n_pool = split.labeled.size + split.unlabeled.size
    ulb_batch = tc.batch_size * tc.unlabeled_ratio * ddp.world
    steps_per_epoch = max(1, math.ceil(n_pool / ulb_batch))
    total = tc.steps or tc.epochs * steps_per_epoch

    # Weight decay on weight matrices only: not on t, b, class embeddings, biases, norms (optim.py).
    groups = parameter_groups(
        method, lr=tc.lr, backbone_lr=tc.backbone_lr, weight_decay=tc.weight_decay, layer_decay=tc.layer_decay
    )
    opt = torch.optim.AdamW(groups, lr=tc.lr, weight_decay=tc.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(total, tc.warmup))
    lb_stream = labeled_stream(tc, labels[split.labeled], ddp.world, cfg.seed * 1000 + 1)
    ulb_stream = (
        IndexStream(split.unlabeled.size, ulb_batch, cfg.seed * 1000 + 2)
        if method.uses_unlabeled and split.unlabeled.size
        else None
    )
    view_keys = [(f"x_{key}", *parse_view_key(key)) for key in method.view_keys(method.cfg)]
    view_sampler = ViewSampler(cfg.seed * 1000 + 3)
    if view_keys and ulb_stream is None and any(stream == "ulb" for _, stream, _ in view_keys):
        raise ConfigError(f"method {cfg.method.name} reads views of unlabelled items but has none")
    scaler = torch.amp.GradScaler(enabled=device.type == "cuda" and tc.precision == "fp16")
    # train.ema_weights: an average of the weights for evaluation (train/weight_ema.py)
    ema = (
        WeightEMA(method, [p for g in groups for p in g["params"]], tc.ema_weights)
        if tc.ema_weights
        else None
    )

    ckpt_path = run / "checkpoint.pt"
    start, prev_seconds = 0, 0.0
    sums: dict[str, float] = {}
    n_sums = 0
    best: dict[str, Any] = {"val_accuracy": -1.0, "state": None, "step": None}
    if resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        load_trained_state(method, state["method"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        lb_stream.load_state_dict(state["lb_stream"])
        if ulb_stream is not None:
            ulb_stream.load_state_dict(state["ulb_stream"])
        if "view_sampler" in state:
            view_sampler.load_state_dict(state["view_sampler"])
        if ema is not None:
            if "weight_ema" not in state:
                raise TrainingError(f"{ckpt_path} was written without train.ema_weights; resume with it off")
            ema.load_state_dict(state["weight_ema"])
        set_rng_state(ddp.rank_rng_state(state))
        start, prev_seconds = int(state["step"]), float(state["train_seconds"])
        best["val_accuracy"] = float(state.get("best_val_accuracy", -1.0))
        # The partial logging window before the interruption, so the next metrics line averages
        # the same steps as an uninterrupted run's.
        sums, n_sums = dict(state.get("log_sums", {})), int(state.get("log_count", 0))
        if "best_state" in state:
            best["state"], best["step"] = state["best_state"], int(state["best_step"])
    log.truncate_after(start)
    train_step = ddp.wrap()  # method.train_step, through DistributedDataParallel under DDP

    # The index streams are drawn ahead of training when a source decodes ahead (LiveSource with
    # workers); a checkpoint saves their states as of the last step actually trained.
    consumed = {"lb": lb_stream.state_dict(), "ulb": None if ulb_stream is None else ulb_stream.state_dict()}
    planned: deque[tuple[np.ndarray, np.ndarray | None, dict[str, Any], dict[str, Any] | None]] = deque()

    def steps() -> Iterator[tuple[np.ndarray | None, ...]]:
        for _ in range(start, total):
            lb = ddp.local(lb_stream.next())
            ulb = None if ulb_stream is None else ddp.local(ulb_stream.next())
            ulb_state = None if ulb_stream is None else ulb_stream.state_dict()
            planned.append((lb, ulb, lb_stream.state_dict(), ulb_state))
            yield split.labeled[lb], None if ulb is None else split.unlabeled[ulb]

    def checkpoint(step: int, seconds: float) -> None:
        state = {
            "step": step,
            "train_seconds": seconds,
            "method": trained_state(method),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "lb_stream": consumed["lb"],
            "view_sampler": view_sampler.state_dict(),
            **ddp.rng_states(rng_state()),
            "best_val_accuracy": best["val_accuracy"],
            "log_sums": dict(sums),
            "log_count": n_sums,
        }
        if consumed["ulb"] is not None:
            state["ulb_stream"] = consumed["ulb"]
        if ema is not None:
            state["weight_ema"] = ema.state_dict()
        if best["state"] is not None:
            state["best_state"], state["best_step"] = best["state"], best["step"]
        if not is_main():
            return
        import io

        buf = io.BytesIO()
        torch.save(state, buf)
        write_checkpoint(ckpt_path, buf.getvalue())

    def validate(step: int) -> None:
        if split.validation.size == 0:
            return
        with ema.applied() if ema is not None else contextlib.nullcontext():
            probs = predict(method, source, split.validation, cfg.cache.batch_size, device, tc.precision)
            acc = float((probs.argmax(1) == labels[split.validation]).mean())
            log.write({"step": step, "val_accuracy": acc})
            if acc > best["val_accuracy"]:
                best.update(val_accuracy=acc, step=step, state=copy.deepcopy(trained_state(method)))

    method.train()
    t0 = time.perf_counter()
    eval_steps = tc.eval_every * steps_per_epoch if tc.eval_every else 0
    bar = progress_bar(total, initial=start, disable=not tc.progress, desc=f"{cfg.method.name}", unit="step")
    payloads = source.prefetch(steps())
    with stop_signals() as flag:
        for step in range(start, total):
            p_lb, p_ulb = next(payloads)
            lb, ulb, consumed["lb"], consumed["ulb"] = planned.popleft()
            with autocast_for(device, tc.precision):
                batch: dict[str, Any] = {
                    "x_lb": source.features(p_lb),
                    "y_lb": torch.as_tensor(labels[split.labeled[lb]], device=device),
                    "x_ulb": source.features(p_ulb) if method.reads_ulb else None,
                    "step": step,
                    "total_steps": total,
                }
                items = {"lb": split.labeled[lb]}
                if ulb is not None:
                    items["ulb"] = split.unlabeled[ulb]
                for name, stream, kind in view_keys:  # e.g. x_ulb_w, x_ulb_s: one drawn view per item
                    drawn = view_sampler.draw(len(items[stream]) * ddp.world, kind, source.num_views(kind))
                    views = ddp.local(drawn)
                    with torch.set_grad_enabled(name.removeprefix("x_") not in method.target_views):
                        batch[name] = source.get_views(items[stream], kind, views)
                terms = train_step(batch)
            loss = terms["loss"]
            values = {
                name: float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
                for name, value in terms.items()
            }
            # Logged (and checked) as the means over the ranks: the global batch's values.
            values = dict(zip(values, mean_over_ranks(list(values.values())), strict=True))
            bad = [n for n, v in values.items() if not math.isfinite(v)]
            if bad:
                # Name the term that went bad, not the total it spoiled.
                name = next((n for n in bad if n != "loss"), bad[0])
                where = (
                    f"the last good checkpoint is {ckpt_path}" if ckpt_path.exists() else "no checkpoint yet"
                )
                raise TrainingError(
                    f"step {step}: loss term {name!r} is {values[name]}; training stopped ({where}). "
                    "Lower train.lr, check the data for NaN/inf, or disable that term"
                )
            for name, v in values.items():
                sums[name] = sums.get(name, 0.0) + v
            n_sums += 1
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if tc.grad_clip:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], tc.grad_clip)
            scaler.step(opt)
            scaler.update()
            constrain_(method)  # e.g. keep the classifier's log t within its bound
            if ema is not None:
                ema.update()
            sched.step()
            bar.update(1)
            done = step + 1
            if done % tc.log_every == 0 or done == total:
                record = {"step": done, "epoch": done / steps_per_epoch, "lr": sched.get_last_lr()[0]}
                record.update({k: v / n_sums for k, v in sums.items()})
                log.write(record)
                bar.set_postfix(loss=f"{record['loss']:.4f}")
                sums, n_sums = {}, 0
            if eval_steps and done % eval_steps == 0 and done != total:
                validate(done)
            # ddp.any_rank: under DDP each read of the flag is agreed on by every rank (same step)
            if (tc.checkpoint_every and done % tc.checkpoint_every == 0) or ddp.any_rank(flag["stop"]):
                checkpoint(done, prev_seconds + time.perf_counter() - t0)
            if ddp.any_rank(flag["stop"]) and done != total:
                bar.close()
                raise Interrupted(f"stopped at step {done}/{total}; resume with: {resume_command(run)}")
    bar.close()
    validate(total)
    seconds = prev_seconds + time.perf_counter() - t0
    checkpoint(total, seconds)
    if ema is not None:
        ema.copy_to_model()  # the final model is the average: evaluated, saved and loaded as such
    extra: dict[str, Any] = {"previous_train_seconds": prev_seconds, "steps_per_epoch": steps_per_epoch}
    if best["state"] is not None:
        extra["val_accuracy"] = best["val_accuracy"]
        extra["val_selected_step"] = best["step"]
    return total, extra, best["state"]


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a training checkpoint with ``weights_only=True`` (no arbitrary code)."""
    import io

    from ssft.integrity import check_checkpoint

    try:
        payload = Path(path).read_bytes()
    except OSError as e:
        raise TrainingError(f"checkpoint {path} is unreadable ({e.strerror}); delete it to restart") from None
    check_checkpoint(Path(path), payload)
    try:
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as e:  # a torn or corrupt file: refuse it, never half-load
        raise TrainingError(
            f"checkpoint {path} is unreadable ({type(e).__name__}); delete it to restart"
        ) from None


def encode_raw(
    backbone: Backbone, raw: list[Any], device: torch.device, batch_size: int, precision: str = "auto"
) -> Features:
    """Backbone features of raw inputs, batched, without gradients (prediction on new data), under
    the same autocast as extraction and training."""
    parts = []
    collate = backbone.collator()
    with torch.inference_mode(), autocast_for(device, precision):
        for s in range(0, len(raw), batch_size):
            inputs = backbone.to_device(collate(raw[s : s + batch_size]), device)
            parts.append(backbone.encode(inputs).to("cpu", torch.float32))
    return Features.cat(parts)
