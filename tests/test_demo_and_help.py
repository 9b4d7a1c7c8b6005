"""Small things a newcomer meets first: the demo runs every method and names its runs as a sweep
does, --help tells the truth about the demo, and held-out test extraction is not called "train"."""

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
    assert len(seen) == len(list(METHODS)) and all(folder == f"{m}_seed0" for m, folder in seen)


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
