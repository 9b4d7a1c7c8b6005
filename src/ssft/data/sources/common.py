"""Helpers the dataset sources share: ``data.root``, downloads, missing-file errors, bad images."""

from __future__ import annotations

import re
import shutil
import urllib.error
import urllib.request
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssft.data.base import read_image
from ssft.data.paths import resolve_data_path, where_looked
from ssft.errors import DataError

DIGIT_CLASSES = [str(i) for i in range(10)]
INT_RE = re.compile(r"^[+-]?\d+$")


def data_root(cfg: Any, name: str, *, create: bool = False) -> Path:
    """``data.root`` as a Path; a DataError says which key to set when it is missing."""
    if not cfg.root:
        raise DataError(f"dataset {name!r} needs data.root: set data.root=<folder holding the {name} files>")
    root = resolve_data_path(cfg.root)
    if create and cfg.download:
        root.mkdir(parents=True, exist_ok=True)
    return root


def download(urls: Sequence[str], dest: Path) -> Path:
    """Fetch the first URL that works into ``dest`` (atomically); a DataError names the cause."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    causes = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as f:
                shutil.copyfileobj(resp, f)
            tmp.replace(dest)
            return dest
        except (urllib.error.URLError, OSError, ValueError) as e:
            causes.append(f"{url}: {getattr(e, 'reason', None) or e}")
            tmp.unlink(missing_ok=True)
    raise DataError(
        f"could not download {dest.name} ({'; '.join(causes)}); the machine may be offline or the "
        f"mirror down: fetch {urls[0]} by hand and put it in {dest.parent} (data.root), "
        "or set data.download=false and point data.root at a folder that has the files"
    )


def missing_files(name: str, root: Path, files: Sequence[str], url: str) -> DataError:
    where = f"data.root={root}" + (
        "" if root.is_dir() else f" (no such folder; looked in {where_looked(root)})"
    )
    return DataError(
        f"{name}: no {' / '.join(files)} in {where}; put the files there (from {url}) "
        "or set data.download=true to fetch them"
    )


def first_existing(root: Path, names: Sequence[str]) -> Path | None:
    for n in names:
        if (root / n).is_file():
            return root / n
    return None


def drop_bad_images(
    paths: list[Path], labels: list[int]
) -> tuple[list[Path], list[int], list[tuple[str, str]]]:
    """Decode every file; keep the good ones, list the bad ones with the reason."""
    keep_p, keep_l, bad = [], [], []
    for p, y in zip(paths, labels, strict=True):
        try:
            read_image(p)
        except DataError as e:
            bad.append((str(p), str(e)))
            continue
        keep_p.append(p)
        keep_l.append(y)
    if bad:
        shown = ", ".join(b[0] for b in bad[:5]) + (" ..." if len(bad) > 5 else "")
        warnings.warn(f"data.skip_bad: dropped {len(bad)} unreadable file(s): {shown}", stacklevel=3)
    return keep_p, keep_l, bad
