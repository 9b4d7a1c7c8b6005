"""Dataset loaders: real shared data, generated files in every supported format, clear errors."""

from __future__ import annotations

import gzip
import pickle
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ssft.config import DataConfig
from ssft.data import available_datasets, load_dataset
from ssft.data.base import FileImages
from ssft.data.sources.mnist import read_idx
from ssft.data.stripes import WHITE, YELLOW, add_stripes, stripe_mask, stripe_params
from ssft.errors import ConfigError, DataError
from ssft.report.show_data import make_grid


def cfg(**kw) -> DataConfig:
    return DataConfig(**kw)


# --------------------------------------------------------------------------------------------
# registry, digits


def test_registry_lists_every_loader_and_unknown_name_lists_them():
    names = set(available_datasets())
    assert {"digits", "mnist", "mnist_stripes_white", "mnist_stripes_yellow", "cifar10", "svhn"} <= names
    assert {"galaxy_mnist", "imagefolder", "csv", "ag_news"} <= names
    with pytest.raises(ConfigError, match="digits"):
        load_dataset(cfg(name="nope"))


def test_digits():
    ds = load_dataset(cfg(name="digits"))
    assert len(ds.train) == 1797 and ds.num_classes == 10 and ds.test is None
    x = ds.train.inputs.array
    assert x.dtype == np.uint8 and x.shape == (1797, 8, 8) and x.max() == 255
    assert np.bincount(ds.train.labels).min() > 150


# --------------------------------------------------------------------------------------------
# MNIST


def test_mnist_shared(shared_data):
    ds = load_dataset(cfg(name="mnist", root=str(shared_data / "mnist")))
    assert len(ds.train) == 10000 and ds.test is None
    raw_labels = gzip.decompress((shared_data / "mnist/t10k-labels-idx1-ubyte.gz").read_bytes())
    raw_images = gzip.decompress((shared_data / "mnist/t10k-images-idx3-ubyte.gz").read_bytes())
    assert int(ds.train.labels[0]) == raw_labels[8] == 7
    assert ds.train.labels[-1] == raw_labels[-1]
    assert ds.train.inputs[0].tobytes() == raw_images[16 : 16 + 784]
    counts = np.bincount(ds.train.labels).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _write_idx(path: Path, images: np.ndarray | None = None, labels: np.ndarray | None = None) -> None:
    if images is not None:
        n, h, w = images.shape
        data = (
            (2051).to_bytes(4, "big") + b"".join(v.to_bytes(4, "big") for v in (n, h, w)) + images.tobytes()
        )
    else:
        assert labels is not None
        data = (2049).to_bytes(4, "big") + len(labels).to_bytes(4, "big") + labels.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def test_mnist_train_and_test_raw_and_gz(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    y = np.arange(20) % 10
    _write_idx(tmp_path / "train-images-idx3-ubyte", images=x)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", labels=y)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images=x[:10])
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels=y[:10])
    ds = load_dataset(cfg(name="mnist", root=str(tmp_path)))
    assert len(ds.train) == 20 and ds.test is not None and len(ds.test) == 10
    np.testing.assert_array_equal(ds.train.inputs.array, x)
    np.testing.assert_array_equal(ds.test.labels, y[:10])


def test_mnist_truncated_file_names_it(tmp_path):
    x = np.zeros((10, 28, 28), dtype=np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", images=x)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels=np.arange(10))
    p = tmp_path / "t10k-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.*truncated"):
        load_dataset(cfg(name="mnist", root=str(tmp_path)))


def test_mnist_truncated_gzip_and_bad_magic(tmp_path):
    p = tmp_path / "t10k-labels-idx1-ubyte.gz"
    _write_idx(p, labels=np.arange(10))
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz"):
        read_idx(p, images=False)
    q = tmp_path / "x-ubyte"
    _write_idx(q, labels=np.arange(10))
    with pytest.raises(DataError, match="not an IDX images file"):
        read_idx(q, images=True)


