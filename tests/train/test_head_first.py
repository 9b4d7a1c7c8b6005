"""Head first, then the backbone (``train.head_first_epochs``): the first phase trains the method on
cached frozen features and leaves the backbone alone; the second fine-tunes exactly the trainable
set the run asked for, starting from that head; a run stopped between the phases resumes to the
same model."""

from __future__ import annotations

import json

import torch

from ssft.backbones import build_backbone
from ssft.config import load_config
from ssft.heads.model import SSFTModel
from ssft.run.runner import fit
from ssft.train.checkpoint import load_checkpoint


def cfg(tmp_path, *extra: str):
    return load_config(
        "demo",
        [
            "backbone.frozen=false",
            "train.head_first_epochs=1",
            "train.steps=4",
            "train.batch_size=16",
            "train.backbone_lr=0.01",
            "data.labels_per_class=2",
            "train.log_every=1",
            f"cache.dir={tmp_path / 'cache'}",
            *extra,
        ],
    )


def backbone_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    prefix = "model.backbone."
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}


def test_head_trains_on_frozen_features_first_then_the_backbone_moves(tmp_path):
    c = cfg(tmp_path)
    pretrained = build_backbone(c.backbone).state_dict()
    r = fit(c, tmp_path / "run")
    res = json.loads((r.run_dir / "results.json").read_text())
    assert res["head_first_steps"] > 0 and res["steps"] == 4
    assert (r.run_dir / "head_first" / "metrics.jsonl").read_text().strip()

    phase1 = load_checkpoint(r.run_dir / "head_first" / "checkpoint.pt")["method"]
    # The first phase leaves the backbone as it was: it had no trainable parameter, so its
    # checkpoint keeps no copy of the pretrained weights ...
    assert backbone_state(phase1) == {}
    # ... and trains the head away from its initialisation.
    torch.manual_seed(c.seed)
    init = SSFTModel(build_backbone(c.backbone), c.model, 10).classifier.weight
    assert not torch.allclose(init, phase1["model.classifier.weight"])
    # The second phase fine-tunes the backbone.
    final = r.load().method.model.backbone.state_dict()
    assert any(not torch.equal(pretrained[k], final[k].cpu()) for k in pretrained)


def test_first_phase_reads_the_cache_a_frozen_run_shares(tmp_path):
    fit(cfg(tmp_path), tmp_path / "run")
    frozen = fit(cfg(tmp_path, "backbone.frozen=true", "train.head_first_epochs=0"), tmp_path / "frozen")
    assert (
        json.loads((frozen.run_dir / "results.json").read_text())["backbone_forward_passes_extraction"] == 0
    )


def test_second_phase_trains_only_the_blocks_asked_for(tmp_path):
    c = cfg(tmp_path, "backbone.train_blocks=1")
    model = build_backbone(c.backbone)
    pretrained = model.state_dict()
    last = {f"{name}" for name, _ in model.named_parameters() if name.startswith(_last_block_prefix(model))}
    final = fit(c, tmp_path / "run").load().method.model.backbone.state_dict()
    moved = {k for k in pretrained if not torch.equal(pretrained[k], final[k].cpu())}
    assert moved and moved <= last | _final_norm_names(model)


def _last_block_prefix(model) -> str:
    block = list(model.blocks())[-1]
    return next(n for n, m in model.named_modules() if m is block) + "."


def _final_norm_names(model) -> set[str]:
    ids = {id(p) for p in model.final_norm_parameters()}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def test_a_run_stopped_between_the_phases_resumes_to_the_same_model(tmp_path):
    whole = fit(cfg(tmp_path), tmp_path / "whole")
    part = fit(cfg(tmp_path), tmp_path / "part")
    # As if stopped after the first phase: the second phase never wrote its checkpoint.
    (part.run_dir / "checkpoint.pt").unlink()
    (part.run_dir / "results.json").unlink()
    resumed = fit(None, part.run_dir, resume=True)
    assert resumed.test_accuracy == whole.test_accuracy
    a = whole.load().method.state_dict()
    b = resumed.load().method.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
