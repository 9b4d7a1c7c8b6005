"""Small things a newcomer meets first: the demo runs every method and names its runs as a sweep
does, --help tells the truth about the demo, held-out test extraction is not called "train", and a
sweep's first time estimate leaves out the one-time feature extraction."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ssft.cli import main


def test_demo_runs_every_method_in_sweep_named_folders(tmp_path, monkeypatch, capsys):
    import ssft.api
    from ssft.demo import run_demo
    from ssft.methods import METHODS

    seen = []

    def fake_fit(cfg, out):
        seen.append((cfg.method.name, out.name))
        r = {"test_accuracy": 0.5, "dataset": "digits", "backbone": cfg.backbone.name, "frozen": True}
        r.update(method=cfg.method.name, labels_per_class=4, val_per_class=0, num_labeled=40, seed=cfg.seed)
        return SimpleNamespace(results=r)

    monkeypatch.setattr(ssft.api, "fit", fake_fit)
    run_demo(tmp_path, quick=True, seeds=(0,))
    assert sorted(m for m, _ in seen) == sorted(METHODS)
    assert len(seen) == 9 and all(folder == f"{m}_seed0" for m, folder in seen)


def test_help_does_not_call_the_demo_backbone_random(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    out = " ".join(out.split())
    assert "a random backbone" not in out and "pretrained EfficientNet- Lite0" in out


def test_held_out_test_extraction_is_labelled_so(tmp_path, capsys):
    sets = ["--set", "train.steps=2", "--set", "data.labels_per_class=2", "--set", "train.progress=true"]
    assert (
        main(
            [
                "fit",
                "--config",
                "demo",
                *sets,
                "--set",
                "cache.enabled=true",
                "--set",
                f"cache.dir={tmp_path / 'c'}",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    test_lines = [x for x in err.splitlines() if x.startswith("features") and "held-out test" in x]
    assert test_lines, err


def test_first_sweep_estimate_leaves_out_extraction(monkeypatch):
    import ssft.train.sweep_progress as sp

    clock = iter([0.0, 100.0])
    monkeypatch.setattr(sp.time, "perf_counter", lambda: next(clock))
    p = sp.SweepProgress(4, verbose=False)
    p.start("a")
    p.finished("a", 0.9, extract_seconds=80.0)
    assert p.eta() == "about 1 min 00 s left"  # 3 runs x 20 s, not 3 x 100 s