def test_mnist_missing_root_and_files(tmp_path):
    with pytest.raises(DataError, match="data.root"):
        load_dataset(cfg(name="mnist"))
    with pytest.raises(DataError, match="data.download=true"):
        load_dataset(cfg(name="mnist", root=str(tmp_path / "absent")))
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", images=np.zeros((2, 28, 28), dtype=np.uint8))
    with pytest.raises(DataError, match="no matching t10k labels"):
        load_dataset(cfg(name="mnist", root=str(tmp_path)))


def test_offline_download_is_a_clear_error(tmp_path, monkeypatch):
    calls = []

    def offline(url, *a, **k):
        calls.append(url)
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataError) as e:
        load_dataset(cfg(name="mnist", root=str(tmp_path / "m"), download=True))
    msg = str(e.value)
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz" in msg
    assert "name resolution" in msg and "data.root" in msg
    assert len(calls) == 2  # both mirrors were tried
    assert not list((tmp_path / "m").glob("*.part"))
    for name in ("cifar10", "svhn", "galaxy_mnist"):
        with pytest.raises(DataError, match="offline"):
            load_dataset(cfg(name=name, root=str(tmp_path / name), download=True))


# --------------------------------------------------------------------------------------------
# stripes


def test_stripes_deterministic_seeded_and_aligned():
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 200, (50, 28, 28), dtype=np.uint8)
    w1, w2 = add_stripes(grey, 3, WHITE), add_stripes(grey, 3, WHITE)
    np.testing.assert_array_equal(w1, w2)
    assert not np.array_equal(w1, add_stripes(grey, 4, WHITE))
    y = add_stripes(grey, 3, YELLOW)
    rgb = np.repeat(grey[..., None], 3, axis=3)
    params = stripe_params(50, 3)
    masks = np.stack([stripe_mask(params, i, 28, 28) for i in range(50)])
    # Stripe pixels have exactly the colour, the others are the untouched grey, in both variants.
    assert (w1[masks] == 255).all() and (y[masks] == np.array(YELLOW, dtype=np.uint8)).all()
    np.testing.assert_array_equal(w1[~masks], rgb[~masks])
    np.testing.assert_array_equal(y[~masks], rgb[~masks])
    # grey < 200 everywhere, so "changed" is exactly the mask in both colours: aligned.
    np.testing.assert_array_equal((w1 != rgb).any(-1), (y != rgb).any(-1))
    assert 0.25 < masks.mean() < 0.42
    assert grey.shape == (50, 28, 28) and grey.dtype == np.uint8  # input untouched


def test_stripe_mask_is_striped_along_the_normal():
    p = {k: np.array([v]) for k, v in {"angle": 0.0, "width": 3.0, "period": 9.0, "phase": 0.0}.items()}
    m = stripe_mask(p, 0, 4, 18)
    assert m[:, :3].all() and not m[:, 3:9].any() and m[:, 9:12].all()


def test_striped_mnist_from_shared(shared_data):
    root = str(shared_data / "mnist")
    plain = load_dataset(cfg(name="mnist", root=root))
    w = load_dataset(cfg(name="mnist_stripes_white", root=root, stripes_seed=7))
    y = load_dataset(cfg(name="mnist_stripes_yellow", root=root, stripes_seed=7))
    assert w.train.inputs.array.shape == (10000, 28, 28, 3)
    np.testing.assert_array_equal(w.train.labels, plain.train.labels)
    np.testing.assert_array_equal(y.train.labels, plain.train.labels)
    ychg = (y.train.inputs.array != np.repeat(plain.train.inputs.array[..., None], 3, -1)).any(-1)
    wcol = (w.train.inputs.array == 255).all(-1)
    # every yellow-striped pixel is white in the white variant (same stripes)
    assert wcol[ychg].all()
    assert 0.28 < ychg.mean() < 0.39


# --------------------------------------------------------------------------------------------
# imagefolder


def _png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


