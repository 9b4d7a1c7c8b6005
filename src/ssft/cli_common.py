"""Pieces shared by the ``ssft`` subcommands: the config options and the config they resolve to."""

from __future__ import annotations

import argparse
from typing import Any


def add_config_args(p: argparse.ArgumentParser) -> None:
    """``--config``, ``--set`` and ``--skip-bad``: how every config-reading subcommand picks its run."""
    p.add_argument("--config", "-c", help="preset name (ssft presets) or YAML file")
    p.add_argument(
        "--set",
        "-s",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key, e.g. --set train.epochs=3 (repeatable)",
    )
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="drop unreadable data files instead of failing (same as --set data.skip_bad=true); "
        "the dropped files are listed in the run directory's bad_files.txt",
    )


def config_from_args(args: argparse.Namespace) -> Any:
    """The resolved config of ``--config`` and ``--set`` (``--skip-bad`` is ``data.skip_bad=true``)."""
    from ssft.config import load_config

    overrides = list(args.overrides) + (["data.skip_bad=true"] if getattr(args, "skip_bad", False) else [])
    return load_config(args.config, overrides)


def print_table(rows: dict[str, str]) -> None:
    """Two aligned columns, name and description, as the listing subcommands print them."""
    width = max((len(k) for k in rows), default=0)
    for k, v in rows.items():
        print(f"  {k:<{width}}  {v}")
