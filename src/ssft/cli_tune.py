"""``ssft tune``: a resumable hyper-parameter search, scored on a dev split of the training pool."""

from __future__ import annotations

import argparse
from typing import Any

from ssft.cli_common import add_config_args
from ssft.errors import SsftError


def cmd_tune(args: argparse.Namespace) -> int:
    from ssft.tune import tune

    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise SsftError(f"--seeds must be comma-separated integers, got {args.seeds!r}") from None
    tune(
        args.config,
        args.out,
        trials=args.trials,
        overrides=list(args.overrides) + (["data.skip_bad=true"] if args.skip_bad else []),
        seeds=seeds,
        dev_fraction=args.dev_fraction,
        dev_seed=args.dev_seed,
        sampler_seed=args.sampler_seed,
    )
    return 0


def add_tune(sub: Any) -> None:
    """Add ``ssft tune``."""
    tu = sub.add_parser(
        "tune", help="hyper-parameter search (Optuna TPE) on a dev split of the training pool, resumable"
    )
    add_config_args(tu)
    tu.add_argument("--trials", "-n", type=int, required=True, help="trial budget (finished trials in --out)")
    tu.add_argument("--out", "-o", required=True, help="search folder (study.db, trials.csv, best.yaml)")
    tu.add_argument(
        "--seeds", default="0,1,2", help="seeds averaged per trial (seed and data.split_seed); default: 0,1,2"
    )
    tu.add_argument(
        "--dev-fraction", type=float, default=0.25, help="share of the pool's labels held out to score trials"
    )
    tu.add_argument("--dev-seed", type=int, default=0, help="seed of the dev-eval draw")
    tu.add_argument("--sampler-seed", type=int, default=0, help="seed of the TPE sampler")
    tu.set_defaults(func=cmd_tune)
