"""Subcommands that write tables, pages and pictures: ``ssft demo``, ``table``, ``report``, ``show-data``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ssft.cli_common import add_config_args, config_from_args
from ssft.errors import SsftError


def cmd_demo(args: argparse.Namespace) -> int:
    from ssft.demo import run_demo

    seeds = (0,) if args.quick else (0, 1, 2)
    run_demo(Path(args.out), quick=args.quick, seeds=seeds)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ssft.report.build import write_report

    page = write_report(args.runs, args.out, figures=not args.no_figures, confusion=args.confusion)
    print(f"wrote {page} and {page.parent / 'report.md'}")
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    from ssft.report.tables import collect, format_table

    rows = collect(Path(args.root))
    if not rows:
        raise SsftError(f"no results.json below {args.root}")
    print(format_table(rows))
    return 0


def cmd_show_data(args: argparse.Namespace) -> int:
    from ssft.report.show_data import show_data

    path = show_data(config_from_args(args), Path(args.out), n=args.n)
    print(f"wrote {path}")
    return 0


def add_demo(sub: Any) -> None:
    """Add ``ssft demo``."""
    d = sub.add_parser(
        "demo",
        help="offline demo: digits, the pretrained EfficientNet-Lite0 (random weights without "
        "ssft[effnet], said when it runs), every method, a table",
    )
    d.add_argument(
        "--out", default="runs/demo", metavar="DIR", help="folder for the runs (default: runs/demo)"
    )
    d.add_argument("--quick", action="store_true", help="fewer steps (for tests)")
    d.set_defaults(func=cmd_demo)


def add_table(sub: Any) -> None:
    """Add ``ssft table``."""
    tb = sub.add_parser("table", help="mean ± std table of every results.json below a folder")
    tb.add_argument("root", help="folder searched recursively for results.json files")
    tb.set_defaults(func=cmd_table)


def add_report(sub: Any) -> None:
    """Add ``ssft report``."""
    rp = sub.add_parser("report", help="HTML + Markdown report with tables and figures of a folder of runs")
    rp.add_argument("runs", help="folder searched recursively for run directories (results.json)")
    rp.add_argument("--out", "-o", required=True, metavar="DIR", help="folder to write the report into")
    rp.add_argument(
        "--confusion", action="store_true", help="also a confusion matrix per run (reloads each run's model)"
    )
    rp.add_argument("--no-figures", action="store_true", help="tables only (no matplotlib needed)")
    rp.set_defaults(func=cmd_report)


def add_show_data(sub: Any) -> None:
    """Add ``ssft show-data``."""
    s = sub.add_parser("show-data", help="write a grid of samples as the model sees them")
    add_config_args(s)
    s.add_argument("--out", required=True, help="PNG to write")
    s.add_argument("--n", type=int, default=32, help="number of samples")
    s.set_defaults(func=cmd_show_data)
