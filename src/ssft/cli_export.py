"""``ssft export RUN --format onnx|folder|safetensors --out PATH``: a finished run for deployment."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ssft.export.verify import TOLERANCE


def cmd_export(args: argparse.Namespace) -> int:
    from ssft.api import load_run

    run = load_run(args.run, device="cpu")
    if args.format == "safetensors":
        print(f"wrote {run.export(args.out)}")
        return 0
    if args.format == "folder":
        from ssft.export import export_folder

        folder = export_folder(run, args.out, items=args.items, tolerance=args.tolerance)
        check = json.loads((folder / "verification.json").read_text())
    else:
        from ssft.export import export_onnx, verify

        path = export_onnx(run, args.out)
        check = verify(run, path, items=args.items, tolerance=args.tolerance).as_dict()
    print(
        f"wrote {args.out}: onnxruntime matches ssft on {check['items']} test items "
        f"(max |diff| {check['max_abs_diff']:.2g} <= {check['tolerance']:g}, same class on {check['same_class']})"
    )
    return 0


def register(sub: Any) -> None:
    """Add the ``export`` subcommand to the CLI's subparsers."""
    ex = sub.add_parser(
        "export", help="export a finished run: ONNX graph, model folder with card, or safetensors"
    )
    ex.add_argument("run", metavar="RUN", help="a finished run directory")
    ex.add_argument(
        "--format",
        choices=("onnx", "folder", "safetensors"),
        default="folder",
        help="onnx: one verified graph file; folder: ONNX + weights + config + tokenizer + model card "
        "(Hugging Face layout); safetensors: the weights only (default: folder)",
    )
    ex.add_argument("--out", "-o", required=True, help="file (onnx, safetensors) or folder to write")
    ex.add_argument("--items", type=int, default=64, help="test items the export is checked on (default 64)")
    ex.add_argument(
        "--tolerance",
        type=float,
        default=TOLERANCE,
        help=f"largest probability difference from ssft accepted (default {TOLERANCE:g})",
    )
    ex.set_defaults(func=cmd_export)
