"""``ssft predict``: a finished run's classes for a folder of images or a CSV of texts or paths."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any


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


def add_predict(sub: Any) -> None:
    """Add ``ssft predict``."""
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