def make_folder(root: Path) -> None:
    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        for i in range(3):
            _png(root / c / f"{i}.png", rng.integers(0, 256, (9, 7, 3), dtype=np.uint8))
    _png(root / "cat" / "grey.PNG", rng.integers(0, 256, (9, 7), dtype=np.uint8))
    _png(root / "dog" / "rgba.png", rng.integers(0, 256, (9, 7, 4), dtype=np.uint8))
    _png(root / "dog" / "sub" / "deep16.png", (rng.integers(0, 65535, (9, 7))).astype(np.uint16))
    (root / "dog" / "notes.txt").write_text("not an image")


def test_imagefolder_formats(tmp_path):
    make_folder(tmp_path / "d")
    ds = load_dataset(cfg(name="imagefolder", root=str(tmp_path / "d")))
    assert ds.classes == ["cat", "dog"] and len(ds.train) == 9
    assert isinstance(ds.train.inputs, FileImages)
    assert np.bincount(ds.train.labels).tolist() == [4, 5]
    for i in range(len(ds.train)):
        a = ds.train.inputs[i]
        assert a.dtype == np.uint8 and a.shape == (9, 7, 3)


def test_imagefolder_corrupt_file_raises_or_is_skipped(tmp_path):
    make_folder(tmp_path / "d")
    bad = tmp_path / "d" / "cat" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 definitely not a jpeg")
    ds = load_dataset(cfg(name="imagefolder", root=str(tmp_path / "d")))
    i = ds.train.inputs.paths.index(bad)
    with pytest.raises(DataError, match="broken.jpg"):
        ds.train.inputs[i]
    with pytest.warns(UserWarning, match="broken.jpg"):
        ds2 = load_dataset(cfg(name="imagefolder", root=str(tmp_path / "d"), skip_bad=True))
    assert len(ds2.train) == 9 and bad not in ds2.train.inputs.paths
    assert [p for p, _ in ds2.extra["bad_files"]] == [str(bad)]


