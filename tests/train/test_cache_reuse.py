"""Runs that should share cache entries do: a LoRA run's head-first phase reuses the frozen run's
entries, and a second split seed under ``data.max_unlabeled`` extracts nothing again."""

from __future__ import annotations

import json

import pytest

from ssft.backbones import build_backbone
from ssft.config import load_config
from ssft.run.runner import fit

FAST = ["train.steps=2", "train.batch_size=8", "data.labels_per_class=2", "train.progress=false"]


def entries(cache) -> set[str]:
    return {p.name for p in cache.iterdir() if p.is_dir()}


def passes(run) -> int:
    return json.loads((run.run_dir / "results.json").read_text())["backbone_forward_passes_extraction"]


def test_a_second_split_seed_under_max_unlabeled_extracts_nothing(tmp_path):
    cache = tmp_path / "cache"
    common = [*FAST, f"cache.dir={cache}", "data.max_unlabeled=40"]
    first = fit(load_config("demo", [*common, "data.split_seed=0"]), tmp_path / "s0")
    before = entries(cache)
    second = fit(load_config("demo", [*common, "data.split_seed=1"]), tmp_path / "s1")
    assert passes(first) > 0
    assert passes(second) == 0
    assert entries(cache) == before


def test_inert_lora_adapters_leave_the_fingerprint_alone():
    pytest.importorskip("peft")
    from ssft.backbones.lora import apply_lora

    c = load_config("demo", [])
    plain = build_backbone(c.backbone)
    adapted = build_backbone(c.backbone)
    apply_lora(adapted, rank=2, alpha=4.0)
    assert adapted.fingerprint() == plain.fingerprint()
    lora_b = next(p for n, p in adapted.named_parameters() if ".lora_B." in n)
    lora_b.data.fill_(0.01)  # a trained adapter changes the outputs, hence the fingerprint
    assert adapted.fingerprint() != plain.fingerprint()


def test_lora_head_first_phase_reuses_the_frozen_runs_entries(tmp_path):
    pytest.importorskip("peft")
    cache = tmp_path / "cache"
    common = [*FAST, f"cache.dir={cache}"]
    fit(load_config("demo", common), tmp_path / "frozen")
    before = entries(cache)
    lora = ["backbone.frozen=false", "backbone.lora=true", "train.head_first_epochs=1"]
    fit(load_config("demo", [*common, *lora]), tmp_path / "lora")
    assert entries(cache) == before
