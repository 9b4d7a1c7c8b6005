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

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssft.config import Config, load_config, parse_override
from ssft.errors import ConfigError, DataError, Interrupted, TrainingError
from ssft.train.run_dir import write_json
from ssft.tune.dev_split import DevSplit, make_dev_split
from ssft.tune.outputs import (
    Progress,
    best_row,
    counted,
    fmt_params,
    records,
    state,
    write_best,
    write_tables,
)
from ssft.tune.spaces import Space, space_for
from ssft.tune.trial import score_on_dev

STUDY_NAME = "ssft-tune"


@dataclass
class TuneResult:
    out: Path
    method: str
    best_trial: int | None
    best_value: float | None
    best_overrides: list[str]
    trials_done: int
    dev_counts: dict[str, int]


def import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            "ssft tune needs Optuna, which is not installed: pip install 'ssft[tune]' (or pip install optuna)"
        ) from None
    return optuna


def _flat_keys(overrides: Sequence[str]) -> set[str]:
    keys = set()
    for text in overrides:
        node, parts = parse_override(text), []
        while isinstance(node, dict):
            ((k, node),) = node.items()
            parts.append(k)
        keys.add(".".join(parts))
    return keys


def _get(cfg: Config, key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, float) else str(value)


class TrialSuggest:
    """The :class:`~ssft.tune.spaces.Suggest` of one Optuna trial.

    A key the user pinned with ``--set`` is not searched: its value is the pinned one.
    """

    def __init__(self, trial: Any, cfg: Config, pinned: set[str]) -> None:
        self.trial, self.cfg, self.pinned = trial, cfg, pinned
        self.overrides: list[str] = []

    def _ask(self, key: str, draw: Any) -> Any:
        try:
            value = _get(self.cfg, key)
        except AttributeError:
            raise ConfigError(
                f"search space asks for {key}, which is not a key of method {self.cfg.method.name}"
            ) from None
        if key in self.pinned:
            return value
        value = draw()
        self.overrides.append(f"{key}={_format(value)}")
        return value

    def real(self, key: str, low: float, high: float, *, log: bool = False) -> float:
        return self._ask(key, lambda: self.trial.suggest_float(key, low, high, log=log))

    def integer(self, key: str, low: int, high: int, *, log: bool = False) -> int:
        return self._ask(key, lambda: self.trial.suggest_int(key, low, high, log=log))

    def choice(self, key: str, options: Sequence[Any]) -> Any:
        return self._ask(key, lambda: self.trial.suggest_categorical(key, list(options)))


def _spec(
    config: str | Path | None, overrides: Sequence[str], seeds: Sequence[int], fraction: float, dev_seed: int
) -> dict[str, Any]:
    src = None
    if config is not None:
        path = Path(config)
        src = str(path.resolve()) if path.is_file() else str(config)
    return {
        "config": src,
        "overrides": list(overrides),
        "seeds": [int(s) for s in seeds],
        "dev_fraction": float(fraction),
        "dev_seed": int(dev_seed),
    }


def _check_same_search(out: Path, spec: dict[str, Any]) -> None:
    path = out / "tune.json"
    if not path.is_file():
        return
    old = json.loads(path.read_text())
    same = {**spec, "overrides": _search_overrides(spec["overrides"])}
    old = {**old, "overrides": _search_overrides(old.get("overrides", []))}
    diff = [k for k in same if old.get(k) != same[k]]
    if diff:
        shown = "; ".join(f"{k}: was {old.get(k)!r}, now {same[k]!r}" for k in diff)
        raise ConfigError(
            f"{out} holds a different search ({shown}); resume it with the same settings, "
            "or choose another --out"
        )


def _check_dev_split(out: Path, dev: DevSplit) -> None:
    path = out / "dev_split.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("dev_train") != dev.dev_train.tolist() or old.get("dev_eval") != dev.dev_eval.tolist():
            raise DataError(
                f"the data changed since the search in {out} started: the dev split no longer "
                "matches dev_split.json; start a new search in another --out"
            )
        return
    write_json(path, dev.to_json())


