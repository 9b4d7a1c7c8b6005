"""``ssft tune``: Optuna's TPE over a method's search space, scored on the development split.

The search folder ``out`` holds::

    tune.json       what was searched (config, overrides, seeds, dev split settings, budget)
    dev_split.json  dev-train / dev-eval indices (into the original train part) and the test part left out
    study.db        the Optuna study (SQLite): a search started again resumes from it
    tune.log        one line per trial, as the search goes
    trials.csv      every trial's parameters and dev accuracy (also trials.jsonl)
    best.yaml       the best trial's full config: ``ssft fit --config best.yaml``
    best.json       its tuned keys as ``--set`` overrides, and its dev accuracy
    trials/NNNN/seed=S/   each trial's runs (config, split, metrics, dev_results.json)

The budget ``trials`` counts finished trials, failed ones included (a trial whose training
diverged is a configuration tried); a trial cut short by an interruption does not count and is
tried again, with the same parameters, when the search resumes. One process per folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssft.config import Config, load_config
from ssft.errors import ConfigError, Interrupted, TrainingError
from ssft.train.run_dir import write_json
from ssft.tune.dev_split import DevSplit, make_dev_split
from ssft.tune.folder import check_dev_split, check_labels_fit, check_same_search, folder_lock, search_spec
from ssft.tune.outputs import (
    Progress,
    best_row,
    counted,
    fmt_params,
    records,
    write_best,
    write_tables,
)
from ssft.tune.spaces import Space, space_for
from ssft.tune.study import frozen_trial, import_optuna, number_new_trial, open_study
from ssft.tune.trial import score_on_dev
from ssft.tune.trial_suggest import TrialSuggest, flat_keys


@dataclass
class TuneResult:
    out: Path
    method: str
    best_trial: int | None
    best_value: float | None
    best_overrides: list[str]
    trials_done: int
    dev_counts: dict[str, int]


def tune(
    config: str | Path | None,
    out: str | Path,
    *,
    trials: int,
    overrides: Sequence[str] = (),
    seeds: Sequence[int] = (0, 1, 2),
    dev_fraction: float = 0.25,
    dev_seed: int = 0,
    sampler_seed: int = 0,
    verbose: bool = True,
) -> TuneResult:
    """Search the hyper-parameters of ``config``'s method on a development split (module docstring).

    ``overrides`` pin keys (they are never searched); ``seeds`` are averaged per trial.
    """
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    if not seeds:
        raise ConfigError("--seeds needs at least one seed")
    import_optuna()  # fail before any work when it is missing
    overrides = list(overrides)
    cfg = load_config(config, overrides)
    space_name, space = space_for(cfg.method.name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out):
        return _search(
            config,
            out,
            cfg,
            space_name,
            space,
            trials,
            overrides,
            seeds,
            dev_fraction,
            dev_seed,
            sampler_seed,
            verbose,
        )


def _search(
    config: str | Path | None,
    out: Path,
    cfg: Config,
    space_name: str,
    space: Space,
    trials: int,
    overrides: list[str],
    seeds: Sequence[int],
    dev_fraction: float,
    dev_seed: int,
    sampler_seed: int,
    verbose: bool,
) -> TuneResult:
    optuna = import_optuna()
    spec = search_spec(config, overrides, seeds, dev_fraction, dev_seed)
    check_same_search(out, spec)

    from ssft.data import load_dataset

    dev = make_dev_split(load_dataset(cfg.data), cfg.data, dev_fraction, dev_seed)
    check_labels_fit(cfg, dev)
    check_dev_split(out, dev)
    counts = dev.counts()
    write_json(
        out / "tune.json",
        {**spec, "method": cfg.method.name, "space": space_name, "trials": trials, "dev_counts": counts},
    )

    log = Progress(out / "tune.log", verbose)
    study = open_study(out, optuna, log, sampler_seed=sampler_seed, trials=trials)
    done = sum(counted(t, optuna) for t in study.get_trials(deepcopy=False))
    log(
        f"tune {cfg.method.name} (space {space_name}): {done}/{trials} trials done; dev split: "
        f"{counts['dev_train']} dev-train items, {counts['dev_eval_labels']} dev-eval labels, "
        f"{counts['test_excluded']} test items left out"
    )
    pinned = flat_keys(overrides)
    while done < trials:
        trial = study.ask()
        number = number_new_trial(study, trial)
        suggest = TrialSuggest(trial, cfg, pinned)
        try:
            _run_trial(trial, suggest, space, config, overrides, cfg, dev, seeds, out, optuna, number)
        except BaseException as e:
            # Not a result of the trial's parameters: the trial does not count and is tried again
            # when the search resumes.
            study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
            stopped = isinstance(e, KeyboardInterrupt | Interrupted)
            hint = f"trial {number} {'interrupted' if stopped else f'stopped: {e}'}; run the same ssft tune command again to resume"
            log(hint)
            if isinstance(e, Interrupted):
                # One instruction: the trial's own run says "ssft fit --resume", which a search must not do.
                raise Interrupted(hint) from None
            raise
        frozen = frozen_trial(study, trial.number)
        done = sum(counted(t, optuna) for t in study.get_trials(deepcopy=False))
        if frozen.state == optuna.trial.TrialState.COMPLETE:
            a = frozen.user_attrs
            log(
                f"[{done}/{trials}] trial {number}: dev acc {frozen.value:.4f} ± {a['dev_std']:.4f} "
                f"({a['seconds']:.1f} s) {fmt_params(a['overrides'])}"
            )
        else:
            log(f"[{done}/{trials}] trial {number} failed: {frozen.user_attrs['error']}")
        _write_outputs(study, optuna, out, config, overrides, trials, counts)
    _write_outputs(study, optuna, out, config, overrides, trials, counts)
    return _summary(study, optuna, out, cfg.method.name, done, counts, log)


def _run_trial(
    trial: Any,
    suggest: TrialSuggest,
    space: Space,
    config: str | Path | None,
    overrides: Sequence[str],
    cfg: Config,
    dev: DevSplit,
    seeds: Sequence[int],
    out: Path,
    optuna: Any,
    number: int,
) -> None:
    space(suggest, cfg)
    trial.set_user_attr("overrides", suggest.overrides)
    try:
        trial_cfg = load_config(config, [*overrides, *suggest.overrides])
        score = score_on_dev(trial_cfg, dev, seeds, out / "trials" / f"{number:04d}")
    except (TrainingError, ConfigError) as e:
        # A diverged or invalid combination is a configuration tried: it counts in the budget.
        # (Errors that no choice of hyper-parameters causes, bad data for one, stop the search.)
        trial.set_user_attr("error", str(e))
        trial.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return
    trial.set_user_attr("dev_accuracies", score.accuracies)
    trial.set_user_attr("dev_std", score.std)
    trial.set_user_attr("seconds", score.seconds)
    trial.study.tell(trial, score.mean)


def _write_outputs(
    study: Any,
    optuna: Any,
    out: Path,
    config: str | Path | None,
    overrides: Sequence[str],
    budget: int,
    counts: dict[str, int],
) -> None:
    rows = records(study, optuna)
    write_tables(out, rows)
    best = best_row(rows)
    if best is not None:
        done = sum(r["state"] in ("complete", "failed") for r in rows)
        write_best(out, best, config, overrides, done, budget, counts)


def _summary(
    study: Any, optuna: Any, out: Path, method: str, done: int, counts: dict[str, int], log: Progress
) -> TuneResult:
    rows = records(study, optuna)
    best = best_row(rows)
    failed = sum(r["state"] == "failed" for r in rows)
    log(
        f"done: {done} trials of {method} ({failed} failed); dev split {counts['dev_train']} dev-train "
        f"items, {counts['dev_eval_labels']} dev-eval labels spent on tuning; test part never read"
    )
    if best is None:
        log("no trial finished; nothing to write to best.yaml")
        return TuneResult(out, method, None, None, [], done, counts)
    accs = np.asarray(best["dev_accuracies"])
    log(
        f"best: trial {best['trial']}, dev accuracy {best['dev_accuracy']:.4f} ± {best['dev_std']:.4f} "
        f"(seeds: {', '.join(f'{a:.4f}' for a in accs)}) with {fmt_params(best['overrides'])}"
    )
    log(f"wrote {out / 'best.yaml'} (ssft fit --config {out / 'best.yaml'} --out RUN), trials.csv, tune.log")
    return TuneResult(out, method, best["trial"], best["dev_accuracy"], list(best["overrides"]), done, counts)
