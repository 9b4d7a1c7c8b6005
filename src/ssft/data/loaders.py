"""Dataset loaders, one per source format, registered in :data:`~ssft.data.base.DATASETS`.

Each loader takes a :class:`~ssft.config.DataConfig` and returns a :class:`~ssft.data.base.Dataset`.
Nothing is fetched from the network unless ``data.download=true``; a missing file is a
:class:`~ssft.errors.DataError` that names it and says where to put it.
"""

from __future__ import annotations

import csv
import gzip
import pickle
import re
import shutil
import tarfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ssft.data.base import DATASETS, UNLABELED, ArrayImages, Dataset, FileImages, Part, read_image
from ssft.data.paths import resolve_data_path, where_looked
from ssft.data.stripes import WHITE, YELLOW, add_stripes
from ssft.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
DIGIT_CLASSES = [str(i) for i in range(10)]

# --------------------------------------------------------------------------------------------
# Shared helpers.


def _root(cfg: Any, name: str, *, create: bool = False) -> Path:
    """``data.root`` as a Path; a DataError says which key to set when it is missing."""
    if not cfg.root:
        raise DataError(f"dataset {name!r} needs data.root: set data.root=<folder holding the {name} files>")
    root = resolve_data_path(cfg.root)
    if create and cfg.download:
        root.mkdir(parents=True, exist_ok=True)
    return root


def _download(urls: Sequence[str], dest: Path) -> Path:
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


def _missing(name: str, root: Path, files: Sequence[str], url: str) -> DataError:
    where = f"data.root={root}" + (
        "" if root.is_dir() else f" (no such folder; looked in {where_looked(root)})"
    )
    return DataError(
        f"{name}: no {' / '.join(files)} in {where}; put the files there (from {url}) "
        "or set data.download=true to fetch them"
    )


def _first_existing(root: Path, names: Sequence[str]) -> Path | None:
    for n in names:
        if (root / n).is_file():
            return root / n
    return None


# --------------------------------------------------------------------------------------------
# digits (bundled with scikit-learn, offline).