def test_imagefolder_errors_and_unlabeled_dir(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class sub-folders"):
        load_dataset(cfg(name="imagefolder", root=str(tmp_path / "empty")))
    (tmp_path / "empty" / "a").mkdir()
    with pytest.raises(DataError, match="a.*hold no image"):
        load_dataset(cfg(name="imagefolder", root=str(tmp_path / "empty")))
    with pytest.raises(DataError, match="not a folder"):
        load_dataset(cfg(name="imagefolder", root=str(tmp_path / "missing")))
    with pytest.raises(DataError, match="data.root"):
        load_dataset(cfg(name="imagefolder"))
    make_folder(tmp_path / "d")
    # an unlabelled folder inside the root is not a class
    for i in range(4):
        _png(tmp_path / "d" / "unlabeled" / f"u{i}.jpg", np.full((5, 5, 3), i, dtype=np.uint8))
    ds = load_dataset(
        cfg(name="imagefolder", root=str(tmp_path / "d"), unlabeled_dir=str(tmp_path / "d" / "unlabeled"))
    )
    assert ds.classes == ["cat", "dog"] and len(ds.train) == 13
    assert (ds.train.labels == -1).sum() == 4


# --------------------------------------------------------------------------------------------
# csv


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_text_labels_names_ints_and_empty(tmp_path):
    p = _write(
        tmp_path / "t.csv", '\ufefftext,label\n"hello, world",pos\n"multi\nline",neg\nno label,\nx,pos\n'
    )
    ds = load_dataset(cfg(name="csv", path=str(p), text_column="text"))
    assert ds.modality == "text" and ds.classes == ["neg", "pos"]
    assert ds.train.inputs == ["hello, world", "multi\nline", "no label", "x"]
    assert ds.train.labels.tolist() == [1, 0, -1, 1]
    p = _write(tmp_path / "i.csv", "label,text\n1,a\n0,b\n,c\n2,d\n")
    ds = load_dataset(cfg(name="csv", path=str(p), text_column="text"))
    assert ds.classes == ["0", "1", "2"] and ds.train.labels.tolist() == [1, 0, -1, 2]


def test_csv_test_path_is_the_test_part_with_shared_classes(tmp_path):
    train = _write(tmp_path / "train.csv", "text,label\na,pos\nb,\nc,neg\n")
    test = _write(tmp_path / "test.csv", "label,text\nzeta,z\npos,y\n")
    ds = load_dataset(cfg(name="csv", path=str(train), text_column="text", test_path=str(test)))
    # classes come from both files; the test file's own column order is read by name
    assert ds.classes == ["neg", "pos", "zeta"]
    assert ds.train.labels.tolist() == [1, -1, 0]
    assert ds.test is not None and ds.test.inputs == ["z", "y"] and ds.test.labels.tolist() == [2, 1]
    _write(tmp_path / "bad.csv", "text,label\nq,\n")
    with pytest.raises(DataError, match="data row 1 has no label"):
        load_dataset(
            cfg(name="csv", path=str(train), text_column="text", test_path=str(tmp_path / "bad.csv"))
        )


def test_banking77_preset_uses_its_test_csv(shared_data):
    from ssft.config import load_config

    c = load_config("banking77-minilm")
    ds = load_dataset(c.data)
    assert len(ds.classes) == 77 and len(ds.train.inputs) == 10003 and len(ds.test.inputs) == 3080
    assert (ds.test.labels >= 0).all() and np.bincount(ds.test.labels).tolist() == [40] * 77


def test_csv_label_errors_name_the_row(tmp_path):
    p = _write(tmp_path / "t.csv", "text,label\na,0\nb,1\nc,5\n")
    with pytest.raises(DataError, match="label 5 in data row 3 is out of range"):
        load_dataset(cfg(name="csv", path=str(p), text_column="text"))
    p = _write(tmp_path / "t.csv", "text,label\na,0\nb,-1\n")
    with pytest.raises(DataError, match="label -1 in data row 2"):
        load_dataset(cfg(name="csv", path=str(p), text_column="text"))
    p = _write(tmp_path / "t.csv", "text,label\na,0\nb,cat\n")
    with pytest.raises(DataError, match="'cat' in data row 2 is not an integer"):
        load_dataset(cfg(name="csv", path=str(p), text_column="text"))
    p = _write(tmp_path / "t.csv", "text,label\na,1\nb,2\n")
    with pytest.raises(DataError, match="1-based"):
        load_dataset(cfg(name="csv", path=str(p), text_column="text"))


def test_csv_config_and_column_errors(tmp_path):
    p = _write(tmp_path / "t.csv", "sentence,y\na,0\n")
    with pytest.raises(DataError, match="no column 'text'.*'sentence', 'y'"):
        load_dataset(cfg(name="csv", path=str(p), text_column="text", label_column="y"))
    with pytest.raises(DataError, match="no column 'label'"):
        load_dataset(cfg(name="csv", path=str(p), text_column="sentence"))
    with pytest.raises(DataError, match="exactly one of"):
        load_dataset(cfg(name="csv", path=str(p)))
    with pytest.raises(DataError, match="data.path"):
        load_dataset(cfg(name="csv", text_column="sentence"))
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(cfg(name="csv", path=str(tmp_path / "nope.csv"), text_column="t"))
    _write(tmp_path / "e.csv", "")
    with pytest.raises(DataError, match="empty"):
        load_dataset(cfg(name="csv", path=str(tmp_path / "e.csv"), text_column="t"))
    (tmp_path / "latin.csv").write_bytes("text,label\ncaf\xe9,0\n".encode("latin-1"))
    with pytest.raises(DataError, match="UTF-8"):
        load_dataset(cfg(name="csv", path=str(tmp_path / "latin.csv"), text_column="text"))


def test_csv_images(tmp_path):
    _png(tmp_path / "img" / "a.png", np.zeros((4, 4, 3), dtype=np.uint8))
    _png(tmp_path / "img" / "b.png", np.full((4, 4), 9, dtype=np.uint8))
    absolute = _png(tmp_path / "elsewhere" / "c.png", np.zeros((4, 4, 3), dtype=np.uint8))
    p = _write(tmp_path / "x.csv", f"path,label\nimg/a.png,cat\nimg/b.png,dog\n{absolute},\n")
    ds = load_dataset(cfg(name="csv", path=str(p), image_column="path"))
    assert ds.modality == "image" and ds.classes == ["cat", "dog"] and ds.train.labels.tolist() == [0, 1, -1]
    assert ds.train.inputs[1].shape == (4, 4, 3)
    p = _write(tmp_path / "y.csv", "path,label\nimg/a.png,cat\nimg/missing.png,dog\n")
    with pytest.raises(DataError, match="data row 2.*missing.png"):
        load_dataset(cfg(name="csv", path=str(p), image_column="path"))
    ds = load_dataset(cfg(name="csv", path=str(p), image_column="path", skip_bad=True))
    assert len(ds.train) == 1 and "missing.png" in ds.extra["bad_files"][0][0]
    p = _write(tmp_path / "z.csv", "path,label\nimg/a.png,cat\nimg/a.png,dog\n")
    with pytest.warns(UserWarning, match="more than once"):
        load_dataset(cfg(name="csv", path=str(p), image_column="path"))


# --------------------------------------------------------------------------------------------
# ag_news


def test_ag_news_shared(shared_data):
    ds = load_dataset(cfg(name="ag_news", root=str(shared_data / "ag_news")))
    assert ds.modality == "text" and len(ds.train) == 7600 and ds.test is None
    assert ds.classes == ["World", "Sports", "Business", "Sci/Tech"]
    assert np.bincount(ds.train.labels).tolist() == [1900] * 4
    assert ds.train.inputs[0].startswith("Fears for T N pension after talks. Unions")


def test_ag_news_headerless_train_and_test(tmp_path):
    _write(tmp_path / "train.csv", '"3","Title","Desc, with comma"\n"1","T2","D2"\n')
    _write(tmp_path / "test.csv", "Class Index,Title,Description\n4,a,b\n")
    ds = load_dataset(cfg(name="ag_news", root=str(tmp_path)))
    assert ds.train.inputs == ["Title. Desc, with comma", "T2. D2"] and ds.train.labels.tolist() == [2, 0]
    assert ds.test is not None and ds.test.labels.tolist() == [3]
    _write(tmp_path / "test.csv", "5,a,b\n")
    with pytest.raises(DataError, match="data row 1"):
        load_dataset(cfg(name="ag_news", root=str(tmp_path)))
    with pytest.raises(DataError, match="no train.csv"):
        load_dataset(cfg(name="ag_news", root=str(tmp_path / "none")))


# --------------------------------------------------------------------------------------------
# cifar10, svhn, galaxy_mnist from generated files


def test_cifar10_fake_batches(tmp_path):
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    rng = np.random.default_rng(0)
    imgs = {}
    for name, n in (("data_batch_1", 6), ("data_batch_2", 4), ("test_batch", 5)):
        x = rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)
        imgs[name] = x
        with open(d / name, "wb") as f:
            pickle.dump({b"data": x, b"labels": list(range(n))}, f)
    ds = load_dataset(cfg(name="cifar10", root=str(tmp_path)))
    assert len(ds.train) == 10 and ds.test is not None and len(ds.test) == 5
    assert ds.classes[0] == "airplane" and ds.num_classes == 10
    a = ds.train.inputs[0]
    assert a.shape == (32, 32, 3)
    # channel-planar rows -> HWC: red plane first
    np.testing.assert_array_equal(a[:, :, 0].reshape(-1), imgs["data_batch_1"][0, :1024])
    np.testing.assert_array_equal(a[:, :, 2].reshape(-1), imgs["data_batch_1"][0, 2048:])
    (d / "data_batch_2").write_bytes(b"garbage")
    with pytest.raises(DataError, match="data_batch_2"):
        load_dataset(cfg(name="cifar10", root=str(tmp_path)))


