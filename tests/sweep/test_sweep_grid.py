"""``ssft sweep`` in this process: the grid key ``config`` (one preset per dataset, shared settings
on top), and run folders with readable names that stay inside the sweep folder."""

from __future__ import annotations

import yaml

from ssft.config import load_config
from ssft.sweep.grid import run_name, run_names, shared_settings, sweep


def write(path, data):
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_config_key_varies_the_preset_and_the_grid_files_keys_apply_on_top(tmp_path):
    a = write(
        tmp_path / "a.yaml",
        {
            "data": {"name": "digits", "holdout": 0.3},
            "method": {"name": "knn"},
            "train": {"progress": False},
            "backbone": {"name": "random:dinov2-tiny"},
        },  # fmt: skip
    )
    b = write(
        tmp_path / "b.yaml",
        {
            "data": {"name": "digits", "holdout": 0.5},
            "method": {"name": "knn"},
            "train": {"progress": False},
            "backbone": {"name": "random:dinov2-tiny"},
        },  # fmt: skip
    )
    grid_file = write(
        tmp_path / "grid.yaml",
        {
            "description": "x",
            "data": {"labels_per_class": 2},
            "grid": {"config": [a, b], "method.name": ["knn"]},
        },
    )
    assert shared_settings(grid_file) == ["data.labels_per_class=2"]
    rows = sweep(
        grid_file,
        tmp_path / "runs",
        grid={"config": [a, b], "method.name": ["knn"]},
        seeds=[0],
        verbose=False,
    )
    assert [r["config"] for r in rows] == [a, b]
    assert [r["num_labeled"] for r in rows] == [20, 20]  # the grid file's k=2 reached both presets
    # each run kept its own preset's holdout: 30 % and 50 % of 1,797 digits
    assert rows[0]["num_test"] < rows[1]["num_test"]
    assert abs(rows[1]["num_test"] - 0.5 * 1797) < 10
    # read back when run again (resumable), still tagged with its preset
    again = sweep(
        grid_file,
        tmp_path / "runs",
        grid={"config": [a, b], "method.name": ["knn"]},
        seeds=[0],
        verbose=False,
    )
    assert [r["config"] for r in again] == [a, b]
    assert [r["test_accuracy"] for r in again] == [r["test_accuracy"] for r in rows]


def test_shared_settings_round_trip_through_load_config():
    sets = shared_settings("grid-effnet-trainable")
    cfg = load_config("cifar10-effnet", [*sets, "backbone.frozen=false"])
    assert cfg.backbone.image_size == 64 and cfg.train.steps == 150 and cfg.train.backbone_lr == 1e-4
    assert cfg.data.name == "imagefolder" and cfg.backbone.name == "effnet:lite0"


def test_sweep_folders_have_readable_names():
    assert run_name({"method.name": "supervised", "data.labels_per_class": "1"}, 0) == "supervised_k1_seed0"
    assert run_name({"backbone.name": "hf:facebook/dinov2-small", "train.lr": "0.01"}, 2) == (
        "dinov2-small_lr-0.01_seed2"
    )
    # two values that shorten to one name: the full names are kept
    names = run_names([{"backbone.name": "hf:a/m"}, {"backbone.name": "hf:b/m"}], [0])
    assert len(set(names)) == 2


def test_sweep_names_cannot_escape_the_sweep_folder():
    name = run_name({"data.root": "../../etc"}, 0)
    assert "/" not in name and not name.startswith(".")
