"""End-to-end training runs on the bundled digits with a tiny random backbone."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ssft.config import load_config
from ssft.run.runner import fit

FAST = ["train.steps=8", "train.batch_size=16", "data.labels_per_class=2", "train.log_every=2"]


def cfg(*extra: str):
    return load_config("demo", [*FAST, *extra])


def test_supervised_run_writes_every_file(tmp_path):
    result = fit(cfg(), tmp_path / "run")
    run = result.run_dir
    for name in (
        "config.yaml",
        "split.json",
        "metrics.jsonl",
        "results.json",
        "model.safetensors",
        "checkpoint.pt",
    ):
        assert (run / name).is_file(), name
    r = json.loads((run / "results.json").read_text())
    for key in (
        "test_accuracy",
        "test_error",
        "method",
        "backbone",
        "frozen",
        "labels_per_class",
        "seed",
        "train_seconds",
        "extract_seconds",
        "ssft_version",
        "git_commit",
        "peak_host_mb",
    ):
        assert key in r, key
    assert 0.0 <= r["test_accuracy"] <= 1.0 and r["test_error"] == pytest.approx(1 - r["test_accuracy"])
    assert r["num_labeled"] == 20 and r["steps"] == 8
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [2, 4, 6, 8]
    assert all("ce" in x and "loss" in x for x in lines)
    split = json.loads((run / "split.json").read_text())
    assert len(split["labeled"]) == 20 and split["test_source"] == "train"
    assert "git_commit" in (run / "config.yaml").read_text()


def test_frozen_backbone_unchanged_and_head_changes(tmp_path):
    from ssft.backbones import build_backbone

    c = cfg()
    before = {k: v.clone() for k, v in build_backbone(c.backbone).state_dict().items()}
    result = fit(c, tmp_path / "run")
    run = result.load()
    after = run.method.model.backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    # The head did move away from its initialisation.
    torch.manual_seed(c.seed)
    from ssft.heads.model import SSFTModel

    fresh = SSFTModel(build_backbone(c.backbone), c.model, 10)
    w0 = fresh.classifier.weight
    assert not torch.allclose(w0, run.method.model.classifier.weight.cpu())


def test_twinturbo_logs_every_term(tmp_path):
    result = fit(cfg("method.name=twinturbo", "method.ramp=0.0"), tmp_path / "run")
    lines = [json.loads(x) for x in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    for term in ("cond", "marginal", "kl", "d_loss", "d_acc", "align", "supcon", "loss"):
        assert term in lines[-1], term


def test_cached_and_uncached_training_agree(tmp_path):
    # supervised: the FixMatch family (the default) draws live strong views that the cache holds fixed
    a = fit(
        cfg("method.name=supervised", "train.steps=4", f"cache.dir={tmp_path / 'cache'}"), tmp_path / "cached"
    )
    b = fit(cfg("method.name=supervised", "train.steps=4", "cache.enabled=false"), tmp_path / "live")
    la = [json.loads(x)["loss"] for x in (a.run_dir / "metrics.jsonl").read_text().splitlines()]
    lb = [json.loads(x)["loss"] for x in (b.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert np.allclose(la, lb, rtol=2e-3, atol=2e-3)
    assert a.results["backbone_forward_passes_extraction"] > 0
    assert b.results["backbone_forward_passes_extraction"] == 0


def test_second_run_hits_the_cache(tmp_path):
    first = fit(cfg(f"cache.dir={tmp_path / 'cache'}"), tmp_path / "a")
    assert first.results["backbone_forward_passes_extraction"] > 0
    second = fit(cfg("seed=1", f"cache.dir={tmp_path / 'cache'}"), tmp_path / "b")
    assert second.results["backbone_forward_passes_extraction"] == 0


def test_validation_selected_accuracy_is_reported(tmp_path):
    r = fit(
        cfg("data.val_per_class=2", "train.eval_every=1", "train.steps=20", "train.epochs=1"),
        tmp_path / "run",
    )
    assert r.results["num_validation"] == 20
    assert 0.0 <= r.results["val_selected_test_accuracy"] <= 1.0
    assert "val_accuracy" in r.results
    # validation labels are labels: 2 labelled + 2 validation per class, 10 classes
    assert r.results["val_per_class"] == 2 and r.results["labels_used"] == 40
    from ssft.report.tables import collect, format_table

    table = format_table(collect(tmp_path))
    header, _, row = table.splitlines()
    cells = dict(zip(header.strip("| ").split(" | "), row.strip("| ").split(" | "), strict=True))
    assert cells["val_per_class"] == "2" and cells["labels used"] == "40"


@pytest.mark.parametrize("method", ["linear_probe", "knn", "label_spreading"])
def test_classical_baselines_run_and_reload(tmp_path, method):
    r = fit(cfg(f"method.name={method}"), tmp_path / "run")
    assert r.results["steps"] == 0
    run = r.load()
    again = run.evaluate()
    assert again["test_accuracy"] == pytest.approx(r.test_accuracy)


def test_trainable_backbone_moves(tmp_path):
    r = fit(cfg("backbone.frozen=false", "train.backbone_lr=0.01"), tmp_path / "run")
    from ssft.backbones import build_backbone

    c = cfg()
    before = build_backbone(c.backbone).state_dict()
    after = r.load().method.model.backbone.state_dict()
    assert any(not torch.equal(before[k], after[k].cpu()) for k in before)


def test_reload_predicts_like_the_run(tmp_path):
    r = fit(cfg(), tmp_path / "run")
    assert r.load().evaluate()["test_accuracy"] == pytest.approx(r.test_accuracy)


def test_existing_run_is_not_overwritten(tmp_path):
    from ssft.errors import ConfigError

    fit(cfg(), tmp_path / "run")
    with pytest.raises(ConfigError, match="already holds a run.*--resume"):
        fit(cfg(), tmp_path / "run")


def test_steps_from_epochs_are_capped_by_max_steps(tmp_path):
    # the demo pool (about 1,200 training items, batch 16): 2 epochs are about 150 steps
    base = ["train.batch_size=16", "data.labels_per_class=2", "train.log_every=1", "train.epochs=2"]
    capped = fit(load_config("demo", [*base, "train.max_steps=7"]), tmp_path / "capped")
    assert json.loads((capped.run_dir / "results.json").read_text())["steps"] == 7
    explicit = fit(load_config("demo", [*base, "train.max_steps=7", "train.steps=9"]), tmp_path / "explicit")
    assert json.loads((explicit.run_dir / "results.json").read_text())["steps"] == 9  # train.steps wins
    with pytest.raises(Exception, match="train.max_steps must be >= 1"):
        load_config("demo", ["train.max_steps=0"])


def test_labeled_epochs_set_the_steps_from_the_labelled_items(tmp_path):
    # the demo has 10 classes: 3 labels each are 30 labelled items; 2.5 passes at batch 7 are
    # ceil(75 / 7) = 11 steps, whatever the pool and train.epochs say
    base = ["train.batch_size=7", "data.labels_per_class=3", "train.log_every=1", "train.epochs=2"]
    run = fit(load_config("demo", [*base, "train.labeled_epochs=2.5"]), tmp_path / "lab")
    assert json.loads((run.run_dir / "results.json").read_text())["steps"] == 11
    capped = fit(
        load_config("demo", [*base, "train.labeled_epochs=2.5", "train.max_steps=4"]), tmp_path / "cap"
    )
    assert json.loads((capped.run_dir / "results.json").read_text())["steps"] == 4
    explicit = fit(load_config("demo", [*base, "train.labeled_epochs=2.5", "train.steps=3"]), tmp_path / "st")
    assert json.loads((explicit.run_dir / "results.json").read_text())["steps"] == 3  # train.steps wins
    with pytest.raises(Exception, match="train.labeled_epochs must be > 0"):
        load_config("demo", ["train.labeled_epochs=0"])


def test_the_head_first_phase_ignores_labeled_epochs():
    from ssft.run.head_first import head_first_config

    cfg = load_config("demo", ["train.head_first_epochs=3", "train.labeled_epochs=2", "train.steps=5"])
    first = head_first_config(cfg).train
    assert (first.epochs, first.steps, first.labeled_epochs) == (3, None, None)