def _check_labels_fit(cfg: Config, dev: DevSplit) -> None:
    """Fail before the first trial when dev-train cannot hold k (+ validation) labels per class."""
    from ssft.data.splits import few_label_split

    try:
        few_label_split(
            dev.dataset.train.labels,
            cfg.data.labels_per_class,
            0,
            num_classes=dev.dataset.num_classes,
            val_per_class=cfg.data.val_per_class,
            classes=dev.dataset.classes,
        )
    except DataError as e:
        raise DataError(
            f"dev-train (the pool less dev-eval) is too small: {e}, or a smaller --dev-fraction"
        ) from None


def shown_number(t: Any) -> int:
    """The number a trial is shown with: a retry keeps the number of the trial it retries."""
    return int(t.user_attrs.get("shown_as", t.number))


def _recover(study: Any, optuna: Any, log: Progress) -> None:
    """Trials left running by a killed search are marked interrupted; every interrupted trial is
    queued again once, with its parameters and its number, so the search goes on where it stopped."""
    states = optuna.trial.TrialState
    for t in study.get_trials(deepcopy=False, states=(states.RUNNING,)):
        study.tell(t.number, state=states.FAIL)
        log(f"trial {shown_number(t)} was cut short by an interruption; it will be tried again")
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    for t in trials:
        if state(t, optuna) == "interrupted" and t.number not in retried:
            study.enqueue_trial(
                dict(t.params), user_attrs={"retry_of": t.number, "shown_as": shown_number(t)}
            )


def _number_new_trial(study: Any, trial: Any) -> int:
    """A fresh trial is shown with the next unused number (retries reuse theirs: no gaps)."""
    if "shown_as" not in trial.user_attrs:
        others = [shown_number(t) for t in study.get_trials(deepcopy=False) if t.number != trial.number]
        trial.set_user_attr("shown_as", max(others, default=-1) + 1)
    return int(trial.user_attrs["shown_as"])


#: Keys that change only how fast a search runs, not what it finds: a resume may change them.
SPEED_ONLY = {"train.threads", "train.progress"}


def _search_overrides(overrides: Sequence[str]) -> list[str]:
    return [o for o in overrides if not (_flat_keys([o]) & SPEED_ONLY)]


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
    with _folder_lock(out):
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


@contextmanager
def _folder_lock(out: Path) -> Iterator[None]:
    """One search per folder: a second process would take the first one's running trial for a
    trial left behind by a killed search."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with (out / ".lock").open("w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(
                f"another ssft tune is running in {out}; wait for it or choose another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


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
    spec = _spec(config, overrides, seeds, dev_fraction, dev_seed)
    _check_same_search(out, spec)

    from ssft.data import load_dataset

    dev = make_dev_split(load_dataset(cfg.data), cfg.data, dev_fraction, dev_seed)
    _check_labels_fit(cfg, dev)
    _check_dev_split(out, dev)
    counts = dev.counts()
    write_json(
        out / "tune.json",
        {**spec, "method": cfg.method.name, "space": space_name, "trials": trials, "dev_counts": counts},
    )

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{(out / 'study.db').resolve()}"
    study = optuna.create_study(
        storage=storage, study_name=STUDY_NAME, direction="maximize", load_if_exists=True
    )
    log = Progress(out / "tune.log", verbose)
    _recover(study, optuna, log)
    previous = len(study.get_trials(deepcopy=False))
    # A resumed search must not replay the random start-up draws of the first session.
    study.sampler = optuna.samplers.TPESampler(
        seed=sampler_seed + previous, n_startup_trials=min(10, max(2, trials // 4))
    )
    done = sum(counted(t, optuna) for t in study.get_trials(deepcopy=False))
    log(
        f"tune {cfg.method.name} (space {space_name}): {done}/{trials} trials done; dev split: "
        f"{counts['dev_train']} dev-train items, {counts['dev_eval_labels']} dev-eval labels, "
        f"{counts['test_excluded']} test items left out"
    )
    pinned = _flat_keys(overrides)
    while done < trials:
        trial = study.ask()
        number = _number_new_trial(study, trial)
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
        frozen = _frozen(study, trial.number)
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


def _frozen(study: Any, number: int) -> Any:
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)


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
