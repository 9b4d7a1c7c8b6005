"""The guards of a search folder: one search per folder, resumed only with the same settings and
the same data, and a dev split large enough for the labels each trial draws."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ssft.config import Config
from ssft.errors import ConfigError, DataError
from ssft.train.run_dir import write_json
from ssft.tune.dev_split import DevSplit
from ssft.tune.trial_suggest import flat_keys

#: Keys that change only how fast a search runs, not what it finds: a resume may change them.
SPEED_ONLY = {"train.threads", "train.progress"}


def search_overrides(overrides: Sequence[str]) -> list[str]:
    """The overrides that change what a search finds (those of :data:`SPEED_ONLY` left out)."""
    return [o for o in overrides if not (flat_keys([o]) & SPEED_ONLY)]


def search_spec(
    config: str | Path | None, overrides: Sequence[str], seeds: Sequence[int], fraction: float, dev_seed: int
) -> dict[str, Any]:
    """What is searched, as written to ``tune.json`` (a config file by its absolute path)."""
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


def check_same_search(out: Path, spec: dict[str, Any]) -> None:
    """A folder that holds a search resumes only that search (speed-only keys may differ)."""
    path = out / "tune.json"
    if not path.is_file():
        return
    old = json.loads(path.read_text())
    same = {**spec, "overrides": search_overrides(spec["overrides"])}
    old = {**old, "overrides": search_overrides(old.get("overrides", []))}
    diff = [k for k in same if old.get(k) != same[k]]
    if diff:
        shown = "; ".join(f"{k}: was {old.get(k)!r}, now {same[k]!r}" for k in diff)
        raise ConfigError(
            f"{out} holds a different search ({shown}); resume it with the same settings, "
            "or choose another --out"
        )


def check_dev_split(out: Path, dev: DevSplit) -> None:
    """Write ``dev_split.json`` the first time; later, fail when the data no longer gives it."""
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


def check_labels_fit(cfg: Config, dev: DevSplit) -> None:
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


@contextmanager
def folder_lock(out: Path) -> Iterator[None]:
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
