"""The trainable step does no wasted backbone work: the FixMatch family never encodes ``x_ulb``
(it reads only the views), and its weak view (a constant target) is encoded without a graph."""

from __future__ import annotations

import pytest
import torch

from ssft.config import load_config
from ssft.methods.base import METHODS
from ssft.run.runner import fit
from ssft.train.streams import LiveSource

FAST = ["train.steps=2", "train.batch_size=4", "data.labels_per_class=2", "data.max_unlabeled=16",
        "data.max_test=10", "backbone.frozen=false", "train.progress=false"]  # fmt: skip


def _record(monkeypatch, method_name: str) -> list[dict]:
    """Each train_step's batch: which keys hold features, and whether those carry a graph."""
    seen: list[dict] = []
    cls = METHODS.get(method_name)
    original = cls.train_step

    def spy(self, batch):
        seen.append(
            {
                k: (None if v is None else v.pooled.requires_grad)
                for k, v in batch.items()
                if k.startswith("x_")
            }
        )
        return original(self, batch)

    monkeypatch.setattr(cls, "train_step", spy)
    return seen


@pytest.mark.parametrize("name", ["fixmatch", "freematch", "softmatch"])
def test_fixmatch_family_skips_x_ulb_and_encodes_the_weak_view_without_grad(tmp_path, monkeypatch, name):
    seen = _record(monkeypatch, name)
    calls = []
    encode = LiveSource.encode

    def counting(self, collated):
        calls.append(len(next(iter(collated.values()))))
        return encode(self, collated)

    monkeypatch.setattr(LiveSource, "encode", counting)
    fit(load_config("demo", [*FAST, f"method.name={name}", f"cache.dir={tmp_path / 'c'}"]), tmp_path / "r")
    assert len(seen) == 2
    for batch in seen:
        assert batch["x_ulb"] is None  # never encoded
        assert batch["x_ulb_w"] is False  # encoded, but with no graph behind it
        assert batch["x_lb"] is True and batch["x_ulb_s"] is True
    # once before training: the centring means over the pool (20 labelled + 16 unlabelled items);
    # then per step: the labelled batch, the weak and the strong views (not the unlabelled items again)
    assert calls[0] == 36 and len(calls) >= 7 and calls[1:4] == [4, 4, 4]


def test_twinturbo_still_reads_x_ulb_with_its_graph(tmp_path, monkeypatch):
    seen = _record(monkeypatch, "twinturbo")
    fit(load_config("demo", [*FAST, "method.name=twinturbo", f"cache.dir={tmp_path / 'c'}"]), tmp_path / "r")
    assert seen and all(b["x_ulb"] is True for b in seen)


def test_weak_view_without_grad_leaves_the_step_unchanged(tmp_path, monkeypatch):
    """The weak branch is detached inside every loss, so encoding it without a graph changes no
    parameter: the trained weights equal those of a run that encodes it with one."""
    c = load_config("demo", [*FAST, "method.name=fixmatch", "train.steps=3", f"cache.dir={tmp_path / 'c'}"])
    a = fit(c, tmp_path / "a")
    monkeypatch.setattr(METHODS.get("fixmatch"), "target_views", ())
    b = fit(c, tmp_path / "b")
    from safetensors.torch import load_file

    wa, wb = load_file(a.run_dir / "model.safetensors"), load_file(b.run_dir / "model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)


def test_trainable_run_measures_its_pool_mean_on_the_cached_frozen_features(tmp_path, monkeypatch):
    """With the head first, the pool mean of ``model.center`` comes from the cache entry the frozen
    phase reads (the mean a frozen run uses), not from a second pass of the trainable backbone."""
    from safetensors.torch import load_file

    c = [
        *FAST,
        "method.name=fixmatch",
        f"cache.dir={tmp_path / 'c'}",
        "cache.strong_views=1",
        "model.projector=identity",
    ]
    frozen = fit(load_config("demo", [*c, "backbone.frozen=true"]), tmp_path / "frozen")
    calls = []
    encode = LiveSource.encode

    def counting(self, collated):
        calls.append(torch.is_grad_enabled())
        return encode(self, collated)

    monkeypatch.setattr(LiveSource, "encode", counting)
    tuned = fit(load_config("demo", [*c, "train.head_first_epochs=1"]), tmp_path / "tuned")
    key = next(k for k in load_file(frozen.run_dir / "model.safetensors") if k.endswith("feature_mean"))
    mean_frozen = load_file(frozen.run_dir / "model.safetensors")[key]
    mean_tuned = load_file(tuned.run_dir / "model.safetensors")[key]
    assert torch.equal(mean_frozen, mean_tuned)
    # the live backbone ran for the 2 training steps (3 encodes each) and the test part only
    assert calls[:6] == [True, False, True] * 2
