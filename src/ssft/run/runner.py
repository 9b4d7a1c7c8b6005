"""``fit``: one run, top to bottom.

1. the run directory (fresh, or ``resume``) with its ``config.yaml`` (:mod:`ssft.run.directory`);
2. the dataset and its split, written to ``split.json`` (:func:`prepare_data`);
3. the parts: backbone, feature sources (extracted once into the cache when the backbone is
   frozen: :mod:`ssft.run.sources`), model and method (:func:`build_parts`);
4. the phases: head first when asked (:mod:`ssft.run.head_first`), then the main one
   (:func:`ssft.run.phases.train_method`: a :class:`~ssft.train.trainer.Trainer`, or a
   closed-form fit);
5. evaluation on the test part (the last state; the validation-selected one too when a validation
   set is configured), ``model.safetensors`` and ``results.json`` (:mod:`ssft.run.results`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssft.backbones.auto import AUTO, resolve_auto
from ssft.backbones.base import Backbone
from ssft.backbones.trainable import configure_trainable
from ssft.config import Config, dump_yaml
from ssft.data.base import Dataset
from ssft.data.split_notes import note_split
from ssft.data.splits import Split, make_split
from ssft.distributed import broadcast_object, is_main, process_group, run_on_main
from ssft.errors import DataError
from ssft.fit_checks import check_modality
from ssft.methods.base import METHODS, Method, build_method, method_view_kinds
from ssft.methods.closed_form import ClosedFormMethod
from ssft.run.directory import NullLog, prepare_run_dir
from ssft.run.head_first import head_first_sources, train_head_first
from ssft.run.phases import build_model, train_method
from ssft.run.results import results_record, save_weights, selected_accuracy, test_probabilities
from ssft.run.sources import build_sources
from ssft.train.run_dir import atomic_write_text, provenance, write_json
from ssft.train.runtime import PeakMemory, deterministic, resolve_device
from ssft.train.streams import FeatureSource
from ssft.train.trackers import open_metrics_log


@dataclass
class RunResult:
    run_dir: Path
    results: dict[str, Any]

    @property
    def test_accuracy(self) -> float:
        return float(self.results["test_accuracy"])

    def load(self) -> Any:
        from ssft.run.loaded import load_run

        return load_run(self.run_dir)


@dataclass
class Parts:
    """What a run builds before it trains."""

    device: torch.device
    memory: PeakMemory
    backbone: Backbone
    method: Method
    train: FeatureSource
    test: FeatureSource
    stats: dict[str, Any]
    head_first: tuple[Any, dict[str, Any]] | None  # the head-first phase's cached source and stats


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
    t_start = time.perf_counter()
    cfg, dataset, split = prepare_data(cfg, run, resume, dataset)
    parts = build_parts(cfg, dataset, split)
    labels = dataset.train.labels
    head_first: dict[str, Any] = {}
    if parts.head_first is not None:
        head_first = train_head_first(
            cfg, run, parts.method, split, labels, parts.backbone, parts.device, parts.head_first, resume
        )
    log = open_metrics_log(cfg, run) if is_main() else NullLog()  # metrics.jsonl and trackers, rank 0
    outcome = train_method(cfg, run, parts.method, split, labels, parts.train, parts.device, log, resume)
    if not is_main():  # under DDP rank 0 evaluates and writes the results; the others take them
        return RunResult(run, broadcast_object(None))
    test_part = dataset.train if split.test_source == "train" else dataset.test
    assert test_part is not None
    y_test = test_part.labels[split.test]
    probs = test_probabilities(cfg, parts.method, parts.test, split, parts.device)
    fields = dict(outcome.fields)
    if outcome.best_state is not None:
        fields["val_selected_test_accuracy"] = selected_accuracy(
            cfg, parts.method, outcome.best_state, parts.test, split, y_test, parts.device
        )
    run_fields = {
        "steps": outcome.steps,
        "extract_seconds": parts.stats["extract_seconds"],
        "train_seconds": outcome.seconds + head_first.get("head_first_seconds", 0.0),
        "total_seconds": time.perf_counter() - t_start,
        "backbone_forward_passes_extraction": parts.stats["forward_passes"],
    }
    results: dict[str, Any] = {
        **results_record(cfg, dataset, split, parts.method, probs, y_test, run_fields),
        **fields,
        **head_first,
        **parts.memory.read(),
        **provenance(),
    }
    save_weights(parts.method, run / "model.safetensors")
    write_json(run / "results.json", results)
    log.finish(results)
    return RunResult(run, broadcast_object(results))


def prepare_data(
    cfg: Config, run: Path, resume: bool, dataset: Dataset | None
) -> tuple[Config, Dataset, Split]:
    """The dataset (``cfg.data``'s unless given), ``backbone.name=auto`` resolved for it, and the
    split: checked against ``split.json`` on resume, else written there with its notes (rank 0)."""
    from ssft.data import load_dataset

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
    return cfg, dataset, split


def build_parts(cfg: Config, dataset: Dataset, split: Split) -> Parts:
    """Device, backbone (frozen, last blocks, whole or LoRA), feature sources, model and method."""
    from ssft.backbones import build_backbone

    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)  # several runs on one machine: see README
    device = resolve_device(cfg.train.device)
    memory = PeakMemory(device)  # this run's peaks, not the process's (a sweep runs many fits)
    torch.manual_seed(cfg.seed)
    backbone = configure_trainable(build_backbone(cfg.backbone), cfg.backbone)
    check_modality(dataset, backbone)  # before any extraction or training
    backbone.to(device)
    if not cfg.backbone.frozen and cfg.train.compile:
        backbone.encode = torch.compile(backbone.encode)  # type: ignore[method-assign]
    view_kinds = method_view_kinds(cfg.method)
    train_src, test_src, stats = build_sources(cfg, dataset, split, backbone, device, view_kinds)
    method_cls = METHODS.get(cfg.method.name)
    first = None  # the head-first phase's cached frozen features
    if (
        not cfg.backbone.frozen
        and cfg.train.head_first_epochs
        and not issubclass(method_cls, ClosedFormMethod)
    ):
        first = head_first_sources(cfg, dataset, split, backbone, device, view_kinds)
        stats["extract_seconds"] += first[1]["extract_seconds"]
    model = build_model(cfg, backbone, dataset.num_classes, first[0] if first else train_src, split, device)
    counts = np.bincount(dataset.train.labels[split.labeled], minlength=dataset.num_classes)
    method = build_method(cfg.method, model, class_counts=counts, seed=cfg.seed).to(device)
    if method.uses_unlabeled and split.unlabeled.size == 0:
        raise DataError(
            f"method {cfg.method.name} learns from unlabelled data but the unlabelled set is empty; "
            "use more data, a smaller data.labels_per_class, or method.name=supervised"
        )
    return Parts(device, memory, backbone, method, train_src, test_src, stats, first)