def test_svhn_fake_mat(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (32, 32, 3, 7), dtype=np.uint8)
    y = np.array([[10], [1], [2], [3], [4], [5], [10]], dtype=np.uint8)
    savemat(tmp_path / "train_32x32.mat", {"X": x, "y": y})
    ds = load_dataset(cfg(name="svhn", root=str(tmp_path)))
    assert len(ds.train) == 7 and ds.test is None
    assert ds.train.labels.tolist() == [0, 1, 2, 3, 4, 5, 0]
    np.testing.assert_array_equal(ds.train.inputs[3], x[:, :, :, 3])
    with pytest.raises(DataError, match="test_32x32.mat"):
        load_dataset(cfg(name="svhn", root=str(tmp_path / "none")))


def test_galaxy_mnist_fake_hdf5(tmp_path):
    import h5py

    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("test", 4)):
        with h5py.File(tmp_path / f"{split}_dataset.hdf5", "w") as f:
            f["images"] = rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
            f["labels"] = np.arange(n) % 4
    ds = load_dataset(cfg(name="galaxy_mnist", root=str(tmp_path)))
    assert ds.classes == ["smooth_round", "smooth_cigar", "edge_on_disk", "unbarred_spiral"]
    assert len(ds.train) == 8 and ds.test is not None and len(ds.test) == 4
    assert ds.train.inputs[0].shape == (64, 64, 3)
    (tmp_path / "test_dataset.hdf5").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="test_dataset.hdf5"):
        load_dataset(cfg(name="galaxy_mnist", root=str(tmp_path)))


