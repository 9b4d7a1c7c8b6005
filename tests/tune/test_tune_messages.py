"""What ``ssft tune`` tells a user: one resume instruction, stable trial numbers, short numbers,
speed-only keys free to change on resume, the default seeds in --help."""

from __future__ import annotations

import importlib.util
import json

import pytest

from ssft.cli import main
from ssft.errors import Interrupted
from ssft.tune import runner as tune_runner
from ssft.tune import tune
from ssft.tune.outputs import fmt_params

BASE = ["data.name=digits", "cache.store=pooled", "data.holdout=0.3", "data.max_unlabeled=200"]
pytestmark = pytest.mark.skipif(importlib.util.find_spec("optuna") is None, reason="optuna is not installed")


def test_interruption_gives_one_resume_instruction_and_keeps_the_trial_number(tmp_path, monkeypatch):
    out = tmp_path / "t"
    kw = dict(overrides=[*BASE, "method.name=knn"], seeds=[0], verbose=False)
    real = tune_runner.score_on_dev
    calls = []

    def stop_second(cfg, dev, seeds, folder):
        calls.append(folder)
        if len(calls) == 2:
            raise Interrupted(f"stopped at step 3/10; resume with: ssft fit --resume {folder}/seed=0")
        return real(cfg, dev, seeds, folder)

    monkeypatch.setattr(tune_runner, "score_on_dev", stop_second)
    with pytest.raises(Interrupted) as e:
        tune("demo", out, trials=3, **kw)
    assert "ssft fit --resume" not in str(e.value) and "same ssft tune command" in str(e.value)
    assert "trial 1 interrupted" in str(e.value)
    tune("demo", out, trials=3, **kw)
    # the retried trial is trial 1 again, in the same folder; the next new one is trial 2
    assert [c.name for c in calls] == ["0000", "0001", "0001", "0002"]
    log = (out / "tune.log").read_text()
    assert "[2/3] trial 1:" in log and "[3/3] trial 2:" in log and "trial 3" not in log


def test_threads_may_change_on_resume(tmp_path):
    kw = dict(seeds=[0], verbose=False)
    tune("demo", tmp_path / "t", trials=1, overrides=[*BASE, "method.name=knn", "train.threads=1"], **kw)
    res = tune(
        "demo", tmp_path / "t", trials=2, overrides=[*BASE, "method.name=knn", "train.threads=2"], **kw
    )
    assert res.trials_done == 2


def test_parameters_print_short_and_seeds_default_in_help(capsys):
    assert fmt_params(["method.lr=0.0012345678901234567", "method.k=12", "method.w=a"]) == (
        "method.lr=0.001235 method.k=12 method.w=a"
    )
    with pytest.raises(SystemExit):
        main(["tune", "--help"])
    assert "default: 0,1,2" in capsys.readouterr().out


def test_best_json_keeps_every_digit(tmp_path):
    tune(
        "demo",
        tmp_path / "t",
        trials=2,
        overrides=[*BASE, "method.name=label_spreading"],
        seeds=[0],
        verbose=False,
    )
    best = json.loads((tmp_path / "t" / "best.json").read_text())
    alpha = next(o for o in best["overrides"] if o.startswith("method.alpha="))
    assert len(alpha.split("=")[1]) > 8