@DATASETS.register("digits", help="scikit-learn's 1,797 8x8 handwritten digits (offline, one split)")
def load_digits(cfg: Any) -> Dataset:
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    # Pixel values are counts 0..16 of an 4x4 block; scale to the uint8 range.
    images = np.rint(np.asarray(d.images, dtype=np.float64) * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return Dataset("digits", "image", list(DIGIT_CLASSES), Part(ArrayImages(images), d.target))


# --------------------------------------------------------------------------------------------
# MNIST (IDX files) and the striped variants.

MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_IDX_IMAGES, _IDX_LABELS = 2051, 2049


def read_idx(path: Path, *, images: bool) -> np.ndarray:
    """Read an IDX file (raw or .gz): uint8 images ``(N, H, W)`` or labels ``(N,)``.

    The magic number and the size announced in the header are checked; a truncated or foreign file
    is a DataError naming it.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(
            f"cannot read {path} ({e}); the file is truncated or corrupt: delete it and download it again"
        ) from None
    kind = "images" if images else "labels"
    magic_expected = _IDX_IMAGES if images else _IDX_LABELS
    head = 16 if images else 8
    if len(data) < head:
        raise DataError(f"{path} is {len(data)} bytes, too short for an IDX {kind} header; download it again")
    magic = int.from_bytes(data[0:4], "big")
    if magic != magic_expected:
        raise DataError(
            f"{path} is not an IDX {kind} file (magic number {magic:#010x}, expected {magic_expected:#010x}); "
            "check that the images and labels files are not swapped or replace the file"
        )
    n = int.from_bytes(data[4:8], "big")
    shape: tuple[int, ...] = (n,)
    if images:
        shape = (n, int.from_bytes(data[8:12], "big"), int.from_bytes(data[12:16], "big"))
    size = int(np.prod(shape))
    if len(data) - head != size:
        raise DataError(
            f"{path} holds {len(data) - head} bytes of {kind} but its header announces {shape} = {size}; "
            "the file is truncated or corrupt: delete it and download it again"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=head).reshape(shape).copy()


def _mnist_files(root: Path, prefix: str) -> tuple[Path | None, Path | None]:
    def find(kind: str) -> Path | None:
        base = f"{prefix}-{kind}"
        # The official names, gzipped or not, and the common `train-images.idx3-ubyte` variant.
        names = [f"{base}-ubyte", f"{base}-ubyte.gz", f"{prefix}-{kind.replace('-idx', '.idx')}-ubyte"]
        return _first_existing(root, names)

    return find("images-idx3"), find("labels-idx1")


def _mnist_part(root: Path, prefix: str) -> Part | None:
    img, lab = _mnist_files(root, prefix)
    if img is None and lab is None:
        return None
    if img is None or lab is None:
        have, miss = (img, "labels") if img is not None else (lab, "images")
        raise DataError(
            f"{have} has no matching {prefix} {miss} file in {root}; "
            f"put {prefix}-{miss}-idx{3 if miss == 'images' else 1}-ubyte.gz next to it"
        )
    x = read_idx(img, images=True)
    y = read_idx(lab, images=False)
    if len(x) != len(y):
        raise DataError(f"{img} has {len(x)} images but {lab} has {len(y)} labels; one of them is wrong")
    return Part(ArrayImages(x), y)


def _mnist_download(root: Path) -> None:
    for prefix in ("train", "t10k"):
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{prefix}-{kind}-ubyte.gz"
            if not (root / name).is_file() and not (root / name[:-3]).is_file():
                _download([m + name for m in MNIST_MIRRORS], root / name)


def _load_mnist_parts(cfg: Any, name: str) -> tuple[Part, Part | None]:
    root = _root(cfg, name, create=True)
    train, test = _mnist_part(root, "train"), _mnist_part(root, "t10k")
    if train is None and test is None:
        if not cfg.download:
            raise _missing(
                name, root, ["train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"], MNIST_MIRRORS[0]
            )
        _mnist_download(root)
        train, test = _mnist_part(root, "train"), _mnist_part(root, "t10k")
    if train is None:
        # Only the 10k test set is there (as in ../shared/data): one split, a test part is held out.
        assert test is not None
        return test, None
    return train, test


@DATASETS.register("mnist", help="MNIST IDX files in data.root (t10k only = one split); data.download")
def load_mnist(cfg: Any) -> Dataset:
    train, test = _load_mnist_parts(cfg, "mnist")
    return Dataset("mnist", "image", list(DIGIT_CLASSES), train, test)


def _striped(cfg: Any, name: str, color: tuple[int, int, int]) -> Dataset:
    train, test = _load_mnist_parts(cfg, name)
    parts = [p for p in (train, test) if p is not None]
    arrays = [p.inputs.array for p in parts]  # type: ignore[union-attr]
    # One parameter draw over train then test: image i gets the same stripes in both colours.
    rgb = add_stripes(np.concatenate(arrays), cfg.stripes_seed, color)
    n_train = len(train)
    new_train = Part(ArrayImages(rgb[:n_train]), train.labels)
    new_test = Part(ArrayImages(rgb[n_train:]), test.labels) if test is not None else None
    return Dataset(
        name, "image", list(DIGIT_CLASSES), new_train, new_test, {"stripes_seed": cfg.stripes_seed}
    )


@DATASETS.register("mnist_stripes_white", help="MNIST with white stripes (data.stripes_seed), as mnist")
def load_mnist_stripes_white(cfg: Any) -> Dataset:
    return _striped(cfg, "mnist_stripes_white", WHITE)


@DATASETS.register("mnist_stripes_yellow", help="MNIST with yellow stripes, aligned with the white ones")
def load_mnist_stripes_yellow(cfg: Any) -> Dataset:
    return _striped(cfg, "mnist_stripes_yellow", YELLOW)


# --------------------------------------------------------------------------------------------
# CIFAR-10 (python pickle batches).

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
_CIFAR_DIR = "cifar-10-batches-py"


def _cifar_dir(root: Path) -> Path | None:
    for d in (root / _CIFAR_DIR, root):
        if (d / "test_batch").is_file() or (d / "data_batch_1").is_file():
            return d
    return None


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            # Only the known batch files of the official archive are unpickled.
            d = pickle.load(f, encoding="bytes")
        data = np.asarray(d[b"data"], dtype=np.uint8)
        labels = np.asarray(d[b"labels"], dtype=np.int64)
        images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, ValueError, TypeError) as e:
        raise DataError(
            f"cannot read CIFAR-10 batch {path} ({type(e).__name__}: {e}); the file is corrupt or "
            "not a python-version batch: delete the folder and download it again"
        ) from None
    if len(images) != len(labels):
        raise DataError(f"{path}: {len(images)} images but {len(labels)} labels; download it again")
    return np.ascontiguousarray(images), labels


@DATASETS.register(
    "cifar10", help="CIFAR-10 python batches (cifar-10-batches-py) in data.root; data.download"
)
def load_cifar10(cfg: Any) -> Dataset:
    root = _root(cfg, "cifar10", create=True)
    d = _cifar_dir(root)
    if d is None:
        if not cfg.download:
            raise _missing("cifar10", root, [f"{_CIFAR_DIR}/data_batch_1..5, test_batch"], CIFAR10_URL)
        archive = _download([CIFAR10_URL], root / "cifar-10-python.tar.gz")
        try:
            with tarfile.open(archive) as tar:
                members = [m for m in tar.getmembers() if m.name.startswith(_CIFAR_DIR + "/") and m.isfile()]
                members = [m for m in members if ".." not in Path(m.name).parts]
                # Members are filtered above; the "data" filter (Python >= 3.11.4) also refuses links out.
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(root, members=members, **safe)  # type: ignore[arg-type]
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DataError(f"cannot unpack {archive} ({e}); delete it and download it again") from None
        d = _cifar_dir(root)
        if d is None:
            raise DataError(f"{archive} did not contain {_CIFAR_DIR}/; delete it and download it again")
    train_files = [d / f"data_batch_{i}" for i in range(1, 6) if (d / f"data_batch_{i}").is_file()]
    classes = list(CIFAR10_CLASSES)
    meta = d / "batches.meta"
    if meta.is_file():
        try:
            with open(meta, "rb") as f:
                names = pickle.load(f, encoding="bytes")[b"label_names"]
            classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, AttributeError):
            classes = list(CIFAR10_CLASSES)
    parts: list[Part | None] = []
    for files in (train_files, [d / "test_batch"] if (d / "test_batch").is_file() else []):
        if not files:
            parts.append(None)
            continue
        xs, ys = zip(*(_read_cifar_batch(p) for p in files), strict=True)
        parts.append(Part(ArrayImages(np.concatenate(xs)), np.concatenate(ys)))
    train, test = parts
    if train is None:
        train, test = test, None
    assert train is not None
    return Dataset("cifar10", "image", classes, train, test)


# --------------------------------------------------------------------------------------------
# SVHN (cropped digits, .mat).

SVHN_URL = "http://ufldl.stanford.edu/housenumbers/"


def _read_svhn(path: Path) -> Part:
    from scipy.io import loadmat

    try:
        m = loadmat(path)
        x = np.asarray(m["X"])
        y = np.asarray(m["y"]).reshape(-1).astype(np.int64)
    except (OSError, ValueError, KeyError, TypeError, NotImplementedError) as e:
        raise DataError(
            f"cannot read SVHN file {path} ({type(e).__name__}: {e}); it is corrupt or not the cropped-digits "
            "format (X: 32x32x3xN, y: N): download it again"
        ) from None
    if x.ndim != 4 or x.shape[2] != 3 or x.shape[3] != y.size:
        raise DataError(
            f"{path}: X has shape {x.shape} and y {y.size} labels; expected X (32, 32, 3, N), y (N,)"
        )
    y[y == 10] = 0  # SVHN stores the digit 0 as class 10
    images = np.ascontiguousarray(x.transpose(3, 0, 1, 2)).astype(np.uint8, copy=False)
    return Part(ArrayImages(images), y)


@DATASETS.register("svhn", help="SVHN cropped digits train_32x32.mat / test_32x32.mat in data.root")
def load_svhn(cfg: Any) -> Dataset:
    root = _root(cfg, "svhn", create=True)
    names = ("train_32x32.mat", "test_32x32.mat")
    if not any((root / n).is_file() for n in names):
        if not cfg.download:
            raise _missing("svhn", root, names, SVHN_URL)
        for n in names:
            _download([SVHN_URL + n], root / n)
    train, test = (_read_svhn(root / n) if (root / n).is_file() else None for n in names)
    if train is None:
        train, test = test, None
    assert train is not None
    return Dataset("svhn", "image", list(DIGIT_CLASSES), train, test)


# --------------------------------------------------------------------------------------------
# GalaxyMNIST (HDF5).

GALAXY_MIRROR = "http://www.jb.man.ac.uk/research/MiraBest/MiraBest_F/"
GALAXY_CLASSES = ["smooth_round", "smooth_cigar", "edge_on_disk", "unbarred_spiral"]


def _galaxy_file(root: Path, split: str) -> Path | None:
    for d in (root, root / "GalaxyMNIST" / "raw"):
        p = d / f"{split}_dataset.hdf5"
        if p.is_file():
            return p
        gz = d / f"{split}_dataset.hdf5.gz"
        if gz.is_file():
            try:
                with gzip.open(gz, "rb") as src, open(p.with_suffix(".hdf5.part"), "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (OSError, EOFError) as e:
                raise DataError(f"cannot decompress {gz} ({e}); delete it and download it again") from None
            p.with_suffix(".hdf5.part").replace(p)
            return p
    return None


def _read_galaxy(path: Path) -> Part:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            x = np.asarray(f["images"][:])
            y = np.asarray(f["labels"][:]).reshape(-1).astype(np.int64)
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise DataError(
            f"cannot read GalaxyMNIST file {path} ({type(e).__name__}: {e}); it needs datasets 'images' "
            "(N, H, W, 3) uint8 and 'labels' (N,): download it again"
        ) from None
    if x.ndim != 4 or x.shape[0] != y.size:
        raise DataError(
            f"{path}: images {x.shape} and {y.size} labels; expected images (N, H, W, 3), labels (N,)"
        )
    if x.shape[-1] != 3 and x.shape[1] == 3:
        x = x.transpose(0, 2, 3, 1)  # tolerate NCHW
    return Part(ArrayImages(np.ascontiguousarray(x).astype(np.uint8, copy=False)), y)


@DATASETS.register("galaxy_mnist", help="GalaxyMNIST 64x64 HDF5 (train/test_dataset.hdf5) in data.root")
def load_galaxy_mnist(cfg: Any) -> Dataset:
    root = _root(cfg, "galaxy_mnist", create=True)
    files = {s: _galaxy_file(root, s) for s in ("train", "test")}
    if all(v is None for v in files.values()):
        if not cfg.download:
            raise _missing("galaxy_mnist", root, ["train_dataset.hdf5", "test_dataset.hdf5"], GALAXY_MIRROR)
        for s in ("train", "test"):
            _download([f"{GALAXY_MIRROR}{s}_dataset.hdf5.gz"], root / f"{s}_dataset.hdf5.gz")
        files = {s: _galaxy_file(root, s) for s in ("train", "test")}
    train = _read_galaxy(files["train"]) if files["train"] else None
    test = _read_galaxy(files["test"]) if files["test"] else None
    if train is None:
        train, test = test, None
    assert train is not None
    return Dataset("galaxy_mnist", "image", list(GALAXY_CLASSES), train, test)


# --------------------------------------------------------------------------------------------
# A folder of images, one sub-folder per class.


def _image_files(folder: Path) -> list[Path]:
    """Image files below ``folder`` (recursive, sorted, hidden files skipped)."""
    out = []
    for p in folder.rglob("*"):
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file():
            rel = p.relative_to(folder).parts
            if not any(part.startswith(".") for part in rel):
                out.append(p)
    return sorted(out)


def _drop_bad(paths: list[Path], labels: list[int]) -> tuple[list[Path], list[int], list[tuple[str, str]]]:
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


@DATASETS.register(
    "imagefolder", help="data.root/<class>/*.png|jpg...; data.unlabeled_dir = unlabelled images"
)
def load_imagefolder(cfg: Any) -> Dataset:
    root = _root(cfg, "imagefolder")
    if not root.is_dir():
        raise DataError(
            f"data.root={root} is not a folder (looked in {where_looked(root)}); "
            "point it at a folder with one sub-folder per class"
        )
    unl = resolve_data_path(cfg.unlabeled_dir) if cfg.unlabeled_dir else None
    unl_res = unl.resolve() if unl is not None else None
    class_dirs = sorted(
        d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and d.resolve() != unl_res
    )
    if not class_dirs:
        raise DataError(
            f"data.root={root} has no class sub-folders; put the images of each class in "
            f"{root}/<class name>/ (extensions {', '.join(IMAGE_EXTENSIONS)})"
        )
    paths: list[Path] = []
    labels: list[int] = []
    empty = []
    for c, d in enumerate(class_dirs):
        files = _image_files(d)
        if not files:
            empty.append(d.name)
        paths += files
        labels += [c] * len(files)
    if empty:
        raise DataError(
            f"class folder(s) {', '.join(empty)} in {root} hold no image "
            f"({', '.join(IMAGE_EXTENSIONS)}); add images or remove the folder(s)"
        )
    if unl is not None:
        if not unl.is_dir():
            raise DataError(f"data.unlabeled_dir={unl} is not a folder; fix the path or unset it")
        files = _image_files(unl)
        if not files:
            raise DataError(f"data.unlabeled_dir={unl} holds no image ({', '.join(IMAGE_EXTENSIONS)})")
        paths += files
        labels += [UNLABELED] * len(files)
    extra: dict[str, Any] = {}
    if cfg.skip_bad:
        paths, labels, extra["bad_files"] = _drop_bad(paths, labels)
        present = set(labels)
        gone = [d.name for c, d in enumerate(class_dirs) if c not in present]
        if gone:
            raise DataError(
                f"every image of class folder(s) {', '.join(gone)} is unreadable; fix or remove them"
            )
    return Dataset(
        "imagefolder",
        "image",
        [d.name for d in class_dirs],
        Part(FileImages(paths), np.asarray(labels, dtype=np.int64)),
        None,
        extra,
    )


# --------------------------------------------------------------------------------------------
# A CSV file of texts or image paths with an optional label column.

_INT_RE = re.compile(r"^[+-]?\d+$")


def _read_csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and data rows (blank lines skipped); UTF-8, a BOM is tolerated."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise DataError(
            f"CSV file {path} does not exist (looked in {where_looked(path)}); fix data.path"
        ) from None
    except IsADirectoryError:
        raise DataError(f"data.path={path} is a folder; point it at a CSV file") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text ({e}); save the CSV as UTF-8") from None
    except (csv.Error, OSError) as e:
        raise DataError(f"cannot parse CSV {path} ({e}); check its quoting or save it again") from None
    if not rows:
        raise DataError(f"CSV file {path} is empty; it needs a header row naming the columns")
    return rows[0], [r for r in rows[1:] if r]


def parse_labels(cells: Sequence[str], what: str) -> tuple[np.ndarray, list[str]]:
    """Label cells -> (labels int64 with -1 for empty, class names).

    Either every non-empty cell is an integer 0..K-1 (K = the number of distinct values, so
    every class has an example) or every one is a class name (classes = sorted unique names).
    ``what`` names the source in error messages; cells are numbered from data row 1.
    """
    vals = [c.strip() for c in cells]
    filled = [(i, v) for i, v in enumerate(vals) if v]
    ints = [(i, v) for i, v in filled if _INT_RE.match(v)]
    labels = np.full(len(vals), UNLABELED, dtype=np.int64)
    if ints and len(ints) < len(filled):
        i, v = next((i, v) for i, v in filled if not _INT_RE.match(v))
        raise DataError(
            f"{what}: label {v!r} in data row {i + 1} is not an integer, but other labels are; use "
            "integers 0..K-1 everywhere or class names everywhere (empty = unlabelled)"
        )
    if ints:
        nums = [(i, int(v)) for i, v in ints]
        k = len({n for _, n in nums})
        for i, n in nums:
            if n < 0 or n >= k:
                hint = " (labels look 1-based: subtract 1)" if min(m for _, m in nums) == 1 else ""
                raise DataError(
                    f"{what}: label {n} in data row {i + 1} is out of range; with {k} distinct integer "
                    f"labels they must be 0..{k - 1}{hint}; renumber them or use class names "
                    "(leave the cell empty for unlabelled)"
                )
            labels[i] = n
        return labels, [str(c) for c in range(k)]
    classes = sorted({v for _, v in filled})
    index = {c: j for j, c in enumerate(classes)}
    for i, v in filled:
        labels[i] = index[v]
    return labels, classes


def _column(header: list[str], name: str, key: str, path: Path) -> int:
    stripped = [h.strip() for h in header]
    if name not in header and name.strip() not in stripped:
        raise DataError(
            f"{path} has no column {name!r} ({key}); its columns are: {', '.join(repr(h) for h in header)}"
        )
    return header.index(name) if name in header else stripped.index(name.strip())


def _csv_test_rows(cfg: Any, header: list[str], in_name: str, in_key: str) -> list[tuple[str, str]]:
    """``data.test_path``: (input, label) rows of the separate test CSV; every row must be labelled."""
    if not cfg.test_path:
        return []
    tpath = resolve_data_path(cfg.test_path)
    theader, trows = _read_csv_rows(tpath)
    ci = _column(theader, in_name, in_key, tpath)
    li = _column(theader, cfg.label_column, "data.label_column", tpath)
    out = []
    for r, row in enumerate(trows, start=1):
        if len(row) <= max(ci, li):
            raise DataError(
                f"{tpath}: data row {r} has {len(row)} field(s) but the header has {len(theader)}; "
                "fix the row (quote fields holding commas or newlines)"
            )
        if not row[li].strip():
            raise DataError(
                f"{tpath}: data row {r} has no label; every row of data.test_path must be labelled "
                "(unlabelled rows belong in data.path)"
            )
        out.append((row[ci], row[li]))
    if not out:
        raise DataError(f"{tpath} (data.test_path) has no data row; give it labelled test rows")
    return out


@DATASETS.register("csv", help="data.path CSV: data.text_column or data.image_column + data.label_column")
def load_csv(cfg: Any) -> Dataset:
    if not cfg.path:
        raise DataError("dataset 'csv' needs data.path: set data.path=<file.csv>")
    if bool(cfg.text_column) == bool(cfg.image_column):
        raise DataError(
            "dataset 'csv' needs exactly one of data.text_column (texts) or data.image_column (image paths); "
            f"got text_column={cfg.text_column!r}, image_column={cfg.image_column!r}"
        )
    path = resolve_data_path(cfg.path)
    header, rows = _read_csv_rows(path)
    in_key, in_name = (
        ("data.text_column", cfg.text_column) if cfg.text_column else ("data.image_column", cfg.image_column)
    )
    ci = _column(header, in_name, in_key, path)
    li = _column(header, cfg.label_column, "data.label_column", path)
    for r, row in enumerate(rows, start=1):
        if len(row) <= max(ci, li):
            raise DataError(
                f"{path}: data row {r} has {len(row)} field(s) but the header has {len(header)}; "
                "fix the row (quote fields holding commas or newlines)"
            )
    values = [row[ci] for row in rows]
    test_rows = _csv_test_rows(cfg, header, in_name, in_key)
    cells = [row[li] for row in rows] + [row[1] for row in test_rows]
    all_labels, classes = parse_labels(cells, str(path))
    labels = all_labels[: len(rows)]
    if not classes:
        raise DataError(
            f"{path}: column {cfg.label_column!r} has no label at all; label at least one row per class"
        )
    test = None
    if test_rows:
        if cfg.image_column:
            raise DataError(
                "data.test_path works with text CSVs (data.text_column); for image paths, keep one CSV "
                "and let data.holdout hold the test part out"
            )
        test = Part([row[0] for row in test_rows], all_labels[len(rows) :])
    if cfg.text_column:
        return Dataset("csv", "text", classes, Part(list(values), labels), test)

    base = path.parent
    paths: list[Path] = []
    keep: list[int] = []
    bad: list[tuple[str, str]] = []
    for r, v in enumerate(values, start=1):
        v = v.strip()
        if not v:
            raise DataError(
                f"{path}: data row {r} has an empty {cfg.image_column!r} cell; give an image path"
            )
        p = Path(v).expanduser()
        p = p if p.is_absolute() else base / p
        if not p.is_file():
            if cfg.skip_bad:
                bad.append((str(p), f"data row {r}: file does not exist"))
                continue
            raise DataError(
                f"{path}: data row {r} names image {v!r}, but {p} does not exist; paths are relative to "
                "the CSV's folder: fix the path, or pass data.skip_bad=true to drop such rows"
            )
        paths.append(p)
        keep.append(r - 1)
    seen: dict[Path, int] = {}
    dups = []
    for p in paths:
        key = p.resolve()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 2:
            dups.append(str(p))
    if dups:
        warnings.warn(
            f"{path}: {len(dups)} image file(s) appear more than once (e.g. {', '.join(dups[:5])}); "
            "duplicates can leak between the labelled, unlabelled and test parts",
            stacklevel=2,
        )
    kept_labels = [int(labels[i]) for i in keep]
    extra: dict[str, Any] = {}
    if cfg.skip_bad:
        paths, kept_labels, decoded_bad = _drop_bad(paths, kept_labels)
        extra["bad_files"] = bad + decoded_bad
    return Dataset(
        "csv", "image", classes, Part(FileImages(paths), np.asarray(kept_labels, dtype=np.int64)), None, extra
    )


# --------------------------------------------------------------------------------------------
# AG News (Class Index, Title, Description).

AG_NEWS_CLASSES = ["World", "Sports", "Business", "Sci/Tech"]


def _read_ag_news(path: Path) -> Part:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"cannot read AG News file {path} ({e}); download it again") from None
    if rows and not _INT_RE.match(rows[0][0].strip()):
        rows = rows[1:]  # the header `Class Index,Title,Description` (absent in the official files)
    texts, labels = [], []
    for r, row in enumerate(rows, start=1):
        if len(row) < 3 or not _INT_RE.match(row[0].strip()) or not 1 <= int(row[0]) <= 4:
            raise DataError(
                f"{path}: data row {r} ({row[:1]!r}...) is not `class index 1-4, title, description`; "
                "fix or delete the row"
            )
        labels.append(int(row[0]) - 1)
        title, desc = row[1].strip(), row[2].strip()
        texts.append(f"{title}. {desc}" if title else desc)
    if not texts:
        raise DataError(f"AG News file {path} has no data row")
    return Part(texts, np.asarray(labels, dtype=np.int64))


@DATASETS.register("ag_news", help="AG News test.csv (and train.csv) in data.root; text, 4 classes")
def load_ag_news(cfg: Any) -> Dataset:
    root = _root(cfg, "ag_news")
    train_p, test_p = root / "train.csv", root / "test.csv"
    if not test_p.is_file() and not train_p.is_file():
        raise DataError(
            f"ag_news: no train.csv / test.csv in data.root={root}"
            f"{'' if root.is_dir() else f' (no such folder; looked in {where_looked(root)})'}; "
            "put the AG News CSV files there "
            "(columns: class index 1-4, title, description)"
        )
    test = _read_ag_news(test_p) if test_p.is_file() else None
    if train_p.is_file():
        return Dataset("ag_news", "text", list(AG_NEWS_CLASSES), _read_ag_news(train_p), test)
    assert test is not None
    return Dataset("ag_news", "text", list(AG_NEWS_CLASSES), test, None)