# --------------------------------------------------------------------------------------------
# show_data


def test_make_grid_shape_and_captions():
    imgs = [np.zeros((8, 6, 3), np.uint8), np.full((8, 6), 200, np.uint8), np.zeros((4, 4, 4), np.uint8)]
    g = make_grid(imgs, cols=2, pad=2)
    assert g.shape == (2 * 10, 2 * 8, 3) and g.dtype == np.uint8
    assert (g[0:8, 8:14] == 200).all()
    g2 = make_grid(imgs, cols=2, pad=2, captions=["cat", "", "dog"])
    assert g2.shape[0] == 2 * (10 + 12) and g2.shape[1] == 16
    with pytest.raises(ValueError):
        make_grid(imgs, cols=2, captions=["a"])


def test_show_data_text(tmp_path, shared_data):
    from ssft.config import Config
    from ssft.report.show_data import show_data

    c = Config()
    c.data = cfg(name="ag_news", root=str(shared_data / "ag_news"), labels_per_class=2)
    path = show_data(c, tmp_path / "out" / "grid.png", n=10)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert path.suffix == ".txt" and len(lines) == 11
    assert sum(line.startswith("[unlabelled]") for line in lines) == 5


def test_show_data_images_with_a_stub_backbone(tmp_path, monkeypatch):
    import ssft.backbones
    from ssft.backbones.base import ImagePreprocess, images_to_tensor
    from ssft.config import Config
    from ssft.report.show_data import show_data

    class Stub:
        preprocess = ImagePreprocess(size=16, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))

        def prepare(self, raw):
            return {"pixel_values": images_to_tensor(raw, self.preprocess)}

    monkeypatch.setattr(ssft.backbones, "build_backbone", lambda bcfg: Stub(), raising=False)
    c = Config()
    c.data = cfg(name="digits", labels_per_class=2)
    path = show_data(c, tmp_path / "grid.png", n=30)
    grid = np.asarray(Image.open(path))
    # a 2-line legend band (2 x 14 + 6 px), then 30 tiles enlarged 6x (16 -> 96 px) -> 6 columns x
    # 5 rows of (96 + 2 pad) x (96 + 2 pad + 12 caption): large enough to read, with a legend
    assert grid.shape == (34 + 5 * 110, 6 * 98, 3)
    assert (grid[:34] > 200).any()  # the legend's text
    # un-normalised pixels come back in 0..255: the first digit tile is the digit, not noise
    ds = load_dataset(c.data)
    assert grid[34 : 34 + 96, :96].max() > 200 and grid[34 : 34 + 96, :96].min() < 30
    assert len(ds.train) == 1797
