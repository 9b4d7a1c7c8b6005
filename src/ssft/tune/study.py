"""The Optuna study of a search: opened from (or created in) the search folder's SQLite file,
trials left behind by a killed search queued again, and every trial shown with a stable number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ssft.errors import ConfigError
from ssft.tune.outputs import Progress, state

STUDY_NAME = "ssft-tune"


def import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            "ssft tune needs Optuna, which is not installed: pip install 'ssft[tune]' (or pip install optuna)"
        ) from None
    return optuna


def open_study(out: Path, optuna: Any, log: Progress, *, sampler_seed: int, trials: int) -> Any:
    """The study stored in ``out/study.db`` (new or resumed), its interrupted trials queued again."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{(out / 'study.db').resolve()}"
    study = optuna.create_study(
        storage=storage, study_name=STUDY_NAME, direction="maximize", load_if_exists=True
    )
    recover(study, optuna, log)
    previous = len(study.get_trials(deepcopy=False))
    # A resumed search must not replay the random start-up draws of the first session.
    study.sampler = optuna.samplers.TPESampler(
        seed=sampler_seed + previous, n_startup_trials=min(10, max(2, trials // 4))
    )
    return study


def shown_number(t: Any) -> int:
    """The number a trial is shown with: a retry keeps the number of the trial it retries."""
    return int(t.user_attrs.get("shown_as", t.number))


def recover(study: Any, optuna: Any, log: Progress) -> None:
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


def number_new_trial(study: Any, trial: Any) -> int:
    """A fresh trial is shown with the next unused number (retries reuse theirs: no gaps)."""
    if "shown_as" not in trial.user_attrs:
        others = [shown_number(t) for t in study.get_trials(deepcopy=False) if t.number != trial.number]
        trial.set_user_attr("shown_as", max(others, default=-1) + 1)
    return int(trial.user_attrs["shown_as"])


def frozen_trial(study: Any, number: int) -> Any:
    """The stored (frozen) trial with Optuna's ``number``, as the study holds it now."""
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)
