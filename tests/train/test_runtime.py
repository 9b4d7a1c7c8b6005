"""Run-level correctness that matters most on a GPU, checked on the CPU: a frozen backbone stays
in eval mode, checkpoints carry every RNG, one precision path, per-run peak memory."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from ssft.config import BackboneConfig, load_config
from ssft.run.runner import fit
from ssft.train.runtime import PeakMemory, deterministic, host_peak_mb, rng_state, set_rng_state

FAST = ["train.steps=4", "train.batch_size=16", "data.labels_per_class=2", "train.log_every=2"]


def test_frozen_backbone_stays_in_eval_mode_when_the_method_trains():
    from ssft.backbones import build_backbone
    from ssft.config import MethodConfig, ModelConfig
    from ssft.heads.model import SSFTModel
    from ssft.methods import build_method

    backbone = build_backbone(BackboneConfig(name="random:bert-tiny", max_length=32)).freeze()
    assert backbone.model.config.hidden_dropout_prob > 0  # dropout would make encodes random
    model = SSFTModel(backbone, ModelConfig(projector="mlp", width=32, dropout=0.1), 3)
    method = build_method(MethodConfig(name="supervised"), model, class_counts=np.ones(3), seed=0)
    method.train()
    assert method.training and model.projector.training
    assert not any(m.training for m in backbone.modules())
    inputs = backbone.prepare(["the market fell", "a great movie with a boring plot"])
    a, b = backbone.encode(inputs).pooled, backbone.encode(inputs).pooled
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    # A trainable backbone does follow its parent's mode.
    backbone.unfreeze_last(1)
    method.train()
    assert backbone.training


def _fake_cuda(monkeypatch, calls):
    states = [torch.arange(16, dtype=torch.uint8), torch.arange(16, 32, dtype=torch.uint8)]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [s.clone() for s in states])
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda s: calls.append([t.clone() for t in s]))
    return states


def test_checkpoint_rng_state_holds_every_gpu_and_loads_weights_only(monkeypatch):
    calls: list = []
    states = _fake_cuda(monkeypatch, calls)
    buf = io.BytesIO()
    torch.save({"step": 3, **rng_state()}, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    assert [torch.equal(a, b) for a, b in zip(loaded["cuda_rng"], states, strict=True)] == [True, True]
    cpu_before = torch.get_rng_state()
    torch.rand(3)
    set_rng_state(loaded)
    assert torch.equal(torch.get_rng_state(), cpu_before)
    assert len(calls) == 1 and all(torch.equal(a, b) for a, b in zip(calls[0], states, strict=True))
    # Other GPUs than at save time: the CPU state is restored, the GPU ones are left alone.
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    set_rng_state(loaded)
    assert len(calls) == 1


def test_fit_checkpoint_carries_the_cuda_rng_and_resume_restores_it(tmp_path, monkeypatch):
    import ssft.train.checkpoint as checkpoint

    calls: list = []
    _fake_cuda(monkeypatch, calls)
    fit(load_config("demo", [*FAST, "train.device=cpu"]), tmp_path / "run")
    ckpt = checkpoint.load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert len(ckpt["cuda_rng"]) == 2 and not calls
    # Resuming puts the GPU states back (here from the final checkpoint: nothing left to train).
    (tmp_path / "run" / "results.json").unlink()
    fit(None, tmp_path / "run", resume=True)
    assert len(calls) == 1 and torch.equal(calls[0][1], ckpt["cuda_rng"][1])


def test_deterministic_algorithms_during_a_run_and_restored_after(tmp_path, monkeypatch):
    import ssft.train.trainer as trainer

    seen = []
    real = trainer.Trainer.fit

    def spy(*a, **k):
        seen.append(torch.are_deterministic_algorithms_enabled())
        return real(*a, **k)

    monkeypatch.setattr(trainer.Trainer, "fit", spy)
    before = torch.are_deterministic_algorithms_enabled()
    fit(load_config("demo", FAST), tmp_path / "on")
    fit(load_config("demo", [*FAST, "train.deterministic=false"]), tmp_path / "off")
    assert seen == [True, before]
    assert torch.are_deterministic_algorithms_enabled() == before
    with deterministic(True):
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark


@pytest.mark.parametrize("cache", ["true", "false"])
def test_fit_evaluate_and_predict_share_one_precision_path(tmp_path, cache):
    """bf16 autocast on the CPU stands in for a GPU run: extraction, the test prediction of fit,
    evaluate and predict must all run under it, so they give the same probabilities."""
    from ssft.data import load_dataset
    from ssft.data.splits import Split
    from ssft.run.sources import build_sources
    from ssft.train.predict import predict

    cfg = load_config(
        "demo", [*FAST, "train.precision=bf16", f"cache.enabled={cache}", f"cache.dir={tmp_path / 'c'}"]
    )
    r = fit(cfg, tmp_path / "run")
    run = r.load()
    assert run.evaluate()["test_accuracy"] == r.test_accuracy
    data = load_dataset(cfg.data)
    split = Split.load(r.run_dir / "split.json")
    backbone = run.method.model.backbone
    _, test_src, _ = build_sources(cfg, data, split, backbone, run.device)
    in_fit = predict(run.method, test_src, split.test, cfg.cache.batch_size, run.device, "bf16")
    again = run.predict([data.train.inputs[int(i)] for i in split.test], batch_size=cfg.cache.batch_size)
    np.testing.assert_allclose(again.probabilities, in_fit, rtol=0, atol=1e-6)
    fp32 = predict(run.method, test_src, split.test, cfg.cache.batch_size, run.device, "fp32")
    assert np.abs(fp32 - in_fit).max() > 1e-4  # bf16 really is in effect: the check can fail


def test_autocast_dtype_rule():
    from ssft.precision import autocast_dtype

    assert autocast_dtype("cpu", "auto") is None and autocast_dtype("cpu", "fp32") is None
    assert autocast_dtype("cpu", "bf16") is torch.bfloat16
    assert autocast_dtype("cuda", "auto") is torch.bfloat16
    assert autocast_dtype("cuda", "fp16") is torch.float16 and autocast_dtype("cuda", "fp32") is None
    with pytest.raises(ValueError, match="unknown precision"):
        autocast_dtype("cpu", "int8")


def test_peak_host_memory_is_per_run(tmp_path):
    from ssft.train.runtime import _reset_host_peak

    # The process's peak so far depends on the tests that ran before this one: start from here,
    # so that `before` is this process's size now plus the allocation below.
    if not _reset_host_peak():
        pytest.skip("this system cannot reset the peak resident set (/proc/self/clear_refs)")
    # 1.2 GB touched, then freed before the run: far more than a small run itself allocates (a run
    # in a long test process was once seen adding about 320 MB)
    big = np.ones(150_000_000)
    big[::4096] = 2.0
    before = host_peak_mb()
    del big
    r = fit(load_config("demo", FAST), tmp_path / "run")
    if r.results["peak_host_scope"] != "run":
        pytest.skip("this system cannot reset the peak resident set (/proc/self/clear_refs)")
    assert r.results["peak_host_mb"] < before - 600


def test_peak_gpu_memory_counters_are_reset_per_run(monkeypatch):
    resets = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda d=None: resets.append(d))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda d=None: 12 * 2**20)
    mem = PeakMemory(torch.device("cuda"))
    assert resets == [torch.device("cuda")]
    assert mem.read()["peak_gpu_mb"] == 12
    assert "peak_gpu_mb" not in PeakMemory(torch.device("cpu")).read()
