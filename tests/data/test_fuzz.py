"""Property tests: splits over any label vector, the CSV and imagefolder readers over any input.

Each reader either loads what was written or raises a DataError; never another exception.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from ssft.config import DataConfig
from ssft.data import load_dataset
from ssft.data.base import ArrayImages, Dataset, Part
from ssft.data.splits import few_label_split, make_split
from ssft.errors import DataError

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
IO = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------
# (a) splits


@st.composite
def label_vectors(draw):
    """(labels, K): any vector over -1..K-1, or one built from per-class counts (so splits succeed)."""
    k = draw(st.integers(1, 6))
    if draw(st.booleans()):
        labels = draw(st.lists(st.integers(-1, k - 1), min_size=0, max_size=200))
    else:
        counts = draw(st.lists(st.integers(0, 30), min_size=k, max_size=k))
        unlabeled = draw(st.integers(0, 20))
        y = np.repeat(np.arange(-1, k), [unlabeled, *counts])
        labels = np.random.default_rng(draw(st.integers(0, 1000))).permutation(y).tolist()
    return np.asarray(labels, dtype=np.int64), k


def _check_split(labels, num_classes, k, lab, val, ulb, pool):
    assert np.bincount(labels[lab], minlength=num_classes).tolist() == [k] * num_classes
    assert val.size == 0
    assert not set(lab.tolist()) & set(ulb.tolist())
    assert sorted(np.concatenate([lab, ulb]).tolist()) == sorted(pool.tolist())


@FAST
@given(label_vectors(), st.integers(1, 10), st.integers(0, 2**32 - 1))
def test_few_label_split_any_labels(lv, k, seed):
    labels, num_classes = lv
    pool = np.arange(labels.size)
    try:
        lab, val, ulb = few_label_split(labels, k, seed, num_classes=num_classes)
    except DataError as e:
        event("refused")
        # the only refusal: some class has fewer than k labelled items
        assert "labels_per_class" in str(e)
        assert np.bincount(labels[labels >= 0], minlength=num_classes).min() < k
        return
    _check_split(labels, num_classes, k, lab, val, ulb, pool)
    again = few_label_split(labels, k, seed, num_classes=num_classes)
    assert all(np.array_equal(a, b) for a, b in zip((lab, val, ulb), again, strict=True))
    # nested in k for one seed (splits.py guarantee)
    for k2 in range(1, k):
        lab2, _, _ = few_label_split(labels, k2, seed, num_classes=num_classes)
        assert set(lab2.tolist()) <= set(lab.tolist())


@FAST
@given(label_vectors(), st.integers(1, 10), st.integers(0, 2**16), st.booleans())
def test_make_split_any_labels(lv, k, seed, with_test):
    labels, num_classes = lv
    classes = [f"c{i}" for i in range(num_classes)]
    images = ArrayImages(np.zeros((labels.size, 2, 2), dtype=np.uint8))
    test = Part(ArrayImages(np.zeros((labels.size, 2, 2), dtype=np.uint8)), labels) if with_test else None
    ds = Dataset("fuzz", "image", classes, Part(images, labels), test)
    cfg = DataConfig(labels_per_class=k, split_seed=seed, holdout=0.25)
    try:
        split = make_split(ds, cfg)
    except DataError:
        event("refused")
        return
    lab, ulb, tst = split.labeled, split.unlabeled, split.test
    assert np.bincount(labels[lab], minlength=num_classes).tolist() == [k] * num_classes
    assert not set(lab.tolist()) & set(ulb.tolist())
    assert (labels[tst] >= 0).all() and tst.size > 0
    if split.test_source == "train":
        assert not with_test
        assert not (set(lab.tolist()) | set(ulb.tolist())) & set(tst.tolist())
    again = make_split(ds, cfg)
    assert np.array_equal(again.labeled, lab) and np.array_equal(again.test, tst)
    if k > 1:
        smaller = make_split(ds, DataConfig(labels_per_class=k - 1, split_seed=seed, holdout=0.25))
        assert set(smaller.labeled.tolist()) <= set(lab.tolist())
        assert np.array_equal(smaller.test, tst)


# --------------------------------------------------------------------------------------------
# (b) the CSV reader

_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(list(",\"\n\r\t ;'\\\ufeff")), st.characters(codec="utf-8")),
    max_size=30,
)
_NAME = st.text(
    alphabet=st.one_of(st.sampled_from(list('ab ,"\n')), st.characters(codec="utf-8")), max_size=6
)
_INT = st.integers(-2, 6).map(str)


@st.composite
def csv_rows(draw):
    mode = draw(st.sampled_from(["int", "name", "mixed"]))
    cell = {"int": _INT, "name": _NAME, "mixed": st.one_of(_INT, _NAME)}[mode]
    n = draw(st.integers(1, 25))
    texts = draw(st.lists(_TEXT, min_size=n, max_size=n))
    labels = draw(st.lists(st.one_of(st.just(""), cell), min_size=n, max_size=n))
    order = draw(st.permutations(["text", "label", "other"]))
    return texts, labels, list(order)


@IO
@given(csv_rows(), st.booleans())
def test_csv_reader_loads_what_was_written_or_refuses(rows, bom):
    texts, labels, order = rows
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(order)
    for t, y in zip(texts, labels, strict=True):
        cells = {"text": t, "label": y, "other": "x"}
        w.writerow([cells[c] for c in order])
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "data.csv"
        path.write_text(("\ufeff" if bom else "") + buf.getvalue(), encoding="utf-8", newline="")
        try:
            ds = load_dataset(DataConfig(name="csv", path=str(path), text_column="text"))
        except DataError as e:
            msg = str(e)
            event(
                "refused: "
                + next((r for r in ("not an integer", "out of range", "no label") if r in msg), msg)
            )
            return
    event("loaded")
    assert ds.train.inputs == texts
    for y_written, y in zip(labels, ds.train.labels.tolist(), strict=True):
        if not y_written.strip():
            assert y == -1
        elif (
            ds.classes == [str(i) for i in range(ds.num_classes)] and y_written.strip().lstrip("+-").isdigit()
        ):
            assert y == int(y_written.strip())
        else:
            assert ds.classes[y] == y_written.strip()


# --------------------------------------------------------------------------------------------
# (c) the imagefolder reader


def _png_bytes(a: np.ndarray, fmt: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(a).save(out, format=fmt)
    return out.getvalue()


@st.composite
def image_files(draw):
    kind = draw(st.sampled_from(["png", "jpeg", "bytes", "truncated", "png_header"]))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    shape = draw(st.sampled_from([(h, w), (h, w, 3), (h, w, 4)]))
    seed = draw(st.integers(0, 1000))
    a = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    if kind == "png":
        data = _png_bytes(a, "PNG")
    elif kind == "jpeg":
        data = _png_bytes(a[..., :3] if a.ndim == 3 else a, "JPEG")
    elif kind == "bytes":
        data = draw(st.binary(max_size=64))
    elif kind == "truncated":
        full = _png_bytes(a, "PNG")
        data = full[: draw(st.integers(0, len(full) - 1))]
    else:
        data = b"\x89PNG\r\n\x1a\n" + draw(st.binary(max_size=64))
    ext = draw(st.sampled_from([".png", ".PNG", ".jpg", ".gif", ".tif", ".webp", ".bmp"]))
    return data, ext


@pytest.mark.filterwarnings("ignore:data.skip_bad")
@IO
@given(
    st.lists(st.lists(image_files(), min_size=0, max_size=4), min_size=1, max_size=3),
    st.booleans(),
)
def test_imagefolder_reader_never_crashes(classes, skip_bad):
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for c, files in enumerate(classes):
            (root / f"class{c}").mkdir()
            for i, (data, ext) in enumerate(files):
                (root / f"class{c}" / f"f{i}{ext}").write_bytes(data)
        try:
            ds = load_dataset(DataConfig(name="imagefolder", root=str(root), skip_bad=skip_bad))
        except DataError:
            event("refused")
            return
        event("loaded")
        assert len(ds.train) <= sum(len(f) for f in classes)
        for i in range(len(ds.train)):
            try:
                a = ds.train.inputs[i]
            except DataError:
                assert not skip_bad  # skip_bad already dropped every unreadable file
                continue
            assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
