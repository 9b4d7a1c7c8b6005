"""``ssft suggest``: the command line of :mod:`ssft.suggest.run` (registered by :func:`register`)."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_suggest(args: argparse.Namespace) -> int:
    from ssft.config import load_config
    from ssft.errors import ConfigError
    from ssft.suggest.run import suggest, write_csv

    if args.budget < 1:
        raise ConfigError(f"--budget must be >= 1 (items to label), got {args.budget}")
    if args.run and (args.config or args.overrides):
        raise ConfigError("--run uses the run's own config; drop --config and --set")
    cfg = None if args.run else load_config(args.config, list(args.overrides))
    rows = suggest(cfg, args.budget, strategy=args.strategy, run_dir=args.run, seed=args.seed)
    path = write_csv(rows, args.out)
    print(
        f"wrote {len(rows)} items to {path}; fill its label column, then: "
        f"ssft fit ... --set data.labeled_items={path}"
    )
    return 0


def register(sub: Any) -> None:
    """Add the ``suggest`` sub-command to ``ssft``'s sub-parsers."""
    from ssft.suggest import COLD_START_DEFAULT, NEXT_BATCH_DEFAULT, STRATEGIES

    s = sub.add_parser("suggest", help="which items to label: cold start, or the next batch after a run")
    s.add_argument("--config", "-c", help="preset name (ssft presets) or YAML file (cold start)")
    s.add_argument(
        "--set",
        "-s",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key (repeatable)",
    )
    s.add_argument("--run", metavar="DIR", help="a trained run: pick the next batch from its predictions")
    s.add_argument("--budget", "-n", type=int, required=True, help="number of items to pick")
    names = ", ".join(f"{k} ({v})" for k, v in STRATEGIES.describe().items())
    s.add_argument(
        "--strategy",
        choices=list(STRATEGIES),
        metavar="NAME",
        help=f"default {COLD_START_DEFAULT} (cold start) / {NEXT_BATCH_DEFAULT} (--run); {names}",
    )
    s.add_argument("--seed", type=int, default=0, help="seed of the strategy (k-means, random picks)")
    s.add_argument("--out", "-o", required=True, help="CSV to write")
    s.set_defaults(func=cmd_suggest)
