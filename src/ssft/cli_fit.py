"""``ssft fit``, ``ssft evaluate`` and ``ssft extract``: one run trained, re-evaluated, or its features cached."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from ssft.cli_common import add_config_args, config_from_args
from ssft.errors import SsftError


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
        result = fit(config_from_args(args), out=args.out)
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


def cmd_extract(args: argparse.Namespace) -> int:
    from ssft.run.extract import extract_for_config

    info = extract_for_config(config_from_args(args))
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 reports
        print(json.dumps(info, indent=2))
    return 0


def add_fit(sub: Any) -> None:
    """Add ``ssft fit``: exactly one of ``--out`` (a new run) and ``--resume``."""
    f = sub.add_parser("fit", help="train and evaluate one run")
    add_config_args(f)
    target = f.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--out", "-o", metavar="DIR", help="run directory to create (required unless --resume)"
    )
    target.add_argument(
        "--resume", metavar="DIR", help="continue an interrupted run from its directory, with its own config"
    )
    f.set_defaults(func=cmd_fit)


def add_evaluate(sub: Any) -> None:
    """Add ``ssft evaluate``."""
    e = sub.add_parser("evaluate", help="recompute a run's test accuracy from its saved weights")
    e.add_argument("--run", required=True, metavar="DIR", help="a finished run directory")
    e.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    e.set_defaults(func=cmd_evaluate)


def add_extract(sub: Any) -> None:
    """Add ``ssft extract``."""
    x = sub.add_parser("extract", help="run the frozen backbone once and fill the feature cache")
    add_config_args(x)
    x.set_defaults(func=cmd_extract)
