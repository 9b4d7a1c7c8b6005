"""``ssft`` command line: a thin layer over :mod:`ssft.api`.

Every refusal is one line on stderr (``error: ...``) and exit status 2; an interrupted run exits
with 130 after writing its checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssft.cli_common import add_config_args, config_from_args
from ssft.errors import SsftError


def cmd_config(args: argparse.Namespace) -> int:
    from ssft.config import describe, dump_yaml

    if args.reference:
        from ssft.config import method_config_class

        rows = describe()
        if args.method:
            shared = {key for key, _, _ in rows}
            own = describe(method_config_class(args.method), "method.")
            rows += [r for r in own if r[0] not in shared]
        for key, default, helptext in rows:
            print(f"{key:<28} {default:<22} {helptext}")
        if not args.method:
            from ssft.sweep.launcher import reference

            print("\n(ssft sweep only: a grid preset's launcher: section, or --set launcher.KEY=VALUE)")
            for key, default, helptext in reference():
                print(f"{key:<28} {default:<22} {helptext}")
            print(
                "\n(method-specific keys: ssft config --reference --method NAME; ssft methods lists the names)"
            )
        return 0
    print(dump_yaml(config_from_args(args)), end="")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from ssft.config import preset_grid
    from ssft.report.tables import format_table
    from ssft.sweep.grid import parse_grid, sweep
    from ssft.sweep.launcher import launcher_config, split_overrides

    if args.status:
        from ssft.sweep.state import STATE_FILE, format_status, run_statuses

        if not (Path(args.status) / STATE_FILE).is_file():
            raise SsftError(f"{args.status} holds no sweep ({STATE_FILE} is missing); give the sweep's --out")
        print(format_status(Path(args.status), run_statuses(Path(args.status))))
        return 0
    if not args.out:
        raise SsftError("ssft sweep needs --out DIR (or --status DIR to show a sweep's progress)")
    seeds = [int(s) for s in args.seeds.split(",")]
    grid = {**preset_grid(args.config), **parse_grid(args.grid)}
    if not grid:
        raise SsftError("ssft sweep needs --grid KEY=V1,V2 (or a preset with a grid: section)")
    run_sets, launcher_sets = split_overrides(list(args.overrides))
    if args.runs_per_job is not None:
        launcher_sets.append(f"launcher.runs_per_job={args.runs_per_job}")
    launcher = launcher_config(args.config, launcher_sets, args.launcher)
    overrides = run_sets + (["data.skip_bad=true"] if args.skip_bad else [])
    if launcher.name == "submitit":
        from ssft.sweep.cluster import submit_sweep

        rows = submit_sweep(
            args.config,
            args.out,
            grid=grid,
            launcher=launcher,
            seeds=seeds,
            overrides=overrides,
            wait=not args.no_wait,
        )
        if rows is None:
            return 0
    else:
        if args.no_wait:
            raise SsftError("--no-wait is for scheduler jobs (--launcher submitit); a local sweep runs here")
        rows = sweep(args.config, args.out, grid=grid, seeds=seeds, overrides=overrides)
    table = format_table(rows)
    from ssft.report.failures import failed_runs, failures_markdown

    Path(args.out, "summary.md").write_text("\n".join([table, "", *failures_markdown(failed_runs(args.out))]))
    print(table)
    _sweep_report(Path(args.out))
    failed = sorted(p.parent.name for p in Path(args.out).glob("*/error.txt"))
    if failed:
        print(f"{len(failed)} run(s) failed (see their error.txt): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _sweep_report(out: Path) -> None:
    """The sweep's report (tables; figures when matplotlib is installed)."""
    import importlib.util

    from ssft.report.build import write_report

    figures = importlib.util.find_spec("matplotlib") is not None
    page = write_report(out, out / "report", figures=figures)
    note = "" if figures else " (tables only: pip install 'ssft[plots]' for the figures)"
    print(f"report: {page}{note}")


def _add_config(sub: Any) -> None:
    """Add ``ssft config``."""
    c = sub.add_parser("config", help="print the resolved config, or the reference of every key")
    add_config_args(c)
    c.add_argument("--reference", action="store_true", help="every key with its default and meaning")
    c.add_argument(
        "--method", metavar="NAME", help="with --reference: also list the keys of this method (ssft methods)"
    )
    c.set_defaults(func=cmd_config)


def _add_sweep(sub: Any) -> None:
    """Add ``ssft sweep``."""
    sw = sub.add_parser("sweep", help="a grid of overrides x seeds, one run each, resumable")
    add_config_args(sw)
    sw.add_argument(
        "--grid",
        "-g",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a swept key, e.g. --grid data.labels_per_class=1,4,10 (repeatable)",
    )
    sw.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (seed and data.split_seed)")
    sw.add_argument("--out", "-o", help="folder holding one run directory per point")
    sw.add_argument(
        "--launcher",
        choices=["local", "submitit", "submitit-local"],
        help="local: runs one after the other here (default); submitit: SLURM jobs; "
        "submitit-local: the same jobs as processes of this machine (launcher.* keys: "
        "ssft config --reference)",
    )
    sw.add_argument(
        "--runs-per-job", type=int, metavar="N", help="submitit: runs per job (launcher.runs_per_job)"
    )
    sw.add_argument(
        "--no-wait", action="store_true", help="submitit: submit the jobs and return (see --status)"
    )
    sw.add_argument(
        "--status",
        metavar="DIR",
        help="show the sweep in DIR: each run done, running, queued or failed (with its logs), and exit",
    )
    sw.set_defaults(func=cmd_sweep)


def build_parser() -> argparse.ArgumentParser:
    """The ``ssft`` parser; the subcommands appear in ``ssft --help`` in the order they are added."""
    from ssft import cli_fit, cli_lists, cli_predict, cli_report, cli_tune
    from ssft.cli_export import register as register_export
    from ssft.cli_suggest import register as register_suggest  # ssft suggest (its own file)
    from ssft.recommend import RECOMMENDATION
    from ssft.version import __version__

    p = argparse.ArgumentParser(
        prog="ssft",
        description="Semi-supervised fine-tuning of foundation models. " + RECOMMENDATION,
    )
    p.add_argument("--version", action="version", version=f"ssft {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    cli_fit.add_fit(sub)
    cli_fit.add_evaluate(sub)
    cli_predict.add_predict(sub)
    cli_report.add_demo(sub)
    cli_lists.add_lists(sub)
    _add_config(sub)
    cli_fit.add_extract(sub)
    cli_lists.add_cache(sub)
    _add_sweep(sub)
    cli_tune.add_tune(sub)
    cli_report.add_table(sub)
    cli_report.add_report(sub)
    cli_report.add_show_data(sub)
    register_export(sub)
    register_suggest(sub)
    return p


def _show_warning(
    message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    """Warnings as one plain line (``warning: ...``), without the source line Python adds."""
    print(f"warning: {message}", file=file or sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    args = build_parser().parse_args(argv)
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # `ssft presets | head -3`: the reader left; stop quietly, as other command-line tools do.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except SsftError as e:
        from ssft.errors import Interrupted

        print(f"error: {e}" if not isinstance(e, Interrupted) else f"interrupted: {e}", file=sys.stderr)
        return 130 if isinstance(e, Interrupted) else 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":
    sys.exit(main())
