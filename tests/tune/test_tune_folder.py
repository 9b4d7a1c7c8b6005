"""A search folder resumes only its own search: same settings (speed-only keys aside), one process."""

from __future__ import annotations

import json

import pytest

from ssft.errors import ConfigError
from ssft.tune.folder import check_same_search, folder_lock, search_overrides, search_spec


def test_speed_only_keys_may_change_on_resume_and_others_may_not(tmp_path):
    spec = search_spec("demo", ["train.lr=0.1", "train.threads=2"], [0, 1], 0.25, 0)
    assert search_overrides(spec["overrides"]) == ["train.lr=0.1"]
    (tmp_path / "tune.json").write_text(json.dumps({**spec, "method": "knn", "trials": 4}))
    check_same_search(
        tmp_path, search_spec("demo", ["train.lr=0.1", "train.progress=false"], [0, 1], 0.25, 0)
    )
    with pytest.raises(ConfigError, match="holds a different search .*seeds: was \\[0, 1\\], now \\[0\\]"):
        check_same_search(tmp_path, search_spec("demo", ["train.lr=0.1"], [0], 0.25, 0))


def test_a_second_search_in_the_same_folder_is_refused(tmp_path):
    pytest.importorskip("fcntl")
    with (
        folder_lock(tmp_path),
        pytest.raises(ConfigError, match="another ssft tune is running"),
        folder_lock(tmp_path),
    ):
        pass
    with folder_lock(tmp_path):  # released: the next search may start
        pass
