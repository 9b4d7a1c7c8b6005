"""ssft tune: the test part is never read, the study resumes, every method gets the same budget,
best.yaml reproduces the best trial, and clear errors."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest

from ssft.cli import main
from ssft.config import DataConfig, load_config
from ssft.data import DATASETS, load_dataset
from ssft.data.base import ArrayImages, Dataset, Part
from ssft.data.splits import make_split
from ssft.errors import ConfigError, TrainingError
from ssft.tune import make_dev_split, tune
from ssft.tune import runner as tune_runner
from ssft.tune.study import STUDY_NAME
from ssft.tune.trial import score_on_dev

BASE = ["data.name=small-digits", "cache.store=pooled", "data.holdout=0.3"]
needs_optuna = pytest.mark.skipif(
    importlib.util.find_spec("optuna") is None, reason="optuna is not installed (pip install 'ssft[tune]')"
)


class SpyImages:
    """Digit images that record which items were read."""

    def __init__(self, array: np.ndarray) -> None:
        self.array, self.read = array, set()

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, i: int) -> np.ndarray:
        self.read.add(int(i))
        return self.array[i]

    def identity(self) -> str:
        return ArrayImages(self.array).identity()


@pytest.fixture
def small_digits(monkeypatch):
    """300 of the 8x8 digits as a one-split dataset ``small-digits`` whose reads are recorded."""
    full = load_dataset(DataConfig(name="digits"))
    spy = SpyImages(full.train.inputs.array[:300].copy())
    labels = full.train.labels[:300]

    def loader(cfg):
        return Dataset("small-digits", "image", full.classes, Part(spy, labels))

    monkeypatch.setitem(DATASETS._items, "small-digits", loader)
    monkeypatch.setitem(DATASETS._help, "small-digits", "test data")
    return spy


def _rows(out):
    return [json.loads(x) for x in (out / "trials.jsonl").read_text().splitlines()]


def test_dev_split_is_carved_from_the_pool_only(small_digits):
    cfg = load_config("demo", BASE)
    ds = load_dataset(cfg.data)
    test = make_split(ds, cfg.data).test
    dev = make_dev_split(ds, cfg.data, 0.25, seed=0)
    assert np.array_equal(dev.test, test)
    assert not np.intersect1d(dev.dev_train, test).size and not np.intersect1d(dev.dev_eval, test).size
    assert not np.intersect1d(dev.dev_train, dev.dev_eval).size
    pool = np.setdiff1d(np.arange(len(ds.train)), test)
    assert np.array_equal(np.union1d(dev.dev_train, dev.dev_eval), pool)
    # dev-eval is class-stratified, about a quarter of each class of the pool
    for c in range(10):
        n_pool, n_eval = (ds.train.labels[pool] == c).sum(), (ds.train.labels[dev.dev_eval] == c).sum()
        assert n_eval == max(1, round(0.25 * n_pool))
    # the dev dataset holds exactly those items: dev-train as its train part, dev-eval as its test
    assert np.array_equal(dev.dataset.train.labels, ds.train.labels[dev.dev_train])
    assert np.array_equal(dev.dataset.test.labels, ds.train.labels[dev.dev_eval])
    assert np.array_equal(dev.dataset.test.inputs[3], small_digits.array[dev.dev_eval[3]])


def test_dev_eval_is_capped_like_the_test_part(small_digits):
    cfg = load_config("demo", [*BASE, "data.max_test=30"])
    ds = load_dataset(cfg.data)
    dev = make_dev_split(ds, cfg.data, 0.25, seed=0)
    full = make_dev_split(ds, load_config("demo", BASE).data, 0.25, seed=0)
    assert dev.dev_eval.size == 30 and set(dev.dev_eval) <= set(full.dev_eval)
    assert np.array_equal(np.union1d(dev.dev_train, dev.dev_eval), np.union1d(full.dev_train, full.dev_eval))
    assert dev.counts()["dev_eval_labels"] == 30


def test_dev_split_of_a_dataset_with_a_test_split_leaves_it_out():
    train = Part(ArrayImages(np.zeros((40, 4, 4), np.uint8)), np.arange(40) % 2)
    test = Part(ArrayImages(np.full((10, 4, 4), 255, np.uint8)), np.arange(10) % 2)
    ds = Dataset("two-part", "image", ["a", "b"], train, test)
    dev = make_dev_split(ds, DataConfig(), 0.25, seed=0)
    assert dev.test_source == "test" and dev.dev_train.size + dev.dev_eval.size == 40
    assert (np.asarray(dev.dataset.test.inputs.array) == 0).all()  # no test image is in it


@needs_optuna
def test_tune_never_reads_the_test_part(small_digits, tmp_path, monkeypatch):
    import ssft.run.results as results
    import ssft.train.callbacks as callbacks
    from ssft.train.predict import predict as real_predict

    scored = []

    def spy_predict(method, source, idx, *args, **kwargs):
        scored.append(len(idx))
        return real_predict(method, source, idx, *args, **kwargs)

    monkeypatch.setattr(results, "predict", spy_predict)  # the test-part evaluation
    monkeypatch.setattr(callbacks, "predict", spy_predict)  # validation passes
    res = tune(
        "demo", tmp_path / "t", trials=2, overrides=[*BASE, "method.name=knn"], seeds=[0], verbose=False
    )
    cfg = load_config("demo", BASE)
    test = make_split(load_dataset(cfg.data), cfg.data).test
    assert small_digits.read, "the spy saw no read at all"
    assert not small_digits.read & set(test.tolist()), "a test item was read during the search"
    # every scoring pass was over dev-eval, never over the test part
    assert scored and set(scored) == {res.dev_counts["dev_eval_labels"]}
    split = json.loads((tmp_path / "t" / "dev_split.json").read_text())
    assert split["test"] == test.tolist() and split["counts"]["test_excluded"] == test.size
    # trial folders cannot be mistaken for test results: no results.json, no weights
    assert not list((tmp_path / "t").rglob("results.json"))
    assert not list((tmp_path / "t").rglob("model.safetensors"))


@needs_optuna
def test_resume_continues_the_trial_count(small_digits, tmp_path, monkeypatch, capsys):
    out = tmp_path / "t"
    args = [
        "tune",
        "--config",
        "demo",
        "--set",
        "method.name=label_spreading",
        "--seeds",
        "0",
        "--out",
        str(out),
    ]
    for s in BASE:
        args += ["--set", s]
    assert main([*args, "--trials", "2"]) == 0
    first = _rows(out)
    assert [r["trial"] for r in first] == [0, 1]
    printed = capsys.readouterr().out
    assert "best: trial" in printed and "dev-eval labels" in printed

    calls = []
    real = tune_runner.score_on_dev
    monkeypatch.setattr(tune_runner, "score_on_dev", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert main([*args, "--trials", "4"]) == 0
    rows = _rows(out)
    assert [r["trial"] for r in rows] == [0, 1, 2, 3] and len(calls) == 2
    assert rows[:2] == first  # the trials done before are kept as they were
    assert main([*args, "--trials", "4"]) == 0 and len(calls) == 2  # budget reached: nothing to run
    log = (out / "tune.log").read_text()
    assert "[4/4] trial 3" in log and "2/4 trials done" in log
    import csv

    table = list(csv.DictReader((out / "trials.csv").open()))
    assert len(table) == 4 and {"method.alpha", "dev_accuracy"} <= set(table[0])


@needs_optuna
def test_interrupted_trial_is_tried_again_with_its_parameters(small_digits, tmp_path, monkeypatch):
    out = tmp_path / "t"
    kw = dict(overrides=[*BASE, "method.name=knn"], seeds=[0], verbose=False)
    real = tune_runner.score_on_dev
    calls = []

    def interrupt_second(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(tune_runner, "score_on_dev", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        tune("demo", out, trials=3, **kw)
    monkeypatch.setattr(tune_runner, "score_on_dev", real)
    # and a search killed outright leaves a trial running in the study: simulate one
    import optuna

    study = optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{out / 'study.db'}")
    killed = study.ask()  # "running", never told: what a killed search leaves behind
    killed.suggest_int("method.k", 1, 50, log=True)
    killed.suggest_categorical("method.weights", ["distance", "uniform"])
    res = tune("demo", out, trials=3, **kw)
    rows = _rows(out)
    states = {r["study_trial"]: r["state"] for r in rows}
    assert states[1] == "interrupted" and states[2] == "interrupted"
    # a retry keeps the number of the trial it retries
    assert [(r["trial"], r["state"]) for r in rows[3:]] == [(1, "complete"), (2, "complete")]
    assert res.trials_done == 3 and sum(s == "complete" for s in states.values()) == 3
    retries = {r["retry_of"]: r for r in rows if r["retry_of"] is not None}
    assert set(retries) == {1, 2}
    assert retries[1]["params"] == rows[1]["params"] and retries[2]["params"] == killed.params
    assert retries[1]["state"] == "complete"


@needs_optuna
def test_same_budget_for_every_method_failed_trials_included(small_digits, tmp_path, monkeypatch):
    real = tune_runner.score_on_dev
    calls = []

    def diverge_first(*a, **k):
        calls.append(1)
        if len(calls) == 1:
            raise TrainingError("step 3: loss term 'ce' is nan")
        return real(*a, **k)

    monkeypatch.setattr(tune_runner, "score_on_dev", diverge_first)
    done = {}
    for method in ("knn", "linear_probe", "supervised"):
        extra = ["train.steps=3"] if method == "supervised" else []
        res = tune(
            "demo",
            tmp_path / method,
            trials=3,
            overrides=[*BASE, *extra, f"method.name={method}"],
            seeds=[0],
            verbose=False,
        )
        done[method] = (res.trials_done, len(_rows(tmp_path / method)))
    assert done == {m: (3, 3) for m in done}
    failed = _rows(tmp_path / "knn")[0]
    assert failed["state"] == "failed" and "nan" in failed["error"]
    assert json.loads((tmp_path / "knn" / "best.json").read_text())["trial"] != 0


@needs_optuna
def test_pinned_keys_are_not_searched(small_digits, tmp_path):
    tune(
        "demo",
        tmp_path / "t",
        trials=2,
        overrides=[*BASE, "method.name=label_spreading", "method.kernel=rbf"],
        seeds=[0],
        verbose=False,
    )
    for r in _rows(tmp_path / "t"):
        assert set(r["params"]) == {"method.alpha", "method.gamma"}


@needs_optuna
def test_best_yaml_reproduces_the_best_trial(small_digits, tmp_path):
    out = tmp_path / "t"
    over = [*BASE, "method.name=label_spreading"]
    res = tune("demo", out, trials=4, overrides=over, seeds=[0, 1], verbose=False)
    best = json.loads((out / "best.json").read_text())
    rows = _rows(out)
    assert best["dev_accuracy"] == max(r["dev_accuracy"] for r in rows) == res.best_value
    cfg = load_config(out / "best.yaml")
    assert cfg == load_config("demo", [*over, *best["overrides"]])
    dev = make_dev_split(load_dataset(cfg.data), cfg.data, 0.25, seed=0)
    again = score_on_dev(cfg, dev, [0, 1], tmp_path / "again")
    assert again.accuracies == pytest.approx(best["dev_accuracies"], abs=1e-12)
    assert again.mean == pytest.approx(best["dev_accuracy"], abs=1e-12)
    # each seed of a trial draws its own labelled items (seed and data.split_seed)
    runs = out / "trials" / f"{best['trial']:04d}"
    labeled = [json.loads((runs / f"seed={s}" / "split.json").read_text())["labeled"] for s in (0, 1)]
    assert labeled[0] != labeled[1]


@needs_optuna
def test_unknown_method_and_changed_search_are_clear_errors(small_digits, tmp_path, capsys):
    with pytest.raises(ConfigError, match="unknown method.name 'nope'; known: .*label_spreading"):
        tune("demo", tmp_path / "a", trials=1, overrides=[*BASE, "method.name=nope"], verbose=False)
    tune("demo", tmp_path / "b", trials=1, overrides=[*BASE, "method.name=knn"], seeds=[0], verbose=False)
    with pytest.raises(ConfigError, match="holds a different search .*seeds"):
        tune(
            "demo",
            tmp_path / "b",
            trials=2,
            overrides=[*BASE, "method.name=knn"],
            seeds=[0, 1],
            verbose=False,
        )
    assert (
        main(["tune", "--config", "demo", "--trials", "1", "--out", str(tmp_path / "c"), "--seeds", "x"]) == 2
    )
    assert "--seeds must be comma-separated integers" in capsys.readouterr().err


def test_missing_optuna_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)  # what an absent package looks like to import
    with pytest.raises(ConfigError, match=r"pip install 'ssft\[tune\]'"):
        tune("demo", tmp_path / "t", trials=1, verbose=False)
    assert main(["tune", "--config", "demo", "--trials", "1", "--out", str(tmp_path / "t")]) == 2
    assert "ssft tune needs Optuna" in capsys.readouterr().err


@needs_optuna
def test_one_search_per_folder(tmp_path):
    import fcntl

    out = tmp_path / "t"
    out.mkdir()
    with (out / ".lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        with pytest.raises(ConfigError, match="another ssft tune is running"):
            tune("demo", out, trials=1, overrides=["method.name=knn"], verbose=False)
