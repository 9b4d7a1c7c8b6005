"""``ssft`` command line: a thin layer over :mod:`ssft.api`.

Every refusal is one line on stderr (``error: ...``) and exit status 2; an interrupted run exits
with 130 after writing its checkpoint.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssft.errors import SsftError


def _add_config_args(p: argparse.ArgumentParser) -> None:
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


def _config(args: argparse.Namespace) -> Any:
    from ssft.config import load_config

    overrides = list(args.overrides) + (["data.skip_bad=true"] if getattr(args, "skip_bad", False) else [])
    return load_config(args.config, overrides)


def cmd_fit(args: argparse.Namespace) -> int:
    from ssft.api import fit

    if args.resume:
        given = [f"--set {o}" for o in args.overrides]
        given += ["--config"] * bool(args.config) + ["--skip-bad"] * bool(args.skip_bad)
        if given:
            raise SsftError(
                f"ssft fit --resume continues {args.resume} with the config it was started with "
                f"({Path(args.resume) / 'config.yaml'}); {', '.join(given)} cannot change it. "
                "Drop them to resume, or start a new run with --out to use other settings"
            )
        result = fit(out=args.resume, resume=True)
    else:
        result = fit(_config(args), out=args.out)
    r = result.results
    if os.environ.get("RANK", "0") != "0":
        return 0  # under torchrun, rank 0 reports the run
    line = (
        f"test accuracy {r['test_accuracy']:.4f} ({r['method']}, k={r['labels_per_class']}, seed {r['seed']})"
    )
    if r.get("test_accuracy_interval95"):
        lo, hi = r["test_accuracy_interval95"]
        line += f"; 95 % interval [{lo:.4f}, {hi:.4f}] over {r['num_test']} test items"
    if r.get("val_selected_test_accuracy") is not None:
        line += f"; validation-selected {r['val_selected_test_accuracy']:.4f}"
    print(line)
    print(f"run directory: {result.run_dir}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ssft.api import load_run

    print(json.dumps(load_run(args.run, device=args.device).evaluate(), indent=2))
    return 0


def _read_predict_inputs(path: Path, column: str | None, modality: str) -> tuple[list[Any], list[str]]:
    from ssft.data.base import read_image  # noqa: F401  (images are decoded by Run.predict)
    from ssft.errors import DataError

    if path.is_dir():
        exts = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in exts)
        if not files:
            raise DataError(f"no image files in {path}")
        return [str(p) for p in files], [str(p) for p in files]
    if not path.is_file():
        raise DataError(f"input {path} does not exist (give a folder of images or a CSV file)")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise DataError(f"{path} has no rows")
    cols = list(rows[0])
    col = column or (
        "text" if modality == "text" and "text" in cols else "path" if "path" in cols else cols[0]
    )
    if col not in cols:
        raise DataError(
            f"column {col!r} not in {path}; columns: {', '.join(cols)} (choose one with --column)"
        )
    values = [r[col] for r in rows]
    if modality == "image":
        values = [str((path.parent / v).resolve()) if not Path(v).is_absolute() else v for v in values]
    return values, [r[col] for r in rows]


def cmd_predict(args: argparse.Namespace) -> int:
    from ssft.api import load_run
    from ssft.errors import DataError
    from ssft.predict_inputs import check_modality, for_predict

    run = load_run(args.run, device=args.device)
    modality = run.method.model.backbone.modality
    inputs, ids = _read_predict_inputs(Path(args.input), args.column, modality)
    check_modality(ids, modality, source=args.input, backbone=run.cfg.backbone.name)
    try:
        pred = run.predict(inputs, engine=args.engine)
    except DataError as e:
        raise for_predict(e) from None
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["input", "class", *[f"p_{c}" for c in pred.classes]])
        for i, name, probs in zip(ids, pred.names, pred.probabilities, strict=True):
            w.writerow([i, name, *[f"{p:.6f}" for p in probs]])
    print(f"wrote {len(ids)} predictions to {out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ssft.demo import run_demo

    seeds = (0,) if args.quick else (0, 1, 2)
    run_demo(Path(args.out), quick=args.quick, seeds=seeds)
    return 0


def _print_table(rows: dict[str, str]) -> None:
    width = max((len(k) for k in rows), default=0)
    for k, v in rows.items():
        print(f"  {k:<{width}}  {v}")


def cmd_backbones(args: argparse.Namespace) -> int:
    from ssft.backbones import available_backbones

    _print_table(available_backbones())
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from ssft.data import available_datasets

    _print_table(available_datasets())
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    import textwrap

    from ssft.methods import METHODS
    from ssft.recommend import RECOMMENDATION

    print(textwrap.fill(RECOMMENDATION, 100), end="\n\n")
    _print_table(METHODS.describe())
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    from ssft.config import load_source, preset_names

    for name in preset_names():
        data = load_source(name)
        desc = data.get("description", "")
        print(f"  {name:<28} {desc}")
    return 0


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
    print(dump_yaml(_config(args)), end="")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from ssft.train.extract import extract_for_config

    info = extract_for_config(_config(args))
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 reports
        print(json.dumps(info, indent=2))
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from ssft.features import default_cache_dir, list_caches, remove_cache

    root = Path(args.dir) if args.dir else default_cache_dir()
    if args.action == "ls":
        entries = list_caches(root)
        print(f"cache folder: {root} ({len(entries)} entries)")
        for e in entries:
            size = e.get("size", 0) / 2**20
            meta = e.get("meta") or {}
            state = "complete" if e.get("complete") else "partial"
            print(
                f"  {e['key']}  {size:9.1f} MiB  {state:<8}  {meta.get('backbone', '?')}  {meta.get('dataset', '?')}"
            )
        return 0
    if not args.keys:
        raise SsftError("ssft cache rm needs one or more keys (or prefixes); see ssft cache ls")
    for key in args.keys:
        for removed in remove_cache(key, root):
            print(f"removed {removed}")
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


def cmd_report(args: argparse.Namespace) -> int:
    from ssft.report.build import write_report

    page = write_report(args.runs, args.out, figures=not args.no_figures, confusion=args.confusion)
    print(f"wrote {page} and {page.parent / 'report.md'}")
    return 0


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


def cmd_table(args: argparse.Namespace) -> int:
    from ssft.report.tables import collect, format_table

    rows = collect(Path(args.root))
    if not rows:
        raise SsftError(f"no results.json below {args.root}")
    print(format_table(rows))
    return 0


def cmd_show_data(args: argparse.Namespace) -> int:
    from ssft.report.show_data import show_data

    path = show_data(_config(args), Path(args.out), n=args.n)
    print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    import ssft
    from ssft.recommend import RECOMMENDATION

    p = argparse.ArgumentParser(
        prog="ssft",
        description="Semi-supervised fine-tuning of foundation models. " + RECOMMENDATION,
    )
    p.add_argument("--version", action="version", version=f"ssft {ssft.__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    f = sub.add_parser("fit", help="train and evaluate one run")
    _add_config_args(f)
    target = f.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--out", "-o", metavar="DIR", help="run directory to create (required unless --resume)"
    )
    target.add_argument(
        "--resume", metavar="DIR", help="continue an interrupted run from its directory, with its own config"
    )
    f.set_defaults(func=cmd_fit)

    e = sub.add_parser("evaluate", help="recompute a run's test accuracy from its saved weights")
    e.add_argument("--run", required=True, metavar="DIR", help="a finished run directory")
    e.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="predict classes for a folder of images or a CSV file")
    pr.add_argument("--run", required=True, metavar="DIR", help="a finished run directory")
    pr.add_argument("--input", required=True, help="folder of images, or CSV with a path or text column")
    pr.add_argument("--column", help="CSV column holding the inputs")
    pr.add_argument("--out", required=True, help="CSV to write (input, class, p_<class>...)")
    pr.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    pr.add_argument(
        "--engine", choices=("torch", "onnx"), default="torch", help="onnx: onnxruntime (docs/export.md)"
    )
    pr.set_defaults(func=cmd_predict)

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

    for name, fn, text in (
        ("backbones", cmd_backbones, "list backbone names and presets"),
        ("datasets", cmd_datasets, "list datasets"),
        ("methods", cmd_methods, "list training methods"),
        ("presets", cmd_presets, "list config presets"),
    ):
        sub.add_parser(name, help=text).set_defaults(func=fn)

    c = sub.add_parser("config", help="print the resolved config, or the reference of every key")
    _add_config_args(c)
    c.add_argument("--reference", action="store_true", help="every key with its default and meaning")
    c.add_argument(
        "--method", metavar="NAME", help="with --reference: also list the keys of this method (ssft methods)"
    )
    c.set_defaults(func=cmd_config)

    x = sub.add_parser("extract", help="run the frozen backbone once and fill the feature cache")
    _add_config_args(x)
    x.set_defaults(func=cmd_extract)

    ca = sub.add_parser("cache", help="list or remove cached features")
    ca.add_argument("action", choices=["ls", "rm"], help="ls: list the entries; rm: remove some")
    ca.add_argument("keys", nargs="*", help="keys or key prefixes to remove")
    ca.add_argument("--dir", help="cache folder (default: $SSFT_CACHE or ~/.cache/ssft)")
    ca.set_defaults(func=cmd_cache)

    sw = sub.add_parser("sweep", help="a grid of overrides x seeds, one run each, resumable")
    _add_config_args(sw)
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

    tu = sub.add_parser(
        "tune", help="hyper-parameter search (Optuna TPE) on a dev split of the training pool, resumable"
    )
    _add_config_args(tu)
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

    tb = sub.add_parser("table", help="mean ± std table of every results.json below a folder")
    tb.add_argument("root", help="folder searched recursively for results.json files")
    tb.set_defaults(func=cmd_table)

    rp = sub.add_parser("report", help="HTML + Markdown report with tables and figures of a folder of runs")
    rp.add_argument("runs", help="folder searched recursively for run directories (results.json)")
    rp.add_argument("--out", "-o", required=True, metavar="DIR", help="folder to write the report into")
    rp.add_argument(
        "--confusion", action="store_true", help="also a confusion matrix per run (reloads each run's model)"
    )
    rp.add_argument("--no-figures", action="store_true", help="tables only (no matplotlib needed)")
    rp.set_defaults(func=cmd_report)

    s = sub.add_parser("show-data", help="write a grid of samples as the model sees them")
    _add_config_args(s)
    s.add_argument("--out", required=True, help="PNG to write")
    s.add_argument("--n", type=int, default=32, help="number of samples")
    s.set_defaults(func=cmd_show_data)
    from ssft.cli_export import register as register_export

    register_export(sub)
    from ssft.cli_suggest import register as register_suggest  # ssft suggest (its own file)

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
        from ssft.train.loop import Interrupted

        print(f"error: {e}" if not isinstance(e, Interrupted) else f"interrupted: {e}", file=sys.stderr)
        return 130 if isinstance(e, Interrupted) else 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":
    sys.exit(main())
